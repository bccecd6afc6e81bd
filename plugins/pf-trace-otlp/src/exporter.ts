import type {ExportResult, SpanExporter, SpanRecord} from 'pf/destination'

import {toReadableSpans} from './readable-span.js'
import {type HttpAnswer, postBody} from './transport.js'

export type OtlpEncoding = 'protobuf' | 'json'

export interface OtlpExporterOptions {
  url: string
  encoding: OtlpEncoding
  /** Called for every batch, so `${env:VAR}` placeholders are read at export time. May throw (unset variable). */
  headers: () => Record<string, string>
  /** Send bodies gzip-compressed (Content-Encoding: gzip; every OTLP/HTTP receiver must accept it). */
  gzip?: boolean
  /** For https: NODE_EXTRA_CA_CERTS is read from here. */
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

/** Status codes an OTLP/HTTP receiver uses for "try again later" (OTLP spec), plus 5xx server trouble. */
const retryableStatus = (status: number): boolean => status === 429 || status >= 500

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
const retryAfterMs = (header: string | null): number | undefined => {
  if (!header) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/** The receiver's own explanation from a JSON error body (google.rpc.Status `message`), one line, short. */
const reasonFrom = (answer: HttpAnswer): string => {
  try {
    if (!(answer.headers['content-type'] ?? '').includes('json')) return ''
    const message = (JSON.parse(answer.body.toString('utf8')) as {message?: unknown}).message
    return typeof message === 'string' && message.trim() ? `: ${message.replace(/\s+/g, ' ').trim().slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

const networkReason = (error: unknown): string => {
  const err = error as Error & {code?: string}
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out'
  return err.message || err.code || String(error)
}

/**
 * Sends pf span batches to one OTLP/HTTP endpoint. Encoding is OpenTelemetry's own (otlp-transformer's
 * ProtobufTraceSerializer / JsonTraceSerializer, the encoders the OTLP exporters use); retries are pf's (its
 * durable outbox), so this makes exactly one request per batch and only says whether to retry.
 *
 * Bodies are gzip-compressed when asked (the default for https); https trusts Node's CAs, the system's and
 * NODE_EXTRA_CA_CERTS (see transport.ts).
 *
 * Delivery is at least once: a batch is sent again only when no 2xx was seen for it, with the same trace and span
 * ids, so a resend after a lost response can at worst repeat spans a backend can recognise by id.
 * Error texts name the URL and status, never header values.
 */
export const createOtlpExporter = async (options: OtlpExporterOptions): Promise<SpanExporter> => {
  const [{ProtobufTraceSerializer, JsonTraceSerializer}, {resourceFromAttributes}] = await Promise.all([
    import('@opentelemetry/otlp-transformer'),
    import('@opentelemetry/resources'),
  ])
  const serializer = options.encoding === 'json' ? JsonTraceSerializer : ProtobufTraceSerializer
  const contentType = options.encoding === 'json' ? 'application/json' : 'application/x-protobuf'
  const where = options.url

  return {
    async export(spans: SpanRecord[]): Promise<ExportResult> {
      let headers: Record<string, string>
      try {
        headers = options.headers()
      } catch (error) {
        // A missing environment variable can be fixed; keep the spans pending until it is.
        return {code: 'retryable', reason: (error as Error).message}
      }
      let body: Uint8Array
      try {
        body = serializer.serializeRequest(toReadableSpans(spans, resourceFromAttributes))!
      } catch (error) {
        return {code: 'fatal', reason: `cannot encode spans for OTLP: ${(error as Error).message}`}
      }
      let answer: HttpAnswer
      try {
        answer = await postBody(where, body, {
          headers: {...headers, 'content-type': contentType},
          gzip: options.gzip ?? false,
          timeoutMs: options.timeoutMs ?? 10_000,
          env: options.env ?? process.env,
        })
      } catch (error) {
        return {code: 'retryable', reason: `cannot reach ${where}: ${networkReason(error)}`}
      }
      if (answer.status >= 200 && answer.status < 300) {
        const rejected = partiallyRejected(answer.body, serializer)
        // Spans a receiver rejected in a 2xx will never be accepted: resending does not help, so they count as done.
        return rejected ? {code: 'ok', warning: `${where} dropped ${rejected} span(s) (partial success)`} : {code: 'ok'}
      }
      const reason = `${where} answered HTTP ${answer.status}${reasonFrom(answer)}`
      const retryAfter = answer.headers['retry-after']
      if (retryableStatus(answer.status))
        return {code: 'retryable', reason, retryAfterMs: retryAfterMs(typeof retryAfter === 'string' ? retryAfter : null)}
      return {code: 'fatal', reason}
    },
  }
}

const partiallyRejected = (
  body: Buffer,
  serializer: {deserializeResponse(data: Uint8Array): {partialSuccess?: {rejectedSpans?: number | string}}},
): number => {
  try {
    const data = new Uint8Array(body)
    if (data.length === 0) return 0
    return Number(serializer.deserializeResponse(data).partialSuccess?.rejectedSpans ?? 0)
  } catch {
    return 0
  }
}
