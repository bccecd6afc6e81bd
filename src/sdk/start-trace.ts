import path from 'node:path'
import {fileURLToPath} from 'node:url'

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
    const [{Config}, {ConfigService}, {TracingSession}] = await Promise.all([
      import('@oclif/core'),
      import('../config/service.js'),
      import('../tracing/session.js'),
    ])
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
    const oclif = await Config.load(root)
    const config = new ConfigService(oclif)
    const {merged} = await config.load()
    const destination = (merged.trace as Record<string, unknown> | undefined)?.destination as string | undefined
    const session: TracingSession | undefined = await TracingSession.start({
      oclif,
      destination,
      config: merged,
      collection: options.collection ?? path.basename(process.cwd()),
    })
    let finished: Promise<ExportReport[]> | undefined
    const finish = () => (finished ??= session ? session.finish(options.exportWaitMs ?? 10_000) : Promise.resolve([]))
    process.once('beforeExit', () => void finish())
    return {finish}
  })()
  return active
}
