/** Where logMetric puts values; on globalThis so a second copy of the SDK (a flow's own `pf` install) shares it. */
const collectorKey = Symbol.for('pf.run.metrics')

export type MetricCollector = (name: string, value: number) => void

const globals = globalThis as unknown as Record<symbol, MetricCollector | undefined>

/**
 * Logs a run metric (prompt flow's `log_metric`). Call it from a flow's aggregation (a flex flow's exported
 * `aggregate(lines)`, or a DAG aggregation node): `pf run create` stores the metrics with the run and
 * `pf run show-metrics` prints them. Outside a run's aggregation it does nothing.
 */
export const logMetric = (name: string, value: number): void => {
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError('logMetric: the metric name must be a non-empty string')
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new TypeError(`logMetric: the value of "${name}" must be a finite number, got ${String(value)}`)
  globals[collectorKey]?.(name, value)
}

/** Collects metrics logged while `fn` runs (pf's side; one aggregation at a time per process). */
export const collectMetrics = async <T>(fn: () => Promise<T>): Promise<{result: T; metrics: Record<string, number>}> => {
  const metrics: Record<string, number> = {}
  const previous = globals[collectorKey]
  globals[collectorKey] = (name, value) => {
    metrics[name] = value
  }
  try {
    return {result: await fn(), metrics}
  } finally {
    globals[collectorKey] = previous
  }
}
