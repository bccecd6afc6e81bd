import type {Attributes, HrTime, SpanContext} from '@opentelemetry/api'
import type {Resource} from '@opentelemetry/resources'
import type {ReadableSpan} from '@opentelemetry/sdk-trace-base'
import type {SpanRecord} from 'pf/destination'

type ResourceFactory = (attributes: Attributes, options: {schemaUrl?: string}) => Resource

/** `2026-11-26T05:30:30.123456Z` → [seconds, nanoseconds], keeping every digit of the fraction. */
export const toHrTime = (iso: string): HrTime => {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(iso)
  if (!match) throw new Error(`span time "${iso}" is not an ISO 8601 UTC timestamp`)
  return [Date.parse(match[1] + 'Z') / 1000, Number((match[2] ?? '').padEnd(9, '0'))]
}

const kinds: Record<string, number> = {
  'SpanKind.INTERNAL': 0,
  'SpanKind.SERVER': 1,
  'SpanKind.CLIENT': 2,
  'SpanKind.PRODUCER': 3,
  'SpanKind.CONSUMER': 4,
}
const statusCodes = {Unset: 0, Ok: 1, Error: 2} as const

const sampled = 1

const spanContext = (traceId: string, spanId: string, traceState?: string): SpanContext => ({
  traceId,
  spanId,
  traceFlags: sampled,
  // The serializer only calls serialize(); pf stores the W3C text form.
  ...(traceState ? {traceState: {serialize: () => traceState} as SpanContext['traceState']} : {}),
})

const duration = (start: HrTime, end: HrTime): HrTime => {
  let seconds = end[0] - start[0]
  let nanos = end[1] - start[1]
  if (nanos < 0) {
    seconds -= 1
    nanos += 1e9
  }
  return [seconds, nanos]
}

/**
 * Turns pf's stored span records back into the ReadableSpan shape the OpenTelemetry OTLP serializers take.
 * Spans with the same resource share one Resource object, so the serializer groups them under one ResourceSpans.
 */
export const toReadableSpans = (records: SpanRecord[], makeResource: ResourceFactory): ReadableSpan[] => {
  const resources = new Map<string, Resource>()
  const resourceOf = (record: SpanRecord): Resource => {
    const id = JSON.stringify(record.resource)
    let resource = resources.get(id)
    if (!resource) {
      resource = makeResource(
        record.resource.attributes as Attributes,
        record.resource.schema_url ? {schemaUrl: record.resource.schema_url} : {},
      )
      resources.set(id, resource)
    }
    return resource
  }
  return records.map(record => {
    const {trace_id: traceId, span_id: spanId, trace_state: traceState} = record.context
    const startTime = toHrTime(record.start_time)
    const endTime = toHrTime(record.end_time)
    return {
      name: record.name,
      kind: kinds[record.kind] ?? 0,
      spanContext: () => spanContext(traceId, spanId, traceState),
      parentSpanContext: record.parent_id ? spanContext(traceId, record.parent_id) : undefined,
      startTime,
      endTime,
      duration: duration(startTime, endTime),
      ended: true,
      status: {code: statusCodes[record.status.status_code] ?? 0, message: record.status.description},
      attributes: record.attributes as Attributes,
      events: record.events.map(e => ({name: e.name, time: toHrTime(e.timestamp), attributes: e.attributes as Attributes})),
      links: record.links.map(l => ({context: spanContext(l.context.trace_id, l.context.span_id), attributes: l.attributes as Attributes})),
      resource: resourceOf(record),
      instrumentationScope: {name: 'promptflow'},
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    }
  })
}
