import {trace as otelTrace} from '@opentelemetry/api'

import {type LineError, toLineError} from '../flow/executor.js'
import type {LoadedFlow} from '../flow/types.js'
import {collectMetrics} from '../sdk/metrics.js'
import {recordError, recordInputs, recordOutput} from '../sdk/trace.js'
import {Attr} from '../contract/attributes.js'
import {withLineAttributes} from '../tracing/line-context.js'

export interface AggregationResult {
  metrics: Record<string, number>
  error?: LineError
}

/**
 * Runs the flow's aggregation once over the completed lines (in line order) and collects what it logs with
 * `logMetric`. Traced as its own root span of the run (line_run_id `<run>_aggregation`, no line_number).
 */
export const runAggregation = async (
  flow: LoadedFlow,
  lines: Array<{inputs: Record<string, unknown>; output: unknown}>,
  runName: string,
): Promise<AggregationResult> => {
  // prompt flow marks aggregation spans is_aggregation (and, like every span, with the execution target).
  const attributes = {
    [Attr.batchRunId]: runName,
    [Attr.lineRunId]: `${runName}_aggregation`,
    is_aggregation: true,
    execution_target: flow.kind,
  }
  let error: LineError | undefined
  const {metrics} = await collectMetrics(() =>
    withLineAttributes(attributes, () =>
      otelTrace.getTracer('promptflow').startActiveSpan('aggregate', async span => {
        if (span.isRecording()) recordInputs(span, 'aggregate', 'Function', {lines: lines.length})
        try {
          const output = await flow.aggregate!(lines)
          if (span.isRecording()) recordOutput(span, output ?? null)
        } catch (err) {
          error = toLineError(err)
          if (span.isRecording()) recordError(span, err)
        } finally {
          span.end()
        }
      }),
    ),
  )
  return {metrics, error}
}
