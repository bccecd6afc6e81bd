import type http from 'node:http'
import {promisify} from 'node:util'
import zlib from 'node:zlib'

import {loadConfig} from '../config/service.js'
import {Resource} from '../contract/attributes.js'
import type {ConfigReader, DestinationContext, ResolvedDestination, SpanRecord} from '../contract/destination.js'
import {TraceStore} from '../store/store.js'
import {normalizeLlmSpan} from '../tracing/genai.js'
import {OutboxDrainer} from '../tracing/outbox.js'
import {type RegistryLoader, displayDestination, isLocalDestination, isTracingDisabled} from '../tracing/registry.js'
import {TokenRollup, maskAttributes} from '../tracing/span-record.js'
import type * as Otlp from './otlp.js'
import {collectorPath} from './paths.js'

/**
 * The largest request body the collector takes, as sent and once decompressed: 32 MiB. An OpenTelemetry SDK's
 * batch (512 spans) is far smaller even with long prompts; a larger body gets 413 and the SDK should send
 * smaller batches.
 */
export const maxBodyBytes = 32 * 2 ** 20

const gunzip = promisify(zlib.gunzip)
const configTtlMs = 1000
/** A destination that failed to resolve (e.g. not signed in to Azure) is tried again after this long. */
const resolveRetryMs = 30_000
/** Retries the outbox waits for (429/503, network loss) are picked up this often while the service runs. */
const drainIntervalMs = 5000

export interface CollectorOptions {
  home: string
  /** The destination registry (plugins included), for remote destinations. */
  registry: RegistryLoader
  /** Where pf.yaml (project) is looked up; the folder the service was started from. */
  cwd: string
  env: NodeJS.ProcessEnv
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly rpcCode: number,
    message: string,
  ) {
    super(message)
  }
}

interface Remote {
  destination: ResolvedDestination
  drainer: OutboxDrainer
}

/** A remote destination value → its resolution (cached; failures expire so a later sign-in takes effect). */
type Resolution = {remote: Remote} | {error: string; until: number}

const workspaceValue = (resource: Record<string, unknown>): string | undefined => {
  const sub = resource[Resource.subscriptionId]
  const rg = resource[Resource.resourceGroup]
  const ws = resource[Resource.workspaceName]
  if (typeof sub !== 'string' || typeof rg !== 'string' || typeof ws !== 'string' || !sub || !rg || !ws) return undefined
  return `azureml://subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${ws}`
}

/**
 * The local service's OTLP/HTTP trace receiver (`POST /v1/traces`): protobuf or JSON, optionally gzip. Spans
 * are recorded exactly as pf's own: masked, GenAI/AI SDK/OpenInference LLM calls given prompt flow's names,
 * token counts rolled up, written to the local store with an outbox row for every remote destination — the
 * configured `trace.destination`, plus the Azure ML workspace named by a span's resource (`subscription.id`,
 * `resource_group.name`, `workspace.name`) — and sent from there by outbox drainers in this process.
 */
export class Collector {
  private store: TraceStore | undefined
  private config: {at: number; reader: ConfigReader; destination: string} | undefined
  private readonly resolutions = new Map<string, Promise<Resolution>>()
  private readonly rollup = new TokenRollup()
  private readonly timer: NodeJS.Timeout
  private otlp: Promise<typeof Otlp> | undefined

  constructor(private readonly options: CollectorOptions) {
    this.timer = setInterval(() => this.kickAll(), drainIntervalMs).unref()
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === 'application/json'
    // protobufjs loads with the first request to this route, never with the viewer.
    const otlp = await (this.otlp ??= import('./otlp.js'))
    try {
      const result = await this.receive(req, json, otlp)
      const body = otlp.encodeResponse(result.rejected, result.message, json)
      res.writeHead(200, {'Content-Type': json ? 'application/json' : 'application/x-protobuf'})
      res.end(body)
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      // An unread body of a declared (bounded) length is read and dropped, so the client sees the answer; an
      // unbounded (chunked) one ends the connection instead.
      const declared = Number(req.headers['content-length'] ?? Number.NaN)
      const drain = !req.complete && declared <= 4 * maxBodyBytes
      const close = !req.complete && !drain
      const extra: Record<string, string> = {...(error.status === 405 ? {Allow: 'POST'} : {}), ...(close ? {Connection: 'close'} : {})}
      res.writeHead(error.status, {'Content-Type': json ? 'application/json' : 'application/x-protobuf', ...extra})
      res.end(otlp.encodeStatus(error.rpcCode, error.message, json))
      if (drain) req.resume()
    }
  }

