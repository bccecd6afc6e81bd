import protobuf from 'protobufjs/light.js'

import type {SpanRecord} from '../contract/destination.js'
import {formatHrTime} from '../tracing/span-record.js'

/**
 * OTLP/HTTP trace requests (ExportTraceServiceRequest), protobuf or JSON, turned into pf span records; and the
 * ExportTraceServiceResponse. The protobuf schema is the subset of opentelemetry-proto (v1, trace + common +
 * resource) a receiver reads, as a protobufjs descriptor: protobufjs builds its decoder from it at first use.
 * Imported only by the collector route, so nothing else pays for protobufjs.
 */

const keyValue = {fields: {key: {type: 'string', id: 1}, value: {type: 'AnyValue', id: 2}}}
const descriptor = {
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: {fields: {resourceSpans: {rule: 'repeated', type: 'ResourceSpans', id: 1}}},
        ExportTraceServiceResponse: {fields: {partialSuccess: {type: 'ExportTracePartialSuccess', id: 1}}},
        RpcStatus: {fields: {code: {type: 'int32', id: 1}, message: {type: 'string', id: 2}}},
        ExportTracePartialSuccess: {fields: {rejectedSpans: {type: 'int64', id: 1}, errorMessage: {type: 'string', id: 2}}},
        ResourceSpans: {
          fields: {
            resource: {type: 'Resource', id: 1},
            scopeSpans: {rule: 'repeated', type: 'ScopeSpans', id: 2},
            schemaUrl: {type: 'string', id: 3},
          },
        },
        Resource: {fields: {attributes: {rule: 'repeated', type: 'KeyValue', id: 1}}},
        ScopeSpans: {
          fields: {
            scope: {type: 'InstrumentationScope', id: 1},
            spans: {rule: 'repeated', type: 'Span', id: 2},
            schemaUrl: {type: 'string', id: 3},
          },
        },
        InstrumentationScope: {fields: {name: {type: 'string', id: 1}, version: {type: 'string', id: 2}}},
        Span: {
          fields: {
            traceId: {type: 'bytes', id: 1},
            spanId: {type: 'bytes', id: 2},
            traceState: {type: 'string', id: 3},
            parentSpanId: {type: 'bytes', id: 4},
            name: {type: 'string', id: 5},
            kind: {type: 'int32', id: 6},
            startTimeUnixNano: {type: 'fixed64', id: 7},
            endTimeUnixNano: {type: 'fixed64', id: 8},
            attributes: {rule: 'repeated', type: 'KeyValue', id: 9},
            events: {rule: 'repeated', type: 'Event', id: 11},
            links: {rule: 'repeated', type: 'Link', id: 13},
            status: {type: 'Status', id: 15},
          },
        },
        Event: {
          fields: {
            timeUnixNano: {type: 'fixed64', id: 1},
            name: {type: 'string', id: 2},
            attributes: {rule: 'repeated', type: 'KeyValue', id: 3},
          },
        },
        Link: {
          fields: {
            traceId: {type: 'bytes', id: 1},
            spanId: {type: 'bytes', id: 2},
            traceState: {type: 'string', id: 3},
            attributes: {rule: 'repeated', type: 'KeyValue', id: 4},
          },
        },
        Status: {fields: {message: {type: 'string', id: 2}, code: {type: 'int32', id: 3}}},
        KeyValue: keyValue,
        AnyValue: {
          oneofs: {value: {oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue']}},
          fields: {
            stringValue: {type: 'string', id: 1},
            boolValue: {type: 'bool', id: 2},
            intValue: {type: 'int64', id: 3},
            doubleValue: {type: 'double', id: 4},
            arrayValue: {type: 'ArrayValue', id: 5},
            kvlistValue: {type: 'KeyValueList', id: 6},
            bytesValue: {type: 'bytes', id: 7},
          },
        },
        ArrayValue: {fields: {values: {rule: 'repeated', type: 'AnyValue', id: 1}}},
        KeyValueList: {fields: {values: {rule: 'repeated', type: 'KeyValue', id: 1}}},
      },
    },
  },
}

let types: {request: protobuf.Type; response: protobuf.Type; status: protobuf.Type} | undefined
const schema = () => {
  if (!types) {
    const root = protobuf.Root.fromJSON(descriptor)
    types = {
      request: root.lookupType('otlp.ExportTraceServiceRequest'),
      response: root.lookupType('otlp.ExportTraceServiceResponse'),
      status: root.lookupType('otlp.RpcStatus'),
    }
  }
  return types
}

/** A body that is not an ExportTraceServiceRequest (the receiver answers 400). */
export class MalformedRequestError extends Error {}

export interface DecodedRequest {
  spans: SpanRecord[]
  rejected: number
  /** Why spans were rejected (the first few reasons). */
  reasons: string[]
}

type Long = {low: number; high: number}
/** fixed64 / int64 as protobufjs gives them (Long, or a number when small), or a JSON string/number. */
type Int64 = Long | number | string | null | undefined

