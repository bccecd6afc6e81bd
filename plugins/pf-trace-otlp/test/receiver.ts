import type {IncomingMessage, ServerResponse} from 'node:http'
/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1 for tests. Requests are decoded independently of the plugin's
 * encoder: protobuf with OpenTelemetry's own wire reader (otlp-transformer's ProtobufReader) walking the
 * opentelemetry-proto field numbers, JSON with JSON.parse (OTLP/JSON: hex ids, string int64s).
 */
import {type IncomingHttpHeaders, type Server, createServer} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {gunzipSync} from 'node:zlib'

// Deep import: the reader is not on the package's index, but it is the transformer's own protobuf wire reader.
import {ProtobufReader} from '@opentelemetry/otlp-transformer/build/src/common/protobuf/protobuf-reader.js'

export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  startTimeUnixNano: bigint
  endTimeUnixNano: bigint
  attributes: Record<string, unknown>
  events: Array<{name: string; timeUnixNano: bigint; attributes: Record<string, unknown>}>
  status: {code: number; message: string}
  resource: Record<string, unknown>
  scope: string
}

export interface ReceivedRequest {
  /** Whether the receiver answered 2xx (only then do its spans count as delivered). */
  accepted: boolean
  path: string
  contentType: string
  headers: IncomingHttpHeaders
  spans: ReceivedSpan[]
}

// ---- protobuf (opentelemetry-proto: collector/trace/v1, trace/v1, common/v1, resource/v1) ----

type Fields = (field: number, wireType: number, r: ProtobufReader, buf: Uint8Array) => boolean

const readMessage = (buf: Uint8Array, onField: Fields): void => {
  const r = new ProtobufReader(buf)
  while (!r.isAtEnd()) {
    const {fieldNumber, wireType} = r.readTag()
    if (!onField(fieldNumber, wireType, r, buf)) r.skip(wireType)
  }
}

const fixed64 = (r: ProtobufReader, buf: Uint8Array): bigint => {
  const value = new DataView(buf.buffer, buf.byteOffset + r.pos, 8).getBigUint64(0, true)
  r.pos += 8
  return value
}
const float64 = (r: ProtobufReader, buf: Uint8Array): number => {
  const value = new DataView(buf.buffer, buf.byteOffset + r.pos, 8).getFloat64(0, true)
  r.pos += 8
  return value
}
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

const anyValue = (buf: Uint8Array): unknown => {
  let value: unknown
  readMessage(buf, (f, w, r, b) => {
    if (f === 1) value = r.readString()
    else if (f === 2) value = r.readVarint() !== 0
    else if (f === 3) value = r.readVarint()
    else if (f === 4) value = float64(r, b)
    else if (f === 5) {
      const values: unknown[] = []
      readMessage(r.readBytes(), (f2, w2, r2) => (f2 === 1 ? (values.push(anyValue(r2.readBytes())), true) : false))
      value = values
    } else if (f === 6) {
      const out: Record<string, unknown> = {}
      readMessage(r.readBytes(), (f2, w2, r2) => (f2 === 1 ? (keyValue(r2.readBytes(), out), true) : false))
      value = out
    } else if (f === 7) value = r.readBytes()
    else return false
    return true
  })
  return value
}

const keyValue = (buf: Uint8Array, into: Record<string, unknown>): void => {
  let key = ''
  let value: unknown
  readMessage(buf, (f, w, r) => {
    if (f === 1) key = r.readString()
    else if (f === 2) value = anyValue(r.readBytes())
    else return false
    return true
  })
  into[key] = value
}

const protoSpan = (buf: Uint8Array, resource: Record<string, unknown>, scope: string): ReceivedSpan => {
  const span: ReceivedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    events: [],
    status: {code: 0, message: ''},
    resource,
    scope,
  }
  readMessage(buf, (f, w, r, b) => {
    if (f === 1) span.traceId = hex(r.readBytes())
    else if (f === 2) span.spanId = hex(r.readBytes())
    else if (f === 4) span.parentSpanId = hex(r.readBytes())
    else if (f === 5) span.name = r.readString()
    else if (f === 6) span.kind = r.readVarint()
    else if (f === 7) span.startTimeUnixNano = fixed64(r, b)
    else if (f === 8) span.endTimeUnixNano = fixed64(r, b)
    else if (f === 9) keyValue(r.readBytes(), span.attributes)
    else if (f === 11) {
      const event = {name: '', timeUnixNano: 0n, attributes: {} as Record<string, unknown>}
      readMessage(r.readBytes(), (f2, w2, r2, b2) => {
        if (f2 === 1) event.timeUnixNano = fixed64(r2, b2)
        else if (f2 === 2) event.name = r2.readString()
        else if (f2 === 3) keyValue(r2.readBytes(), event.attributes)
        else return false
        return true
      })
      span.events.push(event)
    } else if (f === 15)
      readMessage(r.readBytes(), (f2, w2, r2) => {
        if (f2 === 2) span.status.message = r2.readString()
        else if (f2 === 3) span.status.code = r2.readVarint()
        else return false
        return true
      })
    else return false
    return true
  })
  return span
}

