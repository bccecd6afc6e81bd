import path from 'node:path'

import type {ExportReport, TracingSession} from '../tracing/session.js'

export interface StartTraceOptions {
  /** Collection the traces are grouped under; default: the current folder's name. */
  collection?: string
  /** How long to wait for remote destinations at exit (ms); default 10 s. */
  exportWaitMs?: number
}

export interface TraceHandle {
  /** Records what is buffered and waits (bounded) for remote export; also runs automatically at exit. */
  finish(): Promise<ExportReport[]>
}

let active: Promise<TraceHandle> | undefined

/**
 * Turns tracing on for a plain Node script, with the destinations configured in pf.yaml (user and project),
 * exactly as `pf flow test` would. Calling it again returns the same handle.
 */
export const startTrace = (options: StartTraceOptions = {}): Promise<TraceHandle> => {
  active ??= (async () => {
    // No oclif here: plugins are found where `pf plugins install` put them (src/plugins/discover.ts).
    const [{loadConfig}, {TracingSession}, {registryLoader}, {runDestinationHooks}] = await Promise.all([
      import('../config/service.js'),
      import('../tracing/session.js'),
      import('../tracing/registry.js'),
      import('../plugins/discover.js'),
    ])
    const {reader} = await loadConfig()
    const session: TracingSession | undefined = await TracingSession.start({
      registry: registryLoader(() => runDestinationHooks()),
      config: reader,
      collection: options.collection ?? path.basename(process.cwd()),
    })
    let finished: Promise<ExportReport[]> | undefined
    const finish = () => (finished ??= session ? session.finish(options.exportWaitMs ?? 10_000) : Promise.resolve([]))
    process.once('beforeExit', () => void finish())
    return {finish}
  })()
  return active
}