const twoTo32 = 2n ** 32n
const nanosOf = (value: Int64): bigint | undefined => {
  if (value === null || value === undefined || value === '') return undefined
  if (typeof value === 'object') return BigInt(value.high >>> 0) * twoTo32 + BigInt(value.low >>> 0)
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined
  return /^\d{1,20}$/.test(value) ? BigInt(value) : undefined
}

const billion = 1_000_000_000n
const timeText = (value: Int64): string | undefined => {
  const nanos = nanosOf(value)
  if (nanos === undefined || nanos === 0n) return undefined
  return formatHrTime([Number(nanos / billion), Number(nanos % billion)])
}

const int64Number = (value: Int64): number | string => {
  const n = nanosOf(value)
  if (typeof value === 'object' && value && value.high < 0) {
    // Negative int64 (two's complement).
    return Number(BigInt.asIntN(64, BigInt(value.high >>> 0) * twoTo32 + BigInt(value.low >>> 0)))
  }
  if (typeof value === 'string' && value.startsWith('-')) return Number(value)
  if (n === undefined) return typeof value === 'number' ? value : 0
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString()
}

const zeroHex: Record<number, string> = {8: '0'.repeat(16), 16: '0'.repeat(32)}

/** Protobuf ids are bytes; OTLP/JSON ids are hex strings. Empty → undefined; wrong length → null (invalid). */
const idHex = (value: unknown, bytes: number): string | undefined | null => {
  // protobufjs gives an unset bytes field as its (empty) default, which may be a plain array.
  if (value === undefined || value === null || (value as {length?: number}).length === 0) return undefined
  let hex: string
  if (typeof value === 'string') {
    if (value === '') return undefined
    hex = value.toLowerCase()
    if (!/^[0-9a-f]+$/.test(hex)) return null
  } else if (value instanceof Uint8Array) {
    if (value.length !== bytes) return null
    const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
    return text === zeroHex[bytes] ? null : text
  } else return null
  if (hex.length !== bytes * 2 || /^0+$/.test(hex)) return null
  return hex
}

/** The loose shapes of decoded messages: protobufjs messages, or whatever JSON a client sent (checked as read). */
type Fields = Record<string, unknown>
const fields = (value: unknown): Fields => (value && typeof value === 'object' ? (value as Fields) : {})
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

const anyValue = (value: unknown, json: boolean): unknown => {
  if (!value || typeof value !== 'object') return undefined
  const v = value as Fields
  // The one member set: JSON has one key; a decoded protobufjs message owns only the fields it read (its
  // defaults live on the prototype), which is cheaper to ask than its oneof getter.
  let which: string | undefined
  for (const key in v) {
    if (Object.hasOwn(v, key)) {
      which = key
      break
    }
  }
  switch (which) {
    case 'stringValue':
      return String(v.stringValue)
    case 'boolValue':
      return Boolean(v.boolValue)
    case 'intValue':
      return int64Number(v.intValue as Int64)
    case 'doubleValue':
      return Number(v.doubleValue)
    case 'bytesValue':
      return v.bytesValue instanceof Uint8Array ? Buffer.from(v.bytesValue).toString('base64') : String(v.bytesValue)
    case 'arrayValue':
      return list(fields(v.arrayValue).values).map(item => anyValue(item, json))
    case 'kvlistValue':
      return attributesOf(fields(v.kvlistValue).values, json)
    default:
      return undefined
  }
}

const attributesOf = (items: unknown, json: boolean): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const item of list(items)) {
    const kv = fields(item)
    if (typeof kv.key !== 'string') continue
    const value = anyValue(kv.value, json)
    if (value !== undefined) out[kv.key] = value
  }
  return out
}

/** OTLP SpanKind (0 unspecified, 1 internal … 5 consumer) → prompt flow's text form. */
const kindNames = ['SpanKind.INTERNAL', 'SpanKind.INTERNAL', 'SpanKind.SERVER', 'SpanKind.CLIENT', 'SpanKind.PRODUCER', 'SpanKind.CONSUMER']
const statusNames = ['Unset', 'Ok', 'Error'] as const

const enumNumber = (value: unknown, names: string[]): number => {
  if (typeof value === 'number') return value
  // OTLP/JSON must use numbers, but the protobuf JSON mapping also allows the enum names.
  const index = names.indexOf(String(value))
  return index < 0 ? 0 : index
}
const jsonKindNames = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
]
const jsonStatusNames = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR']

/** Resource attributes that say which collection spans belong to: `collection`, else the service name, else `default`. */
const withCollection = (resource: Record<string, unknown>): Record<string, unknown> => {
  if (typeof resource.collection === 'string' && resource.collection !== '') return resource
  const service = resource['service.name']
  const named = typeof service === 'string' && service !== '' && !service.startsWith('unknown_service')
  return {...resource, collection: named ? service : 'default'}
}

