/**
 * The items pf writes to a workspace's trace store (Cosmos DB containers Span, LineSummary, Collection), in the
 * shapes the Azure ML / AI portal reads (spec: "Cosmos DB items"). Pure functions: no I/O here.
 */
import {Attr, Resource} from '../../contract/attributes.js'
import type {SpanRecord} from '../../contract/destination.js'
import {parseJsonOrText} from '../../util/json.js'
import {secondsBetween} from '../../util/span-time.js'
import type {CreatedBy} from './credential.js'

/** Cosmos DB's item size limit. */
export const maxItemBytes = 2 * 1024 * 1024
/** Span item attribute string values are cut to this many characters (the reference's `v[:8192]`, no marker). */
export const maxAttributeChars = 8192
/** LineSummary inputs/outputs: top-level strings are cut to this many characters. */
export const maxSummaryChars = 500

export const runningStatus = 'Running'
/** `location` of a Collection item: traces produced on the user's machine. */
export const localLocation = 0

export const defaultCollection = 'default'

/** Where a span's data goes in the workspace's default datastore (the reference's layout). */
export const traceBlobPrefix = '.promptflow/.trace'

/** Cuts a string to its first `max` characters (code points, as Python counts them), no marker. */
export const cutChars = (value: string, max = maxAttributeChars): string => {
  if (value.length <= max) return value
  let units = 0
  for (let chars = 0; chars < max && units < value.length; chars++) {
    const code = value.charCodeAt(units)
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < value.length ? 2 : 1
  }
  return value.slice(0, units)
}

const cutValues = (attributes: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) out[key] = typeof value === 'string' ? cutChars(value) : value
  return out
}

/** `0x` + hex, as the reference's collector writes ids; an id already in that form is kept. */
export const hexId = (id: string): string => (id.startsWith('0x') ? id : `0x${id}`)

/** The OTLP span kind numbers (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
const otlpKinds: Record<string, number> = {
  'SpanKind.INTERNAL': 1,
  'SpanKind.SERVER': 2,
  'SpanKind.CLIENT': 3,
  'SpanKind.PRODUCER': 4,
  'SpanKind.CONSUMER': 5,
}
export const otlpKind = (kind: string): number => otlpKinds[kind] ?? 0

/**
 * An attribute value as the reference gets it through OTLP protobuf JSON: integers are int64, written as strings
 * (`"18"`); doubles, booleans and strings stay as they are; arrays element by element.
 */
export const protobufValue = (value: unknown): unknown => {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : value
  if (Array.isArray(value)) return value.map(protobufValue)
  return value
}

const protobufValues = (attributes: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) out[key] = protobufValue(value)
  return out
}

/** The collection id items are partitioned by: the run name for a batch run, else `<collection>_<object id>`. */
export const collectionIdOf = (span: SpanRecord, objectId: string): string => {
  const run = span.attributes[Attr.batchRunId]
  if (run !== undefined && run !== null && run !== '') return String(run)
  return `${collectionNameOf(span)}_${objectId}`
}

export const collectionNameOf = (span: SpanRecord): string => String(span.resource.attributes[Resource.collection] ?? defaultCollection)

export const isBatchSpan = (span: SpanRecord): boolean => span.attributes[Attr.batchRunId] !== undefined

/** A span of an aggregation node (`is_aggregation`): it belongs to no line, so it gets no LineSummary. */
export const isAggregationSpan = (span: SpanRecord): boolean => {
  const value = span.attributes.is_aggregation
  return value === true || value === 'true' || value === 'True'
}

const itemBytes = (item: unknown) => Buffer.byteLength(JSON.stringify(item), 'utf8')

/**
 * An upper bound of a value's JSON size in bytes, without building the JSON: a UTF-16 code unit takes at most 6
 * bytes (`\uXXXX`), a number or literal at most 24. A typical item's bound is a few KB, far below the item limit,
 * so it is stringified to be measured only when the bound comes near it (≈ 4 µs an item saved, 3 % of an export).
 */
