import {pfHome} from '../paths.js'
import {type LineRunRow, TraceStore, type TraceSelector} from '../store/store.js'
import {PfError} from '../errors.js'
import {Attr} from '../contract/attributes.js'
import type {SpanRecord} from '../contract/destination.js'
import {spanTimeMicros} from '../util/span-time.js'

/**
 * Reading and deleting what the local store holds (`pf trace list/show/delete`). Every function opens the store
 * for one call; reading never creates a store that does not exist.
 */

export interface TokenTotals {
  prompt: number | null
  completion: number | null
  total: number | null
}

/** One line run (a trace root) as `pf trace list` shows it. */
export interface LineRunSummary {
  traceId: string
  name: string
  collection: string
  run: string | null
  lineNumber: number | null
  lineRunId: string | null
  status: string
  startTime: string
  /** Seconds. */
  latency: number
  tokens: TokenTotals | null
}

export interface ListOptions {
  collection?: string
  run?: string
  limit: number
  env?: NodeJS.ProcessEnv
}

const withStore = <T>(env: NodeJS.ProcessEnv | undefined, empty: T, fn: (store: TraceStore) => T): T => {
  const store = TraceStore.openExisting(pfHome(env))
  if (!store) return empty
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

const summaryOf = (row: LineRunRow): LineRunSummary => ({
  traceId: row.trace_id,
  name: row.name,
  collection: row.collection,
  run: row.run,
  lineNumber: row.line_number,
  lineRunId: row.line_run_id,
  status: row.status,
  startTime: row.start_time,
  latency: row.latency,
  tokens:
    row.total_tokens === null && row.prompt_tokens === null
      ? null
      : {prompt: row.prompt_tokens, completion: row.completion_tokens, total: row.total_tokens},
})

/** Recent line runs, newest first. */
export const listLineRuns = (options: ListOptions): LineRunSummary[] =>
  withStore(options.env, [], store =>
    store.lineRuns({collection: options.collection, run: options.run, limit: options.limit}).map(summaryOf),
  )

/** One remote destination's outbox: what waits, what was refused for good (and why). */
export interface PendingDestination {
  destination: string
  key: string
  pending: number
  parked: number
  delivered: number
  /** Why the pending spans are still waiting (the last error seen), if known. */
  lastError?: string
  parkedSpans: Array<{traceId: string; spanId: string; attempts: number; reason: string}>
}

/** The remote outbox per destination (`pf trace list --pending`): pending/parked counts and parked spans with reasons. */
export const listPending = (options: {limit: number; env?: NodeJS.ProcessEnv}): PendingDestination[] =>
  withStore(options.env, [], store => {
    const values = new Map(store.destinations().map(d => [d.key, d.value]))
    const parked = store.parkedOutbox(options.limit)
    return store
      .outboxCounts()
      .filter(c => c.pending > 0 || c.parked > 0)
      .map(c => ({
        destination: values.get(c.destination) ?? c.destination,
        key: c.destination,
        pending: c.pending,
        parked: c.parked,
        delivered: c.delivered,
        ...(c.pending > 0 ? {lastError: store.lastPendingError(c.destination)} : {}),
        parkedSpans: parked
          .filter(p => p.destination === c.destination)
          .map(p => ({traceId: p.trace_id, spanId: p.span_id, attempts: p.attempts, reason: p.last_error ?? 'rejected'})),
      }))
  })

/** A span in a trace's tree. */
export interface SpanNode {
  spanId: string
  name: string
  spanType: string | null
  status: string
  startTime: string
  /** Milliseconds. */
  duration: number
  /** This span's own LLM usage (llm.usage.*), if it made an LLM call. */
  usage: TokenTotals | null
  /** This span and its descendants (__computed__.cumulative_token_count.*). */
  cumulative: TokenTotals | null
  /** Why the span failed: its status description, else its exception event's message. */
  error?: string
  children: SpanNode[]
}

export interface TraceDetail {
  traceId: string
  spans: SpanRecord[]
  tree: SpanNode[]
}

const tokensOf = (attrs: Record<string, unknown>, prompt: string, completion: string, total: string): TokenTotals | null => {
  const num = (key: string) => (attrs[key] === undefined ? null : Number(attrs[key]))
  const t = {prompt: num(prompt), completion: num(completion), total: num(total)}
  return t.prompt === null && t.completion === null && t.total === null ? null : t
}

/** Builds the span tree: children under their parent in start order; a span whose parent is missing is a root. */
export const spanTree = (spans: SpanRecord[]): SpanNode[] => {
  const nodes = new Map<string, SpanNode>()
  for (const s of spans)
    nodes.set(s.context.span_id, {
      spanId: s.context.span_id,
      name: s.name,
      spanType: (s.attributes[Attr.spanType] as string | undefined) ?? null,
      status: s.status.status_code,
      startTime: s.start_time,
      duration: (spanTimeMicros(s.end_time) - spanTimeMicros(s.start_time)) / 1000,
      usage: tokensOf(s.attributes, Attr.usagePrompt, Attr.usageCompletion, Attr.usageTotal),
      cumulative: tokensOf(s.attributes, Attr.cumulativePrompt, Attr.cumulativeCompletion, Attr.cumulativeTotal),
      ...spanError(s),
      children: [],
    })
  const roots: SpanNode[] = []
  const ordered = [...spans].sort((a, b) => spanTimeMicros(a.start_time) - spanTimeMicros(b.start_time))
  for (const s of ordered) {
    const node = nodes.get(s.context.span_id)!
    const parent = s.parent_id ? nodes.get(s.parent_id) : undefined
    if (parent && parent !== node) parent.children.push(node)
    else roots.push(node)
  }
  return roots
}

const spanError = (s: SpanRecord): {error?: string} => {
  if (s.status.status_code !== 'Error') return {}
  const exception = s.events?.find(e => e.name === 'exception')?.attributes?.['exception.message']
  const error = s.status.description || (typeof exception === 'string' ? exception : undefined)
  return error ? {error} : {}
}

/** Shortest trace id prefix `pf trace show` takes (a shorter one matches too many traces to be useful). */
const minPrefix = 6

/**
 * One trace: its spans and their tree. The id may be a unique prefix of at least six hex digits (as `pf trace list`
 * shows ids, 32 digits are a lot to type). An unknown or ambiguous id is an error (exit 2).
 */
export const showTrace = (traceId: string, options: {env?: NodeJS.ProcessEnv} = {}): TraceDetail => {
  // The cloud copies show ids as `0x…` (prompt flow's form); the local store keeps bare hex: accept both.
  const given = traceId.trim().toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]+$/.test(given) || given.length > 32)
    throw new PfError(
      'invalid_arguments',
      `"${traceId}" is not a trace id: 32 hex digits (or a unique prefix of ${minPrefix} or more), as \`pf trace list\` shows.`,
    )
  const {id, spans} = withStore(options.env, {id: given, spans: [] as SpanRecord[]}, store => {
    let id = given
    if (given.length < 32) {
      if (given.length < minPrefix)
        throw new PfError('invalid_arguments', `Trace id prefix "${traceId}" is too short; give at least ${minPrefix} hex digits.`)
      const matches = store.traceIdsWithPrefix(given, 6)
      if (matches.length > 1)
        throw new PfError(
          'ambiguous_trace_id',
          `Trace id prefix "${traceId}" matches ${matches.length > 5 ? 'more than 5' : matches.length} traces (${matches.slice(0, 5).join(', ')}); give more digits.`,
        )
      id = matches[0] ?? given
    }
    return {id, spans: store.traceSpans(id)}
  })
  if (spans.length === 0)
    throw new PfError('trace_not_found', `No trace ${traceId} in the local store; \`pf trace list\` shows the recorded traces.`)
  return {traceId: id, spans, tree: spanTree(spans)}
}