const convert = (request: unknown, json: boolean): DecodedRequest => {
  const spans: SpanRecord[] = []
  let rejected = 0
  const reasons: string[] = []
  const reject = (reason: string) => {
    rejected++
    if (reasons.length < 3 && !reasons.includes(reason)) reasons.push(reason)
  }
  const resourceSpans = fields(request).resourceSpans
  if (resourceSpans !== undefined && !Array.isArray(resourceSpans)) throw new MalformedRequestError('resourceSpans is not a list')
  for (const rs of list(resourceSpans).map(fields)) {
    const resource = {
      attributes: withCollection(attributesOf(fields(rs.resource).attributes, json)),
      schema_url: String(rs.schemaUrl ?? ''),
    }
    for (const ss of list(rs.scopeSpans).map(fields)) {
      for (const s of list(ss.spans).map(fields)) {
        const traceId = idHex(s.traceId, 16)
        const spanId = idHex(s.spanId, 8)
        const parentId = idHex(s.parentSpanId, 8)
        if (!traceId) {
          reject('a span has no valid traceId (16 bytes, not all zero)')
          continue
        }
        if (!spanId) {
          reject('a span has no valid spanId (8 bytes, not all zero)')
          continue
        }
        if (parentId === null) {
          reject('a span has a parentSpanId that is not 8 bytes')
          continue
        }
        const start = timeText(s.startTimeUnixNano as Int64)
        const end = timeText(s.endTimeUnixNano as Int64) ?? start
        if (!start || !end) {
          reject('a span has no startTimeUnixNano')
          continue
        }
        const status = fields(s.status)
        const statusCode = enumNumber(status.code, jsonStatusNames)
        const message = status.message ? String(status.message) : undefined
        const links: SpanRecord['links'] = []
        for (const link of list(s.links).map(fields)) {
          const linkTrace = idHex(link.traceId, 16)
          const linkSpan = idHex(link.spanId, 8)
          if (linkTrace && linkSpan)
            links.push({context: {trace_id: linkTrace, span_id: linkSpan}, attributes: attributesOf(link.attributes, json)})
        }
        spans.push({
          name: String(s.name ?? ''),
          context: {trace_id: traceId, span_id: spanId, trace_state: String(s.traceState ?? '')},
          kind: kindNames[enumNumber(s.kind, jsonKindNames)] ?? 'SpanKind.INTERNAL',
          parent_id: parentId ?? null,
          start_time: start,
          end_time: end,
          status: message
            ? {status_code: statusNames[statusCode] ?? 'Unset', description: message}
            : {status_code: statusNames[statusCode] ?? 'Unset'},
          attributes: attributesOf(s.attributes, json),
          events: list(s.events)
            .map(fields)
            .map(e => ({
              name: String(e.name ?? ''),
              timestamp: timeText(e.timeUnixNano as Int64) ?? start,
              attributes: attributesOf(e.attributes, json),
            })),
          links,
          resource,
        })
      }
    }
  }
  return {spans, rejected, reasons}
}

/** Decodes an `application/x-protobuf` ExportTraceServiceRequest. */
export const decodeProtobuf = (body: Uint8Array): DecodedRequest => {
  let message: unknown
  try {
    message = schema().request.decode(body)
  } catch (error) {
    throw new MalformedRequestError(`not an OTLP protobuf ExportTraceServiceRequest (${(error as Error).message})`)
  }
  return convert(message, false)
}

/** Decodes an `application/json` ExportTraceServiceRequest (OTLP/JSON: hex ids, lowerCamelCase names). */
export const decodeJson = (body: Uint8Array): DecodedRequest => {
  let message: unknown
  try {
    message = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
  } catch (error) {
    throw new MalformedRequestError(`not JSON (${(error as Error).message})`)
  }
  if (!message || typeof message !== 'object' || Array.isArray(message))
    throw new MalformedRequestError('not an OTLP/JSON ExportTraceServiceRequest object')
  return convert(message, true)
}

/** ExportTraceServiceResponse, with partial_success only when spans were rejected (or there is a warning). */
export const encodeResponse = (rejected: number, errorMessage: string, json: boolean): Uint8Array | string => {
  const partial = rejected > 0 || errorMessage ? {rejectedSpans: rejected, errorMessage} : undefined
  if (json) return JSON.stringify(partial ? {partialSuccess: {rejectedSpans: String(rejected), errorMessage}} : {})
  const {response} = schema()
  return response.encode(response.create(partial ? {partialSuccess: partial} : {})).finish()
}

/** gRPC status codes the collector's errors carry (OTLP/HTTP error bodies are google.rpc.Status). */
export const RpcCode = {
  invalidArgument: 3,
  notFound: 5,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  unimplemented: 12,
  unavailable: 14,
} as const

/** A google.rpc.Status error body in the request's encoding. */
export const encodeStatus = (code: number, message: string, json: boolean): Uint8Array | string => {
  if (json) return JSON.stringify({code, message})
  const {status} = schema()
  return status.encode(status.create({code, message})).finish()
}