export const decodeProtobufRequest = (buf: Uint8Array): ReceivedSpan[] => {
  const spans: ReceivedSpan[] = []
  readMessage(buf, (f, w, r) => {
    if (f !== 1) return false
    const resource: Record<string, unknown> = {}
    const scopeSpans: Uint8Array[] = []
    readMessage(r.readBytes(), (f2, w2, r2) => {
      if (f2 === 1) readMessage(r2.readBytes(), (f3, w3, r3) => (f3 === 1 ? (keyValue(r3.readBytes(), resource), true) : false))
      else if (f2 === 2) scopeSpans.push(r2.readBytes())
      else return false
      return true
    })
    for (const ss of scopeSpans) {
      let scope = ''
      const raw: Uint8Array[] = []
      readMessage(ss, (f3, w3, r3) => {
        if (f3 === 1) readMessage(r3.readBytes(), (f4, w4, r4) => (f4 === 1 ? ((scope = r4.readString()), true) : false))
        else if (f3 === 2) raw.push(r3.readBytes())
        else return false
        return true
      })
      spans.push(...raw.map(s => protoSpan(s, resource, scope)))
    }
    return true
  })
  return spans
}

// ---- JSON (OTLP/JSON) ----

type JsonAny = {
  stringValue?: string
  boolValue?: boolean
  intValue?: string | number
  doubleValue?: number
  arrayValue?: {values?: JsonAny[]}
  kvlistValue?: {values?: JsonKeyValue[]}
}
type JsonKeyValue = {key: string; value: JsonAny}

const jsonAny = (v: JsonAny): unknown => {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonAny)
  if (v.kvlistValue) return jsonAttributes(v.kvlistValue.values)
  return undefined
}
const jsonAttributes = (list: JsonKeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map(kv => [kv.key, jsonAny(kv.value)]))

export const decodeJsonRequest = (text: string): ReceivedSpan[] => {
  const body = JSON.parse(text) as {resourceSpans?: any[]}
  return (body.resourceSpans ?? []).flatMap(rs =>
    (rs.scopeSpans ?? []).flatMap((ss: any) =>
      (ss.spans ?? []).map((s: any): ReceivedSpan => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        startTimeUnixNano: BigInt(s.startTimeUnixNano),
        endTimeUnixNano: BigInt(s.endTimeUnixNano),
        attributes: jsonAttributes(s.attributes),
        events: (s.events ?? []).map((e: any) => ({
          name: e.name,
          timeUnixNano: BigInt(e.timeUnixNano),
          attributes: jsonAttributes(e.attributes),
        })),
        status: {code: s.status?.code ?? 0, message: s.status?.message ?? ''},
        resource: jsonAttributes(rs.resource?.attributes),
        scope: ss.scope?.name ?? '',
      })),
    ),
  )
}

// ---- the server ----

export interface Reply {
  status: number
  headers?: Record<string, string>
  body?: string
}

export class OtlpReceiver {
  readonly requests: ReceivedRequest[] = []
  /** What the next requests get; default 200 with an empty protobuf/JSON response. */
  reply: Reply = {status: 200}
  private server: Server | undefined

  private constructor(
    public port: number,
    private readonly tls?: {cert: string; key: string},
  ) {}

  /** Starts on `port` (0: any free port); over TLS with the given certificate. Gzip bodies are inflated. */
  static async start(port = 0, tls?: {cert: string; key: string}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(port, tls)
    await receiver.listen()
    return receiver
  }

  get url(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Spans of accepted requests. */
  get spans(): ReceivedSpan[] {
    return this.requests.filter(r => r.accepted).flatMap(r => r.spans)
  }

  async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c))
      req.on('end', () => {
        const raw = Buffer.concat(chunks)
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw
        const contentType = req.headers['content-type'] ?? ''
        const reply = this.reply
        const spans = contentType.includes('json') ? decodeJsonRequest(body.toString('utf8')) : decodeProtobufRequest(new Uint8Array(body))
        this.requests.push({accepted: reply.status < 300, path: req.url ?? '', contentType, headers: req.headers, spans})
        res.writeHead(reply.status, {
          'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf',
          ...reply.headers,
        })
        res.end(reply.body ?? (contentType.includes('json') ? '{}' : ''))
      })
    }
    const server: Server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  async close(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
}
