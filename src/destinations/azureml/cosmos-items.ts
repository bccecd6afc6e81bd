/**
 * The items pf writes to a workspace's trace store (Cosmos DB containers Span, LineSummary, Collection), in the
 * shapes the Azure ML / AI portal reads (spec: "Cosmos DB items"). Pure functions: no I/O here.
 */
import {Attr, Resource} from '../../contract/attributes.js'
import type {SpanRecord} from '../../contract/destination.js'
import type {CreatedBy} from './credential.js'

/** Cosmos DB's item size limit. */
export const maxItemBytes = 2 * 1024 * 1024
/** Attribute string values are cut to this many UTF-8 bytes. */
export const maxAttributeBytes = 8 * 1024
/** LineSummary inputs/outputs: top-level strings are cut to this many characters. */
export const maxSummaryChars = 500

export const runningStatus = 'Running'
/** `location` of a Collection item: traces produced on the user's machine. */
export const localLocation = 0

export const defaultCollection = 'default'

const truncatedMark = '…[truncated]'

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export const cutUtf8 = (value: string, maxBytes: number): string => {
  if (value.length * 3 <= maxBytes || Buffer.byteLength(value, 'utf8') <= maxBytes) return value
  const room = maxBytes - Buffer.byteLength(truncatedMark, 'utf8')
  let cut = Buffer.from(value, 'utf8').subarray(0, Math.max(0, room)).toString('utf8')
  // A character cut in half decodes to U+FFFD at the end: drop it.
  if (cut.endsWith('\uFFFD') && !value.startsWith(cut)) cut = cut.slice(0, -1)
  return cut + truncatedMark
}

const cutValues = (attributes: Record<string, unknown>, maxBytes: number): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) out[key] = typeof value === 'string' ? cutUtf8(value, maxBytes) : value
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

const itemBytes = (item: unknown) => Buffer.byteLength(JSON.stringify(item), 'utf8')

export interface SpanItem extends Omit<SpanRecord, 'resource'> {
  id: string
  partition_key: string
  collection_id: string
  created_by: CreatedBy
  resource: SpanRecord['resource']
}

/**
 * A `Span` item: the span record with string attribute values cut at 8 KiB, kept under the 2 MB item limit
 * (event payloads, then attributes, give way first). The full span stays in the local store.
 */
export const spanItem = (span: SpanRecord, collectionId: string, createdBy: CreatedBy): SpanItem => {
  const item: SpanItem = {
    name: span.name,
    context: span.context,
    kind: span.kind,
    parent_id: span.parent_id,
    start_time: span.start_time,
    end_time: span.end_time,
    status: span.status,
    attributes: cutValues(span.attributes, maxAttributeBytes),
    events: span.events.map(e => ({...e, attributes: cutValues(e.attributes, maxAttributeBytes)})),
    links: span.links,
    resource: {attributes: {...span.resource.attributes, [Resource.collectionId]: collectionId}, schema_url: span.resource.schema_url},
    id: span.context.span_id,
    partition_key: collectionId,
    collection_id: collectionId,
    created_by: createdBy,
  }
  // Leave room for the system properties Cosmos adds (_rid, _etag, …).
  const limit = maxItemBytes - 16 * 1024
  if (itemBytes(item) <= limit) return item
  item.events = item.events.map(e => ({...e, attributes: {}}))
  if (itemBytes(item) <= limit) return item
  item.attributes = cutValues(item.attributes, 256)
  if (itemBytes(item) <= limit) return item
  // Thousands of attributes: keep pf's own (they drive the portal) and drop the rest.
  const own = new Set<string>(Object.values(Attr))
  item.attributes = Object.fromEntries(Object.entries(item.attributes).filter(([key]) => own.has(key)))
  item.links = []
  return item
}

/** LineSummary inputs/outputs: top-level strings cut at 500 characters, lists as "[...]", dicts as "{...}". */
export const summarizeValue = (value: unknown): unknown => {
  if (typeof value === 'string') return value.length > maxSummaryChars ? value.slice(0, maxSummaryChars) : value
  if (Array.isArray(value)) return '[...]'
  if (value !== null && typeof value === 'object') return '{...}'
  return value
}

const parseJson = (value: unknown): unknown => {
  if (typeof value !== 'string') return value ?? {}
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

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
  root_span_id: string
  inputs: unknown
  outputs: unknown
  start_time: string
  end_time: string
  status: string
  latency: number
  name: string
  kind: string
  created_by: CreatedBy
  cumulative_token_count: {completion: number; prompt: number; total: number} | null | Record<string, never>
  evaluations: Record<string, unknown>
  batch_run_id: string | null
  line_number: number | null
  line_run_id: string | null
}

/** A batch line is identified by run and line number (its spans also carry a line_run_id); else by line_run_id. */
const lineIdentity = (span: SpanRecord): Pick<LineSummaryItem, 'batch_run_id' | 'line_number' | 'line_run_id'> => {
  const a = span.attributes
  if (a[Attr.batchRunId] !== undefined && a[Attr.lineNumber] !== undefined)
    return {line_run_id: null, batch_run_id: String(a[Attr.batchRunId]), line_number: Number(a[Attr.lineNumber])}
  if (a[Attr.lineRunId] !== undefined) return {line_run_id: String(a[Attr.lineRunId]), batch_run_id: null, line_number: null}
  return {line_run_id: null, batch_run_id: null, line_number: null}
}

