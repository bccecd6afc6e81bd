import {randomUUID} from 'node:crypto'

import {SpanStatusCode, trace as otelTrace} from '@opentelemetry/api'

import {PfError} from '../errors.js'
import {recordError, recordInputs, recordOutput} from '../sdk/trace.js'
import {type LineAttributes, withLineAttributes} from '../tracing/line-context.js'
import {Attr} from '../contract/attributes.js'
import type {LoadedFlow} from './types.js'

export interface LineError {
  type: string
  message: string
  stack?: string
}

export interface LineResult {
  lineRunId: string
  /** Undefined when tracing is off. */
  traceId?: string
  status: 'Completed' | 'Failed'
  output?: unknown
  error?: LineError
  startTime: string
  endTime: string
}

export interface RunLineOptions {
  /** Extra attributes for every span of the line (batch_run_id, line_number, referenced.*). */
  attributes?: LineAttributes
  node?: string
  lineRunId?: string
}

/** A line's output is stored as JSON: a BigInt or a cycle is an error naming the flow, never a silent null. */
const checkOutput = (flow: LoadedFlow, output: unknown): void => {
  try {
    JSON.stringify(output)
  } catch (error) {
    throw new PfError(
      'output_unrepresentable',
      `Flow ${flow.name} returned an output that cannot be stored as JSON (${(error as Error).message}); return plain data.`,
      1,
    )
  }
}

export const toLineError = (error: unknown): LineError => {
  const err = error instanceof Error ? error : new Error(String(error))
  return {type: err.name, message: err.message, stack: err.stack}
}

/**
 * Runs one line of a flow under a root span (span_type Flow) that carries the line's attributes, which every
 * span of the line inherits. Never throws for a failing line: the error is in the result and on the span.
 */
export const runLine = async (flow: LoadedFlow, inputs: Record<string, unknown>, options: RunLineOptions = {}): Promise<LineResult> => {
  const lineRunId = options.lineRunId ?? randomUUID()
  // prompt flow marks every span of a line with what ran it (dag / flex).
  const attributes: LineAttributes = {[Attr.lineRunId]: lineRunId, execution_target: flow.kind, ...options.attributes}
  const startTime = new Date().toISOString()
  return withLineAttributes(attributes, () =>
    otelTrace.getTracer('promptflow').startActiveSpan(flow.name, async span => {
      const recording = span.isRecording()
      const traceId = recording ? span.spanContext().traceId : undefined
      // The reference's flow root span has no `function` (a flex entry's span is its function's).
      if (recording) recordInputs(span, flow.kind === 'dag' ? undefined : flow.name, 'Flow', inputs)
      try {
        const output = await flow.invoke(inputs, {node: options.node})
        checkOutput(flow, output)
        if (recording) recordOutput(span, output)
        return {lineRunId, traceId, status: 'Completed' as const, output, startTime, endTime: new Date().toISOString()}
      } catch (error) {
        if (recording) recordError(span, error)
        else span.setStatus({code: SpanStatusCode.ERROR})
        return {lineRunId, traceId, status: 'Failed' as const, error: toLineError(error), startTime, endTime: new Date().toISOString()}
      } finally {
        span.end()
      }
    }),
  )
}
