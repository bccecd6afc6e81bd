import path from 'node:path'

import {ConfigService} from '../config/service.js'
import {ExitCode, PfError} from '../errors.js'
import type {TraceLinks} from '../tracing/links.js'
import type {RegistryLoader} from '../tracing/registry.js'
import {type ExportReport, TracingSession, collectionForFlow} from '../tracing/session.js'
import {type LineError, runLine} from './executor.js'
import {resolveInputs} from './inputs.js'
import {loadFlow} from './load.js'

export interface FlowTestOptions {
  flow: string
  inputs: Record<string, unknown>
  init?: Record<string, unknown>
  node?: string
  /** Seconds to wait for remote destinations at the end. */
  exportWaitSeconds: number
  cwd?: string
}

export interface FlowTestResult {
  flow: string
  status: 'Completed' | 'Failed'
  inputs: Record<string, unknown>
  output?: unknown
  error?: LineError
  traceId?: string
  lineRunId: string
  collection: string
  links?: TraceLinks
  export: ExportReport[]
}

/** Keeps the frames of a user error that point into the flow folder (pf's own frames are noise to them). */
export const userStack = (error: LineError, flowDir: string): string | undefined => {
  const frames = (error.stack ?? '').split('\n').filter(l => /^\s+at /.test(l) && l.includes(flowDir))
  return frames.length > 0 ? frames.join('\n') : undefined
}

/** `pf flow test`: one line of a flow, traced to the configured destinations. */
export const testFlow = async (registry: RegistryLoader, options: FlowTestOptions): Promise<FlowTestResult> => {
  const cwd = options.cwd ?? process.cwd()
  const {reader: config} = await new ConfigService(registry, cwd).load()
  await TracingSession.preload(config)
  const flow = await loadFlow(path.resolve(cwd, options.flow), {init: options.init})
  if (options.node && flow.kind !== 'dag') throw new PfError('invalid_arguments', '--node runs one node of a DAG flow; this is a flex flow.')
  if (options.node && !flow.nodes?.includes(options.node))
    throw new PfError('invalid_arguments', `No node "${options.node}" in ${flow.file}; nodes are: ${(flow.nodes ?? []).join(', ')}.`)
  // A single node takes its own inputs (or the flow inputs / node outputs it references), not the flow's.
  const inputs = options.node ? options.inputs : resolveInputs(flow, options.inputs)
  const collection = collectionForFlow(flow.dir)
  const session = await TracingSession.start({registry, config, collection, cwd, flowDir: flow.dir})

  const line = await runLine(flow, inputs, {node: options.node})

  const exportReports = session ? await session.finish(options.exportWaitSeconds * 1000) : []
  const links = session && line.traceId ? await session.links({collection, traceId: line.traceId}) : undefined
  const result: FlowTestResult = {
    flow: flow.dir,
    status: line.status,
    inputs,
    output: line.output,
    error: line.error,
    traceId: line.traceId,
    lineRunId: line.lineRunId,
    collection,
    links,
    export: exportReports,
  }
  if (line.status === 'Failed') {
    const {error, ...rest} = result
    throw new PfError('flow_failed', `Flow failed: ${line.error!.type}: ${line.error!.message}`, ExitCode.failure, rest, userStack(line.error!, flow.dir))
  }
  return result
}
