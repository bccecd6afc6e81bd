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
  /** The OTLP endpoint OpenTelemetry SDKs in this process (and its children) send to, when pf's collector runs. */
  otlpEndpoint?: string
}

let active: Promise<TraceHandle> | undefined

/**
 * Points OpenTelemetry SDKs at pf's collector (as prompt flow's start_trace does): sets
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, when unset and the service runs, and adds the collection to
 * OTEL_RESOURCE_ATTRIBUTES. Child processes inherit both.
 */
const pointOtelSdks = async (collection: string): Promise<string | undefined> => {
  const env = process.env
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const [{pfHome}, {collectorUrl, readServiceEndpoint}] = await Promise.all([import('../paths.js'), import('../tracing/links.js')])
  const endpoint = readServiceEndpoint(pfHome())
  if (!endpoint) return undefined
  env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = collectorUrl(endpoint)
  const resource = env.OTEL_RESOURCE_ATTRIBUTES ?? ''
  if (!/(^|,)\s*collection=/.test(resource))
    env.OTEL_RESOURCE_ATTRIBUTES = [resource, `collection=${encodeURIComponent(collection)}`].filter(Boolean).join(',')
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
}

/**
 * Turns tracing on for a plain Node script, with the destinations configured in pf.yaml (user and project),
 * exactly as `pf flow test` would: the script's `trace()` functions and its openai calls become spans, and
 * OpenTelemetry SDKs in the process are pointed at pf's collector. Calling it again returns the same handle.
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
    const collection = options.collection ?? path.basename(process.cwd())
    const session: TracingSession | undefined = await TracingSession.start({
      registry: registryLoader(() => runDestinationHooks()),
      config: reader,
      collection,
    })
    let otlpEndpoint: string | undefined
    if (session) {
      // The script's own openai calls (pf instruments openai when it loads a flow; a plain script loads none).
      const {instrumentOpenAI, moduleFormat} = await import('../tracing/openai-instrument.js')
      const script = process.argv[1] ? path.resolve(process.argv[1]) : undefined
      await instrumentOpenAI(script ? path.dirname(script) : process.cwd(), script ? [moduleFormat(script)] : ['esm', 'cjs'])
      otlpEndpoint = await pointOtelSdks(collection)
    }
    let finished: Promise<ExportReport[]> | undefined
    const finish = () => (finished ??= session ? session.finish(options.exportWaitMs ?? 10_000) : Promise.resolve([]))
    process.once('beforeExit', () => void finish())
    return {finish, ...(otlpEndpoint ? {otlpEndpoint} : {})}
  })()
  return active
}