export const jsonBytesBound = (value: unknown): number => {
  if (typeof value === 'string') return 6 * value.length + 2
  if (value === null || typeof value !== 'object') return 24
  let bytes = 2
  if (Array.isArray(value)) {
    for (const element of value) bytes += jsonBytesBound(element) + 1
    return bytes
  }
  for (const [key, element] of Object.entries(value)) if (element !== undefined) bytes += 6 * key.length + 4 + jsonBytesBound(element)
  return bytes
}

/** The bounds spanItem computed for the items it returned, so batching them (cosmos-writer.ts) does not walk them again. */
const itemBounds = new WeakMap<object, number>()

/** An upper bound of an item's JSON size: the one spanItem computed, else computed now. */
export const itemBytesBound = (item: object): number => itemBounds.get(item) ?? jsonBytesBound(item)

/** Whether an item is under `limit` bytes of JSON; when it is, its bound is kept for itemBytesBound. */
const fits = (item: object, limit: number): boolean => {
  const bound = jsonBytesBound(item)
  if (bound > limit && itemBytes(item) > limit) return false
  itemBounds.set(item, bound)
  return true
}

/** A span as the reference's collector holds it (and writes it to `span.json`): 0x ids, OTLP kind, protobuf values. */
export interface ReferenceSpan {
  name: string
  context: {trace_id: string; span_id: string; trace_state: string}
  kind: number
  parent_id: string | null
  start_time: string
  end_time: string
  status: {status_code: string; description: string}
  attributes: Record<string, unknown>
  events: Array<{name: string; timestamp: string; attributes: Record<string, unknown>}>
  links: Array<{context: {trace_id: string; span_id: string}; attributes: Record<string, unknown>}>
  resource: {attributes: Record<string, unknown>; schema_url: string}
}

export const referenceSpan = (span: SpanRecord, collectionId: string): ReferenceSpan => ({
  name: span.name,
  context: {trace_id: hexId(span.context.trace_id), span_id: hexId(span.context.span_id), trace_state: span.context.trace_state ?? ''},
  kind: otlpKind(span.kind),
  parent_id: span.parent_id ? hexId(span.parent_id) : null,
  start_time: span.start_time,
  end_time: span.end_time,
  status: {status_code: span.status.status_code, description: span.status.description ?? ''},
  attributes: protobufValues(span.attributes),
  events: span.events.map(e => ({name: e.name, timestamp: e.timestamp, attributes: protobufValues(e.attributes)})),
  links: span.links.map(l => ({
    context: {trace_id: hexId(l.context.trace_id), span_id: hexId(l.context.span_id)},
    attributes: protobufValues(l.attributes),
  })),
  resource: {
    attributes: {...protobufValues(span.resource.attributes), [Resource.collectionId]: collectionId},
    schema_url: span.resource.schema_url ?? '',
  },
})

/** `.promptflow/.trace/{collection_id}/{trace_id}/{span_id}/` (ids in 0x form, as in the item). */
export const spanBlobDir = (collectionId: string, ref: ReferenceSpan): string =>
  `${traceBlobPrefix}/${collectionId}/${ref.context.trace_id}/${ref.context.span_id}/`

/** The blobs of one span: `span.json` (the whole span, nothing cut) and one blob per event (`0`, `1`, …). */
export const spanBlobs = (collectionId: string, ref: ReferenceSpan): Array<{path: string; body: string}> => {
  const dir = spanBlobDir(collectionId, ref)
  return [
    {path: `${dir}span.json`, body: JSON.stringify(ref)},
    ...ref.events.map((event, i) => ({path: `${dir}${i}`, body: JSON.stringify(event)})),
  ]
}