  private async receive(req: http.IncomingMessage, json: boolean, otlp: typeof Otlp): Promise<{rejected: number; message: string}> {
    const {RpcCode} = otlp
    if (req.method !== 'POST') throw new HttpError(405, RpcCode.unimplemented, `${collectorPath} takes POST (OTLP/HTTP).`)
    // SDKs send no Origin; a web page does: no site may write spans into the local store from a browser.
    const origin = req.headers.origin
    if (origin !== undefined && !/^https?:\/\/(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/i.test(origin))
      throw new HttpError(
        403,
        RpcCode.permissionDenied,
        'Requests from web pages (an Origin header) are not accepted; send from an OpenTelemetry SDK.',
      )
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (contentType !== 'application/x-protobuf' && contentType !== 'application/json')
      throw new HttpError(
        415,
        RpcCode.invalidArgument,
        `Content-Type must be application/x-protobuf or application/json (OTLP/HTTP), not "${contentType || 'none'}".`,
      )
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim()
    if (encoding !== 'gzip' && encoding !== 'identity')
      throw new HttpError(415, RpcCode.invalidArgument, `Content-Encoding "${encoding}" is not supported; send gzip or no encoding.`)

    const settings = await this.settings()
    if (isTracingDisabled(settings.destination))
      throw new HttpError(
        404,
        RpcCode.notFound,
        'Tracing is off (trace.destination is "none"): pf does not collect spans. Turn it on with `pf config set trace.destination=local`.',
      )

    let body = await readBody(req)
    if (encoding === 'gzip') {
      try {
        body = await gunzip(body, {maxOutputLength: maxBodyBytes})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError)
          throw new HttpError(
            413,
            RpcCode.resourceExhausted,
            `The decompressed body is over the collector's limit of ${maxBodyBytes / 2 ** 20} MiB; send smaller batches.`,
          )
        throw new HttpError(400, RpcCode.invalidArgument, `The body is not valid gzip: ${(error as Error).message}.`)
      }
    }
    let decoded
    try {
      decoded = json ? otlp.decodeJson(body) : otlp.decodeProtobuf(body)
    } catch (error) {
      if (error instanceof otlp.MalformedRequestError)
        throw new HttpError(400, RpcCode.invalidArgument, `Malformed OTLP request: ${error.message}.`)
      throw error
    }
    const warnings = await this.record(decoded.spans, settings)
    const message = [
      ...(decoded.rejected > 0 ? [`${decoded.rejected} span(s) rejected: ${decoded.reasons.join('; ')}`] : []),
      ...warnings,
    ].join('. ')
    return {rejected: decoded.rejected, message}
  }

  /** Stores spans (with outbox rows) and starts sending; returns warnings about destinations that could not be used. */
  private async record(spans: SpanRecord[], settings: {reader: ConfigReader; destination: string}): Promise<string[]> {
    if (spans.length === 0) return []
    const records = childrenFirst(spans).map(span => {
      const normalized = normalizeLlmSpan(span.attributes, span.events)
      span.attributes = maskAttributes(normalized, this.rollup.cumulative(span.context.span_id, span.parent_id, normalized))
      for (const event of span.events) event.attributes = maskAttributes(event.attributes)
      return span
    })

    const warnings: string[] = []
    const configured = (
      await Promise.all(
        settings.destination
          .split(',')
          .map(v => v.trim())
          .filter(Boolean)
          .map(value => this.remote(value, settings.reader, warnings)),
      )
    ).filter((r): r is Remote => r !== undefined)

    // Spans naming a workspace in their resource also go there (as the reference's collector does).
    const groups = new Map<string, {remotes: Remote[]; spans: SpanRecord[]}>()
    for (const record of records) {
      const workspace = workspaceValue(record.resource.attributes)
      const groupKey = workspace ?? ''
      let group = groups.get(groupKey)
      if (!group) {
        const extra = workspace ? await this.remote(workspace, settings.reader, warnings) : undefined
        const remotes = extra && !configured.some(r => r.destination.key === extra.destination.key) ? [...configured, extra] : configured
        group = {remotes, spans: []}
        groups.set(groupKey, group)
      }
      group.spans.push(record)
    }
    const store = this.openStore()
    store.db.transaction(() => {
      for (const group of groups.values())
        store.recordSpans(
          group.spans,
          group.remotes.map(r => r.destination.key),
        )
    })()
    for (const group of groups.values()) for (const remote of group.remotes) remote.drainer.kick()
    return warnings
  }