export interface DeleteSelection {
  collection?: string
  run?: string
  /** A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 date-time. */
  before?: string
}

export interface DeleteReport {
  selector: TraceSelector
  traces: number
  spans: number
  lineRuns: number
  /** Outbox rows removed (spans that will then never be sent to a remote destination). */
  outbox: number
  deleted: boolean
}

const isoDate = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/** Turns the delete flags into exactly one selector; anything else is a usage error. */
export const parseSelection = (selection: DeleteSelection): TraceSelector => {
  const given = (['collection', 'run', 'before'] as const).filter(k => selection[k] !== undefined)
  // As in the reference, --before (--started-before) narrows --collection; otherwise exactly one selector.
  const combined = given.length === 2 && selection.collection !== undefined && selection.before !== undefined
  if (given.length !== 1 && !combined)
    throw new PfError(
      'invalid_arguments',
      `Pass one of --collection, --run or --before (or --collection with --before) (got ${given.length === 0 ? 'none' : given.map(g => `--${g}`).join(', ')}).`,
    )
  const before = selection.before === undefined ? undefined : parseBefore(selection.before)
  if (selection.collection !== undefined)
    return before === undefined ? {collection: selection.collection} : {collection: selection.collection, before}
  if (selection.run !== undefined) return {run: selection.run}
  return {before: before!}
}

const parseBefore = (value: string): string => {
  const text = value.trim()
  const time = isoDate.test(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN
  if (Number.isNaN(time))
    throw new PfError(
      'invalid_arguments',
      `--before "${value}" is not a date; use YYYY-MM-DD (midnight UTC) or an ISO 8601 time such as 2026-01-31T12:00:00Z.`,
    )
  return new Date(time).toISOString()
}

/**
 * Deletes the selected traces (spans, line runs and their outbox rows, in one transaction). `confirm` is asked
 * with the counts first; when it says no, nothing is deleted.
 */
export const deleteTraces = async (
  selection: DeleteSelection,
  options: {confirm?: (preview: Omit<DeleteReport, 'deleted'>) => Promise<boolean>; env?: NodeJS.ProcessEnv} = {},
): Promise<DeleteReport> => {
  const selector = parseSelection(selection)
  const store = TraceStore.openExisting(pfHome(options.env))
  if (!store) return {selector, traces: 0, spans: 0, lineRuns: 0, outbox: 0, deleted: false}
  try {
    const preview = store.deleteTraces(selector, true)
    if (preview.traces === 0) return {selector, ...preview, deleted: false}
    if (options.confirm && !(await options.confirm({selector, ...preview}))) return {selector, ...preview, deleted: false}
    return {selector, ...store.deleteTraces(selector), deleted: true}
  } finally {
    store.close()
  }
}