/** Python's truthiness, which decides the fields of the reference's Span item (`{k: v … if v}`). */
const isEmpty = (value: unknown): boolean =>
  value === null ||
  value === undefined ||
  value === '' ||
  value === 0 ||
  value === false ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0)

export interface SpanItem {
  id: string
  partition_key: string
  collection_id: string
  created_by: CreatedBy
  name: string
  context: ReferenceSpan['context']
  kind?: number
  parent_id?: string
  start_time: string
  end_time?: string
  status: ReferenceSpan['status']
  attributes?: Record<string, unknown>
  events?: ReferenceSpan['events']
  links?: ReferenceSpan['links']
  resource: ReferenceSpan['resource']
  external_event_data_uris?: string[]
  span_json_uri?: string
}

/**
 * A `Span` item as the reference writes it: the span with string attribute values cut at 8192 characters and,
 * when its data went to blob storage (`blobBaseUri`, the datastore's `azureml://…/paths/`), each event's
 * attributes emptied, `external_event_data_uris` and `span_json_uri`; empty fields left out. Always under the
 * 2 MB item limit: should thousands of attributes still not fit, pf's own are kept (the whole span is in blob).
 */
export const spanItem = (ref: ReferenceSpan, collectionId: string, createdBy: CreatedBy, blobBaseUri?: string): SpanItem => {
  const dir = blobBaseUri === undefined ? '' : blobBaseUri + spanBlobDir(collectionId, ref)
  const full: Record<string, unknown> = {
    name: ref.name,
    context: ref.context,
    kind: ref.kind,
    parent_id: ref.parent_id,
    start_time: ref.start_time,
    end_time: ref.end_time,
    status: ref.status,
    attributes: cutValues(ref.attributes),
    events: ref.events.map(e => ({...e, attributes: blobBaseUri === undefined ? cutValues(e.attributes) : {}})),
    links: ref.links,
    resource: ref.resource,
    partition_key: collectionId,
    collection_id: collectionId,
    id: ref.context.span_id,
    created_by: createdBy,
    external_event_data_uris: blobBaseUri === undefined ? [] : ref.events.map((_, i) => `${dir}${i}`),
    span_json_uri: blobBaseUri === undefined ? undefined : `${dir}span.json`,
  }
  const item = Object.fromEntries(Object.entries(full).filter(([, v]) => !isEmpty(v))) as unknown as SpanItem
  // Leave room for the system properties Cosmos adds (_rid, _etag, …).
  const limit = maxItemBytes - 16 * 1024
  if (fits(item, limit)) return item
  if (item.events) item.events = item.events.map(e => ({...e, attributes: {}}))
  if (fits(item, limit)) return item
  // Thousands of attributes: keep pf's own (they drive the portal) and drop the rest.
  const own = new Set<string>([...Object.values(Attr), 'is_aggregation', 'execution_target', 'node_name'])
  item.attributes = Object.fromEntries(Object.entries(item.attributes ?? {}).filter(([key]) => own.has(key)))
  delete item.links
  return item
}

/** LineSummary inputs/outputs: top-level strings cut at 500 characters, lists as "[...]", dicts as "{...}". */
export const summarizeValue = (value: unknown): unknown => {
  if (typeof value === 'string') return value.length > maxSummaryChars ? value.slice(0, maxSummaryChars) : value
  if (Array.isArray(value)) return '[...]'
  if (value !== null && typeof value === 'object') return '{...}'
  return value
}

const parseJson = (value: unknown): unknown => (typeof value === 'string' ? parseJsonOrText(value) : (value ?? {}))

export const summarizeIo = (value: unknown): unknown => {
  const parsed = parseJson(value)
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, summarizeValue(v)]))
  return summarizeValue(parsed)
}