  /** The remote destination for one trace.destination entry (undefined for `local`), resolved once. */
  private async remote(value: string, reader: ConfigReader, warnings: string[]): Promise<Remote | undefined> {
    if (isLocalDestination(value)) return undefined
    let pending = this.resolutions.get(value)
    if (!pending) {
      pending = this.resolve(value, reader)
      this.resolutions.set(value, pending)
    }
    const resolution = await pending
    if ('remote' in resolution) return resolution.remote
    if (Date.now() >= resolution.until) this.resolutions.delete(value)
    warnings.push(`stored locally but not forwarded to ${displayDestination(value)}: ${resolution.error}`)
    return undefined
  }

  private async resolve(value: string, reader: ConfigReader): Promise<Resolution> {
    const {resolveRemoteDestinations} = await import('../tracing/session.js')
    const ctx: DestinationContext = {cwd: this.options.cwd, config: reader, env: this.options.env}
    try {
      const [entry] = await resolveRemoteDestinations(this.options.registry, value, ctx)
      if (!entry) return {error: `"${value}" is not a remote destination`, until: Date.now() + resolveRetryMs}
      const store = this.openStore()
      store.saveDestination(entry.destination)
      const drainer = new OutboxDrainer(store, entry.destination, () => entry.provider.exporter(entry.destination, ctx))
      return {remote: {destination: entry.destination, drainer}}
    } catch (error) {
      const reason = (error as Error).message.split('\n')[0]
      console.error(`${new Date().toISOString()} collector: cannot use destination ${displayDestination(value)}: ${reason}`)
      return {error: reason, until: Date.now() + resolveRetryMs}
    }
  }

  /** trace.destination as pf.yaml says now (re-read at most once a second, so `pf config set` applies at once). */
  private async settings(): Promise<{reader: ConfigReader; destination: string}> {
    if (!this.config || Date.now() - this.config.at > configTtlMs) {
      const {reader} = await loadConfig(this.options.cwd, this.options.env)
      this.config = {at: Date.now(), reader, destination: reader.string('trace.destination') ?? 'local'}
    }
    return this.config
  }

  private openStore(): TraceStore {
    this.store ??= TraceStore.open(this.options.home)
    return this.store
  }

  private kickAll(): void {
    for (const pending of this.resolutions.values()) void pending.then(r => ('remote' in r ? r.remote.drainer.kick() : undefined))
  }

  /** Stops the retry timer and gives the outbox up to `waitMs` to go out; what is left waits for `pf trace sync`. */
  async close(waitMs = 2000): Promise<void> {
    clearInterval(this.timer)
    const deadline = Date.now() + waitMs
    const resolved = await Promise.all(this.resolutions.values())
    await Promise.all(resolved.map(r => ('remote' in r ? r.remote.drainer.drainUntil(deadline).catch(() => undefined) : undefined)))
    this.store?.close()
  }
}

/** Reads a request body up to the limit: 413 at once on a larger Content-Length, or as soon as the stream passes it. */
const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const tooLarge = () =>
      new HttpError(413, 8, `The request body is over the collector's limit of ${maxBodyBytes / 2 ** 20} MiB; send smaller batches.`)
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) return reject(tooLarge())
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBodyBytes) {
        req.removeAllListeners('data')
        req.resume()
        reject(tooLarge())
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
    req.on('error', reject)
  })

/**
 * The spans of a batch with every span after its children (post-order of the trees within the batch), so token
 * counts roll up to parents sent in the same batch. End times cannot order them: SDKs' clocks drift between spans.
 */
const childrenFirst = (spans: SpanRecord[]): SpanRecord[] => {
  const ids = new Set(spans.map(s => s.context.span_id))
  const children = new Map<string, SpanRecord[]>()
  const tops: SpanRecord[] = []
  for (const span of spans) {
    if (span.parent_id && ids.has(span.parent_id) && span.parent_id !== span.context.span_id) {
      const list = children.get(span.parent_id)
      if (list) list.push(span)
      else children.set(span.parent_id, [span])
    } else tops.push(span)
  }
  const out: SpanRecord[] = []
  const seen = new Set<SpanRecord>()
  // Iterative post-order: a deep trace must not overflow the stack.
  for (const top of tops) {
    const stack: Array<{span: SpanRecord; expanded: boolean}> = [{span: top, expanded: false}]
    while (stack.length > 0) {
      const entry = stack.pop()!
      if (entry.expanded) {
        out.push(entry.span)
        continue
      }
      if (seen.has(entry.span)) continue
      seen.add(entry.span)
      stack.push({span: entry.span, expanded: true})
      for (const child of children.get(entry.span.context.span_id) ?? []) stack.push({span: child, expanded: false})
    }
  }
  // Spans in a parent cycle (malformed, never reached from a top) are still kept.
  for (const span of spans) if (!seen.has(span)) out.push(span)
  return out
}
