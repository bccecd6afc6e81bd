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
  /** The OTLP endpoint OpenTelemetry SDKs in this process (and its children) send to, when pf's collector runs. */
  otlpEndpoint?: string
}

let active: Promise<TraceHandle> | undefined

/**
 * Points OpenTelemetry SDKs at pf's collector (as prompt flow's start_trace does): sets
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when unset, to the running service (started in the background on an
 * interactive terminal), and adds the collection to OTEL_RESOURCE_ATTRIBUTES. Child processes inherit both.
 */
const pointOtelSdks = async (oclif: {root: string}, config: Record<string, unknown>, collection: string): Promise<string | undefined> => {
  const env = process.env
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const [{pfHome}, {isInteractive, readServiceEndpoint}, {collectorUrl, startViewerForLinks}] = await Promise.all([
    import('../config/files.js'),
    import('../tracing/links.js'),
    import('../service/lifecycle.js'),
  ])
  const endpoint = readServiceEndpoint(pfHome()) ?? (isInteractive() ? await startViewerForLinks(oclif, config) : undefined)
  if (!endpoint) return undefined
  env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = collectorUrl(endpoint)
  const resource = env.OTEL_RESOURCE_ATTRIBUTES ?? ''
  if (!/(^|,)\s*collection=/.test(resource)) env.OTEL_RESOURCE_ATTRIBUTES = [resource, `collection=${encodeURIComponent(collection)}`].filter(Boolean).join(',')
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
}

/**
 * Turns tracing on for a plain Node script, with the destinations configured in pf.yaml (user and project),
 * exactly as `pf flow test` would: the script's `trace()` functions and its openai calls become spans, and
 * OpenTelemetry SDKs in the process are pointed at pf's collector. Calling it again returns the same handle.
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
    const collection = options.collection ?? path.basename(process.cwd())
    const session: TracingSession | undefined = await TracingSession.start({oclif, destination, config: merged, collection})
    let otlpEndpoint: string | undefined
    if (session) {
      // The script's own openai calls (pf instruments openai when it loads a flow; a plain script loads none).
      const {instrumentOpenAI, moduleFormat} = await import('../llm/instrument.js')
      const script = process.argv[1] ? path.resolve(process.argv[1]) : undefined
      await instrumentOpenAI(script ? path.dirname(script) : process.cwd(), script ? [moduleFormat(script)] : ['esm', 'cjs'])
      otlpEndpoint = await pointOtelSdks(oclif, merged, collection)
    }
    let finished: Promise<ExportReport[]> | undefined
    const finish = () => (finished ??= session ? session.finish(options.exportWaitMs ?? 10_000) : Promise.resolve([]))
    process.once('beforeExit', () => void finish())
    return {finish, ...(otlpEndpoint ? {otlpEndpoint} : {})}
  })()
  return active
}