export interface LineSummaryItem {
  id: string
  partition_key: string
  session_id: string
  trace_id: string
  collection_id: string
  root_span_id: string | null
  inputs: unknown
  outputs: unknown
  start_time: string
  end_time: string | null
  status: string
  latency: number | null
  name: string | null
  kind: string | null
  created_by: CreatedBy
  cumulative_token_count: {completion: number; prompt: number; total: number} | null | Record<string, never>
  evaluations: Record<string, unknown>
  batch_run_id: string | null
  /** A string: the reference reads it from protobuf JSON, where int64 values are strings. */
  line_number: string | null
  line_run_id: string | null
}

/** A batch line is identified by run and line number (its spans also carry a line_run_id); else by line_run_id. */
const lineIdentity = (span: SpanRecord): Pick<LineSummaryItem, 'batch_run_id' | 'line_number' | 'line_run_id'> => {
  const a = span.attributes
  if (a[Attr.batchRunId] !== undefined && a[Attr.lineNumber] !== undefined)
    return {line_run_id: null, batch_run_id: String(a[Attr.batchRunId]), line_number: String(a[Attr.lineNumber])}
  if (a[Attr.lineRunId] !== undefined) return {line_run_id: String(a[Attr.lineRunId]), batch_run_id: null, line_number: null}
  return {line_run_id: null, batch_run_id: null, line_number: null}
}

/**
 * A span time as LineSummary holds it: Python's `isoformat()` of a naive UTC time, i.e. without `Z`, and
 * without the fraction when it is zero (`2026-01-01T00:00:01.250200`, `2026-01-01T00:00:01`).
 */
export const summaryTime = (time: string): string => {
  const bare = time.replace(/Z$/, '')
  const [seconds, fraction = ''] = bare.split('.')
  const micros = fraction.padEnd(6, '0').slice(0, 6)
  return /^0+$/.test(micros) ? seconds : `${seconds}.${micros}`
}

/** The placeholder a child span writes (create; an existing item wins) so a running line shows up. */
export const runningSummaryItem = (span: SpanRecord, collectionId: string, createdBy: CreatedBy): LineSummaryItem => ({
  id: hexId(span.context.trace_id),
  partition_key: collectionId,
  session_id: collectionNameOf(span),
  trace_id: hexId(span.context.trace_id),
  collection_id: collectionId,
  root_span_id: null,
  inputs: {},
  outputs: {},
  start_time: summaryTime(span.start_time),
  end_time: null,
  status: runningStatus,
  latency: null,
  name: null,
  kind: null,
  created_by: createdBy,
  cumulative_token_count: {},
  evaluations: {},
  ...lineIdentity(span),
})

/** The finished line, written by the root span over any placeholder. */
export const finishedSummaryItem = (root: SpanRecord, collectionId: string, createdBy: CreatedBy): LineSummaryItem => {
  const a = root.attributes
  const count = (key: string) => Math.trunc(Number(a[key] ?? 0)) || 0
  const total = count(Attr.cumulativeTotal)
  return {
    id: hexId(root.context.trace_id),
    partition_key: collectionId,
    session_id: collectionNameOf(root),
    trace_id: hexId(root.context.trace_id),
    collection_id: collectionId,
    root_span_id: hexId(root.context.span_id),
    inputs: summarizeIo(a[Attr.inputs]),
    outputs: summarizeIo(a[Attr.output]),
    start_time: summaryTime(root.start_time),
    end_time: summaryTime(root.end_time),
    status: root.status.status_code,
    latency: secondsBetween(root.start_time, root.end_time),
    name: root.name,
    kind: String(a[Attr.spanType] ?? ''),
    created_by: createdBy,
    cumulative_token_count: total > 0 ? {completion: count(Attr.cumulativeCompletion), prompt: count(Attr.cumulativePrompt), total} : null,
    evaluations: {},
    ...lineIdentity(root),
  }
}

export interface CollectionItem {
  id: string
  partition_key: string
  name: string
  created_at: number
  updated_at: number
  created_by: CreatedBy
  location: number
}