/** Seconds between two `…%fZ` timestamps, to the microsecond. */
export const latencySeconds = (start: string, end: string): number => {
  const micros = (t: string) => Date.parse(t.slice(0, 19) + 'Z') * 1000 + Number((t.split('.')[1] ?? '0').replace('Z', '').padEnd(6, '0').slice(0, 6))
  return (micros(end) - micros(start)) / 1e6
}

/** The placeholder a child span writes (create; an existing item wins) so a running line shows up. */
export const runningSummaryItem = (span: SpanRecord, collectionId: string, createdBy: CreatedBy): LineSummaryItem => ({
  id: span.context.trace_id,
  partition_key: collectionId,
  session_id: collectionNameOf(span),
  trace_id: span.context.trace_id,
  collection_id: collectionId,
  root_span_id: '',
  inputs: {},
  outputs: {},
  start_time: span.start_time,
  end_time: '',
  status: runningStatus,
  latency: 0,
  name: '',
  kind: '',
  created_by: createdBy,
  cumulative_token_count: {},
  evaluations: {},
  ...lineIdentity(span),
})

/** The finished line, written (upsert) by the root span over any placeholder. */
export const finishedSummaryItem = (root: SpanRecord, collectionId: string, createdBy: CreatedBy): LineSummaryItem => {
  const a = root.attributes
  const count = (key: string) => Number(a[key] ?? 0) || 0
  const total = count(Attr.cumulativeTotal)
  return {
    id: root.context.trace_id,
    partition_key: collectionId,
    session_id: collectionNameOf(root),
    trace_id: root.context.trace_id,
    collection_id: collectionId,
    root_span_id: root.context.span_id,
    inputs: summarizeIo(a[Attr.inputs]),
    outputs: summarizeIo(a[Attr.output]),
    start_time: root.start_time,
    end_time: root.end_time,
    status: root.status.status_code,
    latency: latencySeconds(root.start_time, root.end_time),
    name: root.name,
    kind: String(a[Attr.spanType] ?? ''),
    created_by: createdBy,
    cumulative_token_count:
      total > 0 ? {completion: count(Attr.cumulativeCompletion), prompt: count(Attr.cumulativePrompt), total} : null,
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
export type MainLineRef = {batchRunId: string; lineNumber: number} | {lineRunId: string}

export const mainLineOf = (root: SpanRecord): MainLineRef | undefined => {
  if (root.parent_id !== null) return undefined
  const a = root.attributes
  const present = (v: unknown) => v !== undefined && v !== null && v !== ''
  if (present(a[Attr.referencedBatchRunId]) && present(a[Attr.lineNumber]))
    return {batchRunId: String(a[Attr.referencedBatchRunId]), lineNumber: Number(a[Attr.lineNumber])}
  if (present(a[Attr.referencedLineRunId])) return {lineRunId: String(a[Attr.referencedLineRunId])}
  return undefined
}

/** The query that finds the main line's LineSummary item (and the partition to ask, when known). */
export const mainLineQuery = (ref: MainLineRef): {query: string; parameters: Array<{name: string; value: string | number}>; partitionKey?: string} =>
  'batchRunId' in ref
    ? {
        query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.batch_run_id = @run AND c.line_number = @line',
        parameters: [
          {name: '@run', value: ref.batchRunId},
          {name: '@line', value: ref.lineNumber},
        ],
        partitionKey: ref.batchRunId,
      }
    : {query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.line_run_id = @line', parameters: [{name: '@line', value: ref.lineRunId}]}

/** What the main line's `evaluations` object holds for one evaluation. */
export interface LineEvaluation {
  outputs: unknown
  trace_id: string
  root_span_id: string
  status: string
  /** The evaluation line's display name (its root span's name: the evaluation flow's name). */
  name: string
  collection_id: string
  created_by: CreatedBy
  batch_run_id: string | null
  line_number: number | null
  line_run_id: string | null
}

/** The key in the main line's `evaluations`: the evaluation run's name, or the evaluation flow's name outside a run. */
export const evaluationKey = (root: SpanRecord): string => {
  const run = root.attributes[Attr.batchRunId]
  return run !== undefined && run !== null && run !== '' ? String(run) : root.name
}

export const lineEvaluation = (root: SpanRecord, collectionId: string, createdBy: CreatedBy): LineEvaluation => ({
  outputs: summarizeIo(root.attributes[Attr.output]),
  trace_id: root.context.trace_id,
  root_span_id: root.context.span_id,
  status: root.status.status_code,
  name: root.name,
  collection_id: collectionId,
  created_by: createdBy,
  ...lineIdentity(root),
})

/** A JSON Pointer segment (RFC 6901): run names may hold `/` or `~`. */
const pointerSegment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1')

/** The partial update that records an evaluation on the main line: `set` is idempotent (a resend writes the same value). */
export const evaluationPatch = (root: SpanRecord, collectionId: string, createdBy: CreatedBy): Array<{op: 'set'; path: string; value: LineEvaluation}> => [
  {op: 'set', path: `/evaluations/${pointerSegment(evaluationKey(root))}`, value: lineEvaluation(root, collectionId, createdBy)},
]

/**
 * The fields of a finished line that differ from its placeholder: the root span sets these on an existing item
 * (a placeholder, or an earlier write of itself) so the `evaluations` other lines recorded there are kept.
 * Cosmos takes at most 10 operations in one patch.
 */
export const finishedSummaryPatch = (item: LineSummaryItem): Array<{op: 'set'; path: string; value: unknown}> =>
  (['root_span_id', 'inputs', 'outputs', 'start_time', 'end_time', 'status', 'latency', 'name', 'kind', 'cumulative_token_count'] as const).map(
    field => ({op: 'set', path: `/${field}`, value: item[field]}),
  )
