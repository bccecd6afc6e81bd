import path from 'node:path'

import type {Tracer} from '@opentelemetry/api'

import {pfHome} from '../paths.js'
import {markHeldOpenByExport} from '../util/process.js'
import {TraceStore} from '../store/store.js'
import {PfError} from '../errors.js'
import {Resource, serviceName} from '../contract/attributes.js'
import type {ConfigReader, DestinationContext, LinkRef, ResolvedDestination} from '../contract/destination.js'
import {type ServiceEndpoint, type TraceLinks, defaultServicePort, isInteractive, localTraceUrl, readServiceEndpoint} from './links.js'
import {type DrainResult, OutboxDrainer} from './outbox.js'
import {TimeOrderedIdGenerator} from './trace-ids.js'
import {
  type RegisteredProvider,
  type RegistryLoader,
  checkedDestination,
  describeThrown,
  displayDestination,
  isLocalDestination,
  isTracingDisabled,
  parseDestinationList,
  unknownDestinationError,
} from './registry.js'

export interface RemoteDestination {
  provider: RegisteredProvider
  destination: ResolvedDestination
  drainer: OutboxDrainer
}

export interface TracingOptions {
  registry: RegistryLoader
  /** The effective config; trace.destination says where spans go. */
  config: ConfigReader
  collection: string
  cwd?: string
  flowDir?: string
  env?: NodeJS.ProcessEnv
  /** Extra resource attributes (e.g. collection.id). */
  resource?: Record<string, string>
  /** How soon a finished line's spans are written (StoreSpanProcessor's rootFlushMs; default 100 ms). */
  lineFlushMs?: number
}

/** What a command reports about export at its end. */
export interface ExportReport {
  destination: string
  delivered: number
  parked: number
  pending: number
  lastError?: string
  /** The wait ended with an export still unanswered (its spans count as pending). */
  inFlight?: boolean
}

/** Seconds a command waits for remote destinations at its end when neither a flag nor trace.export_wait says. */
export const defaultExportWaitSeconds = 1

/** The end-of-command wait for remote destinations, in ms: the flag, else trace.export_wait, else 1 s. */
export const exportWaitMs = (config: ConfigReader, flagSeconds?: number): number =>
  (flagSeconds ?? Number(config.get('trace.export_wait') ?? defaultExportWaitSeconds)) * 1000

/**
 * One command's tracing: the resolved destinations, the store, the OTel provider. `undefined` when
 * trace.destination is `none` (no tracer is installed at all).
 */
export class TracingSession {
  private constructor(
    readonly store: TraceStore,
    readonly tracer: Tracer,
    readonly remotes: RemoteDestination[],
    private readonly provider: {shutdown(): Promise<void>},
    private readonly processor: {whenRecorded(): Promise<void>; flushNow(): void},
  ) {}

  /** Resolves once every span ended so far is in the local store (see StoreSpanProcessor.whenRecorded). */
  spansRecorded(): Promise<void> {
    return this.processor.whenRecorded()
  }

  /** Writes the spans ended so far now instead of with the next batch (for when nothing more is coming). */
  recordSpansNow(): void {
    this.processor.flushNow()
  }

  /**
   * Loads OpenTelemetry ahead of user code: once a flow's TypeScript hook (tsx) is registered, every CommonJS
   * module loaded after it pays for the hook, and OpenTelemetry is mostly CommonJS. No-op when tracing is off.
   */
  static async preload(config: ConfigReader): Promise<void> {
    if (isTracingDisabled(config.string('trace.destination'))) return
    await Promise.all([import('./otel-sdk.js'), import('./store-processor.js')])
  }

  static async start(options: TracingOptions): Promise<TracingSession | undefined> {
    const destination = options.config.string('trace.destination')
    if (isTracingDisabled(destination)) return undefined
    const env = options.env ?? process.env
    const ctx: DestinationContext = {cwd: options.cwd ?? process.cwd(), flowDir: options.flowDir, config: options.config, env}
    const remotes = await resolveRemoteDestinations(options.registry, destination ?? 'local', ctx)

    const store = TraceStore.open(pfHome(env))
    const remoteEntries = remotes.map(r => {
      store.saveDestination(r.destination)
      const drainer = new OutboxDrainer(store, r.destination, () => r.provider.exporter(r.destination, ctx))
      return {...r, drainer}
    })

    // OpenTelemetry is loaded only here: commands that do not trace never pay for it.
    const [{NodeTracerProvider, resourceFromAttributes}, {StoreSpanProcessor}] = await Promise.all([
      import('./otel-sdk.js'),
      import('./store-processor.js'),
    ])
    const resource = resourceFromAttributes({
      [Resource.serviceName]: serviceName,
      [Resource.collection]: options.collection,
      ...Object.assign({}, ...remoteEntries.map(r => r.destination.resource ?? {})),
      ...options.resource,
    })
    const processor = new StoreSpanProcessor(
      store,
      remoteEntries.map(r => r.destination.key),
      {rootFlushMs: options.lineFlushMs, onRecorded: () => remoteEntries.forEach(r => r.drainer.kick())},
    )
    const provider = new NodeTracerProvider({resource, spanProcessors: [processor], idGenerator: new TimeOrderedIdGenerator()})
    provider.register()
    return new TracingSession(store, provider.getTracer('promptflow'), remoteEntries, provider, processor)
  }