export const collectionItem = (collectionId: string, name: string, createdBy: CreatedBy, now = Date.now()): CollectionItem => ({
  id: collectionId,
  partition_key: collectionId,
  name,
  created_at: Math.floor(now / 1000),
  updated_at: Math.floor(now / 1000),
  created_by: createdBy,
  location: localLocation,
})

/**
 * Where the line an evaluation line evaluated (the "main" line) lives, from the evaluation's root span: a batch
 * evaluation references the base run (its LineSummary items are partitioned by the run name and the evaluated
 * line has the same line number); an evaluation of a single trace references that trace's line_run_id.
 */
export type MainLineRef = {batchRunId: string; lineNumber: string} | {lineRunId: string}

export const mainLineOf = (root: SpanRecord): MainLineRef | undefined => {
  if (root.parent_id !== null || isAggregationSpan(root)) return undefined
  const a = root.attributes
  const present = (v: unknown) => v !== undefined && v !== null && v !== ''
  if (present(a[Attr.referencedBatchRunId]) && present(a[Attr.lineNumber]))
    return {batchRunId: String(a[Attr.referencedBatchRunId]), lineNumber: String(a[Attr.lineNumber])}
  if (present(a[Attr.referencedLineRunId])) return {lineRunId: String(a[Attr.referencedLineRunId])}
  return undefined
}

/** The query that finds the main line's LineSummary item (and the partition to ask, when known); line numbers are strings. */
export const mainLineQuery = (
  ref: MainLineRef,
): {query: string; parameters: Array<{name: string; value: string}>; partitionKey?: string} =>
  'batchRunId' in ref
    ? {
        query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.batch_run_id = @run AND c.line_number = @line',
        parameters: [
          {name: '@run', value: ref.batchRunId},
          {name: '@line', value: ref.lineNumber},
        ],
        partitionKey: ref.batchRunId,
      }
    : {
        query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.line_run_id = @line',
        parameters: [{name: '@line', value: ref.lineRunId}],
      }

/** What the main line's `evaluations` object holds for one evaluation: the evaluation line's summary item without its own `evaluations`. */
export type LineEvaluation = Omit<LineSummaryItem, 'evaluations'>

/** The key in the main line's `evaluations`: the evaluation run's name, or the evaluation flow's name outside a run. */
export const evaluationKey = (root: SpanRecord): string => {
  const run = root.attributes[Attr.batchRunId]
  return run !== undefined && run !== null && run !== '' ? String(run) : root.name
}

export const lineEvaluation = (root: SpanRecord, collectionId: string, createdBy: CreatedBy): LineEvaluation => {
  const {evaluations: _, ...summary} = finishedSummaryItem(root, collectionId, createdBy)
  return summary
}

/** A JSON Pointer segment (RFC 6901): run names may hold `/` or `~`. */
const pointerSegment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1')

/**
 * The partial update that records an evaluation on the main line, as the reference writes it: `add` (which
 * replaces an existing entry, so a resend writes the same value).
 */
export const evaluationPatch = (
  root: SpanRecord,
  collectionId: string,
  createdBy: CreatedBy,
): Array<{op: 'add'; path: string; value: LineEvaluation}> => [
  {op: 'add', path: `/evaluations/${pointerSegment(evaluationKey(root))}`, value: lineEvaluation(root, collectionId, createdBy)},
]

/**
 * The fields of a finished line that differ from its placeholder: the root span sets these on an existing item
 * (a placeholder, or an earlier write of itself) so the `evaluations` other lines recorded there are kept.
 * Cosmos takes at most 10 operations in one patch.
 */
export const finishedSummaryPatch = (item: LineSummaryItem): Array<{op: 'set'; path: string; value: unknown}> =>
  (
    ['root_span_id', 'inputs', 'outputs', 'start_time', 'end_time', 'status', 'latency', 'name', 'kind', 'cumulative_token_count'] as const
  ).map(field => ({op: 'set', path: `/${field}`, value: item[field]}))