  /**
   * The local viewer's link and the portal links remote destinations offer for a collection/run/trace. On an
   * interactive terminal with no viewer running, `startViewer` (given by the caller: the service lives above
   * this layer) starts one in the background first, so the link works.
   */
  async links(ref: LinkRef, startViewer?: () => Promise<ServiceEndpoint | undefined>): Promise<TraceLinks> {
    let endpoint = readServiceEndpoint(pfHome())
    let viewerStarted = false
    if (!endpoint && startViewer && isInteractive()) {
      endpoint = await startViewer()
      viewerStarted = endpoint !== undefined
    }
    const portal = await Promise.all(this.remotes.map(r => r.provider.links?.(r.destination, ref) ?? []))
    return {
      local: localTraceUrl(endpoint ?? {host: '127.0.0.1', port: defaultServicePort}, ref),
      viewerRunning: endpoint !== undefined,
      ...(viewerStarted ? {viewerStarted} : {}),
      portal: portal.flat(),
    }
  }

  /**
   * Ends the session: records what is buffered, then gives remote destinations until `waitMs` to take their
   * outbox. What is left stays pending for `pf trace sync`.
   */
  async finish(waitMs: number, options: {exitIfHeld?: boolean} = {}): Promise<ExportReport[]> {
    await this.provider.shutdown()
    const deadline = Date.now() + waitMs
    const reports = await Promise.all(
      this.remotes.map(async r => {
        const {inFlight, ...result}: DrainResult & {lastError?: string; inFlight?: boolean} = await r.drainer.drainUntil(deadline)
        return {destination: r.destination.value, ...result, ...(inFlight ? {inFlight} : {})}
      }),
    )
    this.store.close()
    if (options.exitIfHeld) endIfHeldOpen(reports)
    return reports
  }
}

/**
 * An export that never answers keeps its socket open, and with it a finished command. A pf command (not a user
 * process that called startTrace) ends once nothing but that socket is left; its spans wait in the outbox and the
 * claim of this dead process is taken back at once by the next pf command. Call it when the command's work is done.
 */
export const endIfHeldOpen = (reports: ExportReport[]): void => {
  if (!reports.some(r => r.inFlight)) return
  // PfCommand ends the process as soon as the command's output is written; this timer is the backstop (an error on
  // the way out, a caller that is not a command).
  markHeldOpenByExport()
  setTimeout(() => process.exit(), 250).unref()
}

/** Resolves each remote entry of trace.destination through its provider (`local` is the store itself). */
export const resolveRemoteDestinations = async (
  loadRegistry: RegistryLoader,
  value: string,
  ctx: DestinationContext,
): Promise<Array<{provider: RegisteredProvider; destination: ResolvedDestination}>> => {
  const entries = parseDestinationList(value).filter(entry => !isLocalDestination(entry))
  if (entries.length === 0) return []
  const registry = await loadRegistry()
  const remotes: Array<{provider: RegisteredProvider; destination: ResolvedDestination}> = []
  for (const entry of entries) {
    const provider = registry.find(entry)
    if (!provider) throw unknownDestinationError(entry, registry)
    let destination: ResolvedDestination
    try {
      destination = checkedDestination(await provider.resolve(entry, ctx), provider)
    } catch (error) {
      if (error instanceof PfError) throw error
      throw new PfError('destination_unavailable', `${displayDestination(entry)} (plugin ${provider.plugin}): ${describeThrown(error)}`, 1)
    }
    if (!remotes.some(r => r.destination.key === destination.key)) remotes.push({provider, destination})
  }
  return remotes
}

/** The collection name of a flow: its folder name (prompt flow's default for flow test). */
export const collectionForFlow = (flowDir: string): string => path.basename(path.resolve(flowDir))
