import {readFileSync} from 'node:fs'
import path from 'node:path'

import {type CollectionSummary, type TraceCursor, type TraceFilter, type TraceReader, type TraceSort, traceSorts} from '../store/reader.js'
import type {LineRunRow, RunRow} from '../store/store.js'
import type {SpanRecord} from '../contract/destination.js'
import {parseJsonOrText} from '../util/json.js'
import {type Comparison, type RunSummary, compareRuns, evaluationName, maxCompareRuns, toRunSummary} from './compare.js'
import {type RunSort, evaluationRuns, flowRuns, lineStats, listRuns, runRows, runSorts, runTotals} from './run-queries.js'
import {capSpan, spanValue, summaryCap, summaryValue, valueHref} from './values.js'

/** An API error: an HTTP status and a stable code, answered as `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface TraceSummary {
  traceId: string
  rootSpanId: string
  lineRunId: string | null
  collection: string
  run: string | null
  lineNumber: number | null
  name: string
  kind: string | null
  status: string
  startTime: string
  endTime: string
  latency: number
  /** Parsed inputs, or a truncation marker (`$pfTruncated`) when longer than the summary cap. */
  inputs: unknown
  outputs: unknown
  error: string | null
  tokens: {prompt: number; completion: number; total: number} | null
}

export interface TraceListPage {
  traces: TraceSummary[]
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null
}

export interface TraceDetail {
  trace: TraceSummary | null
  spans: SpanRecord[]
}

export interface RunDetail {
  run: Omit<RunRow, 'column_mapping' | 'tags' | 'properties' | 'metrics' | 'archived'> & {
    column_mapping: unknown
    tags: unknown
    properties: unknown
    metrics: unknown
    archived: boolean
  }
  /** The run as the runs page shows it: duration, token totals, evaluation runs. */
  summary: RunSummary
  /** The runs that evaluate this one, with their status and metrics. */
  evaluations: Array<{name: string; flow: string; status: string; metrics: unknown}>
  lineCounts: Record<string, number>
  lines: TraceSummary[]
  /** Pass as `afterLine` for the next page of lines; null on the last page. */
  nextAfterLine: number | null
  /** Line outputs from the run's outputs.jsonl, by line number (lines whose output is not in the trace). */
  outputs: Record<string, unknown>
}

export interface RunCharts {
  /** Line latency histogram (seconds): equal-width bins from min to max. */
  latency: {
    count: number
    bins: Array<{from: number; to: number; count: number}>
    p50: number | null
    p90: number | null
    p99: number | null
  }
  /** Total tokens per line; with many lines, per range of lines (mean and max of the range). */
  tokens: Array<{from: number; to: number; mean: number; max: number}>
  /** The last runs of the same flow (oldest first) with their numeric metrics. */
  flowRuns: Array<{name: string; display_name: string | null; created_at: string; status: string; metrics: Record<string, number>}>
}

const maxLimit = 200
const statuses = ['Ok', 'Error', 'Unset']

const parseJson = (text: string | null): unknown => (text === null ? null : parseJsonOrText(text))

export const toSummary = (row: LineRunRow): TraceSummary => ({
  traceId: row.trace_id,
  rootSpanId: row.root_span_id,
  lineRunId: row.line_run_id,
  collection: row.collection,
  run: row.run,
  lineNumber: row.line_number,
  name: row.name,
  kind: row.kind,
  status: row.status,
  startTime: row.start_time,
  endTime: row.end_time,
  latency: row.latency,
  inputs: summaryValue(row.inputs, () => valueHref(row.trace_id, row.root_span_id, 'inputs')),
  outputs: summaryValue(row.outputs, () => valueHref(row.trace_id, row.root_span_id, 'output')),
  error: row.error,
  tokens:
    row.total_tokens === null ? null : {prompt: row.prompt_tokens ?? 0, completion: row.completion_tokens ?? 0, total: row.total_tokens},
})

/** A cursor names its sort, so it cannot be replayed against another order. */
export const encodeCursor = (cursor: TraceCursor, sort: TraceSort): string =>
  Buffer.from(JSON.stringify([sort, cursor.key, cursor.traceId])).toString('base64url')

export const decodeCursor = (text: string, sort: TraceSort): TraceCursor => {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      value[0] === sort &&
      ['string', 'number'].includes(typeof value[1]) &&
      typeof value[2] === 'string'
    )
      return {key: value[1], traceId: value[2]}
  } catch {
    // Not base64url JSON: refused below like any cursor this API did not return.
  }
  throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API returned; start again without it.')
}

/** `2026-11-26T05:30:30.123456Z`, the stored format, so bounds compare as text with stored times. */
const parseTime = (name: string, text: string): string => {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (!Number.isFinite(ms))
    throw new ApiError(400, 'invalid_time', `${name} must be an ISO 8601 time or epoch milliseconds; got "${text}".`)
  return new Date(ms).toISOString().slice(0, 23) + '000Z'
}

const parseLimit = (text: string | null, fallback: number, max: number): number => {
  if (text === null) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new ApiError(400, 'invalid_limit', `limit must be an integer from 1 to ${max}; got "${text}".`)
  return n
}

const nonEmpty = (value: string | null): string | undefined => (value === null || value === '' ? undefined : value)

/** `key=value` (the first `=` splits): an attribute filter. */
const parseAttributeFilter = (text: string): {key: string; value: string} => {
  const eq = text.indexOf('=')
  const key = eq > 0 ? text.slice(0, eq).trim() : ''
  if (!key || /["\\]/.test(key))
    throw new ApiError(400, 'invalid_attr', `attr must be KEY=VALUE with a key without quotes or backslashes; got "${text}".`)
  return {key, value: text.slice(eq + 1)}
}

/** Reads a list filter from query parameters (unknown values are refused, never ignored). */
export const parseTraceQuery = (query: URLSearchParams): {filter: TraceFilter; limit: number; after?: TraceCursor} => {
  const known = new Set(['collection', 'run', 'status', 'from', 'to', 'q', 'attr', 'sort', 'limit', 'cursor'])
  for (const key of query.keys())
    if (!known.has(key)) throw new ApiError(400, 'unknown_parameter', `Unknown parameter "${key}"; known: ${[...known].join(', ')}.`)
  const status = nonEmpty(query.get('status'))
    ?.split(',')
    .map(s => s.trim())
  for (const s of status ?? [])
    if (!statuses.includes(s)) throw new ApiError(400, 'invalid_status', `status must be among ${statuses.join(', ')}; got "${s}".`)
  const from = nonEmpty(query.get('from'))
  const to = nonEmpty(query.get('to'))
  const cursor = nonEmpty(query.get('cursor'))
  const sort = (nonEmpty(query.get('sort')) ?? 'start') as TraceSort
  if (!traceSorts.includes(sort)) throw new ApiError(400, 'invalid_sort', `sort must be one of ${traceSorts.join(', ')}; got "${sort}".`)
  const attributes = query
    .getAll('attr')
    .filter(a => a !== '')
    .map(parseAttributeFilter)
  return {
    filter: {
      collection: nonEmpty(query.get('collection')),
      run: nonEmpty(query.get('run')),
      status,
      from: from === undefined ? undefined : parseTime('from', from),
      to: to === undefined ? undefined : parseTime('to', to),
      text: nonEmpty(query.get('q')?.trim() ?? null),
      attributes,
      sort,
    },
    limit: parseLimit(query.get('limit'), 50, maxLimit),
    after: cursor === undefined ? undefined : decodeCursor(cursor, sort),
  }
}

/** The JSON API of the trace viewer, over a read-only store. */
export class ViewerApi {
  constructor(private readonly reader: TraceReader) {}

  listTraces(query: URLSearchParams): TraceListPage {
    const {filter, limit, after} = parseTraceQuery(query)
    const page = this.reader.listTraces(filter, limit, after)
    return {traces: page.rows.map(toSummary), nextCursor: page.next ? encodeCursor(page.next, filter.sort ?? 'start') : null}
  }

  /** A trace's spans; long attribute values are capped (see values.ts) unless `full` (the JSON export). */
  trace(traceId: string, full = false): TraceDetail {
    checkTraceId(traceId)
    const spans = this.reader.spans(traceId.toLowerCase())
    const row = this.reader.lineRun(traceId.toLowerCase())
    if (spans.length === 0 && !row) throw new ApiError(404, 'trace_not_found', `No trace ${traceId} in the local store.`)
    return {trace: row ? toSummary(row) : null, spans: full ? spans : spans.map(s => capSpan(s))}
  }

  /** The full value of one (capped) attribute of a span, or of one of its events. */
  value(traceId: string, spanId: string, query: URLSearchParams): {value: string} {
    checkTraceId(traceId)
    if (!/^[0-9a-f]{16}$/i.test(spanId)) throw new ApiError(400, 'invalid_span_id', `A span id is 16 hex digits; got "${spanId}".`)
    const attribute = query.get('attribute')
    if (!attribute) throw new ApiError(400, 'missing_attribute', 'Name the value with attribute=<attribute key>.')
    const eventText = nonEmpty(query.get('event'))
    const event = eventText === undefined ? undefined : Number(eventText)
    if (event !== undefined && !(Number.isInteger(event) && event >= 0))
      throw new ApiError(400, 'invalid_event', `event must be an event index; got "${eventText}".`)
    const span = this.reader.spans(traceId.toLowerCase()).find(s => s.context.span_id === spanId.toLowerCase())
    if (!span) throw new ApiError(404, 'span_not_found', `No span ${spanId} in trace ${traceId}.`)
    const value = spanValue(span, attribute, event)
    if (value === undefined)
      throw new ApiError(
        404,
        'value_not_found',
        `Span ${spanId} has no ${event === undefined ? '' : `event ${event} `}attribute "${attribute}".`,
      )
    return {value}
  }

  /** The runs page: runs with totals and evaluation runs, filtered and sorted. */
  runs(query: URLSearchParams): {runs: RunSummary[]} {
    refuseUnknown(query, ['q', 'status', 'flow', 'archived', 'sort', 'limit'])
    const limit = parseLimit(query.get('limit'), 100, 1000)
    const status = nonEmpty(query.get('status'))
      ?.split(',')
      .map(s => s.trim())
    for (const s of status ?? [])
      if (!runStatuses.includes(s)) throw new ApiError(400, 'invalid_status', `status must be among ${runStatuses.join(', ')}; got "${s}".`)
    const sortText = nonEmpty(query.get('sort')) ?? '-created'
    const sort = sortText.replace(/^-/, '') as RunSort
    if (!runSorts.includes(sort))
      throw new ApiError(400, 'invalid_sort', `sort must be one of ${runSorts.join(', ')} (prefix - for descending); got "${sortText}".`)
    const archived = nonEmpty(query.get('archived'))
    if (archived !== undefined && archived !== '0' && archived !== '1')
      throw new ApiError(400, 'invalid_archived', `archived must be 0 or 1; got "${archived}".`)
    const rows = listRuns(
      this.reader.db,
      {text: nonEmpty(query.get('q')?.trim() ?? null), status, flow: nonEmpty(query.get('flow')), archived: archived === '1'},
      sort,
      sortText.startsWith('-'),
      limit,
    )
    const names = rows.map(r => r.name)
    const totals = runTotals(this.reader.db, names)
    const evaluations = evaluationRuns(this.reader.db, names)
    return {runs: rows.map(r => toRunSummary(r, totals.get(r.name), evaluations.get(r.name)))}
  }

  /** Runs side by side, line by line (`runs=a,b[,c]`). */
  async compare(query: URLSearchParams): Promise<Comparison> {
    refuseUnknown(query, ['runs'])
    const names = parseRunNames(query.get('runs') ?? '')
    try {
      return await compareRuns(this.reader.db, names)
    } catch (error) {
      if ((error as {code?: string}).code === 'run_not_found') throw new ApiError(404, 'run_not_found', (error as Error).message)
      throw error
    }
  }

  /** Chart data of a run page: latency distribution, tokens per line, metrics over runs of the same flow. */
  runCharts(name: string): RunCharts {
    const row = this.reader.run(name)
    if (!row) throw new ApiError(404, 'run_not_found', `No run named "${name}" in the local store.`)
    const stats = lineStats(this.reader.db, name)
    return {
      latency: latencyHistogram(stats.map(s => s.latency)),
      tokens: tokenSeries(stats),
      flowRuns: flowMetrics(this.reader.db, row.flow),
    }
  }

  run(name: string, query: URLSearchParams): RunDetail {
    const row = this.reader.run(name)
    if (!row) throw new ApiError(404, 'run_not_found', `No run named "${name}" in the local store.`)
    const limit = parseLimit(query.get('limit'), 500, 5000)
    const afterText = nonEmpty(query.get('afterLine'))
    const afterLine = afterText === undefined ? -1 : Number(afterText)
    if (!Number.isInteger(afterLine)) throw new ApiError(400, 'invalid_after_line', `afterLine must be a line number; got "${afterText}".`)
    const lines = this.reader.runLines(name, limit + 1, afterLine)
    const more = lines.length > limit
    if (more) lines.length = limit
    const {column_mapping, tags, properties, metrics, archived, ...rest} = row
    return {
      run: {
        ...rest,
        column_mapping: parseJson(column_mapping),
        tags: parseJson(tags),
        properties: parseJson(properties),
        metrics: parseJson(metrics),
        archived: archived !== 0,
      },
      summary: toRunSummary(row, runTotals(this.reader.db, [name]).get(name), evaluationRuns(this.reader.db, [name]).get(name)),
      evaluations: runRows(this.reader.db, evaluationRuns(this.reader.db, [name]).get(name) ?? []).map(e => ({
        name: e.name,
        flow: e.flow,
        status: e.status,
        metrics: parseJson(e.metrics),
      })),
      lineCounts: Object.fromEntries(this.reader.runLineCounts(name).map(c => [c.status, c.count])),
      lines: lines.map(toSummary),
      nextAfterLine: more ? (lines.at(-1)!.line_number ?? null) : null,
      outputs: readRunOutputs(row.output_path, lines),
    }
  }

  collections(): {collections: CollectionSummary[]} {
    return {collections: this.reader.collections()}
  }

  /** Answers a GET under /v1.0/api (except the event stream); undefined for an unknown route. */
  async answer(route: string, query: URLSearchParams): Promise<{body: unknown; headers?: Record<string, string>} | undefined> {
    if (route === '/v1.0/api/traces') return {body: this.listTraces(query)}
    let m = /^\/v1\.0\/api\/traces\/([^/]+)$/.exec(route)
    if (m) {
      const traceId = decodeSegment(m[1])
      const download = query.get('download') === '1'
      const headers: Record<string, string> = download
        ? {'Content-Disposition': `attachment; filename="trace-${traceId.toLowerCase()}.json"`}
        : {}
      return {body: this.trace(traceId, download), headers}
    }
    m = /^\/v1\.0\/api\/traces\/([^/]+)\/spans\/([^/]+)\/value$/.exec(route)
    if (m) return {body: this.value(decodeSegment(m[1]), decodeSegment(m[2]), query)}
    if (route === '/v1.0/api/runs') return {body: this.runs(query)}
    if (route === '/v1.0/api/compare') return {body: await this.compare(query)}
    m = /^\/v1\.0\/api\/runs\/([^/]+)\/charts$/.exec(route)
    if (m) return {body: this.runCharts(decodeSegment(m[1]))}
    m = /^\/v1\.0\/api\/runs\/([^/]+)$/.exec(route)
    if (m) return {body: this.run(decodeSegment(m[1]), query)}
    if (route === '/v1.0/api/collections') return {body: this.collections()}
    return undefined
  }
}

const runStatuses = ['NotStarted', 'Running', 'Completed', 'Failed', 'Canceled']

const checkTraceId = (traceId: string) => {
  if (!/^[0-9a-f]{32}$/i.test(traceId)) throw new ApiError(400, 'invalid_trace_id', `A trace id is 32 hex digits; got "${traceId}".`)
}

const refuseUnknown = (query: URLSearchParams, known: string[]) => {
  for (const key of query.keys())
    if (!known.includes(key)) throw new ApiError(400, 'unknown_parameter', `Unknown parameter "${key}"; known: ${known.join(', ')}.`)
}

export const decodeSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new ApiError(400, 'invalid_path', 'The path is not valid URL encoding.')
  }
}

/** `a,b,c` → distinct run names, 1 to maxCompareRuns of them. */
export const parseRunNames = (text: string): string[] => {
  const names = text
    .split(',')
    .map(n => n.trim())
    .filter(Boolean)
  if (names.length === 0) throw new ApiError(400, 'missing_runs', 'Name the runs to compare: runs=<name>,<name>.')
  if (names.length > maxCompareRuns)
    throw new ApiError(400, 'too_many_runs', `Compare at most ${maxCompareRuns} runs at once; got ${names.length}.`)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i)
  if (duplicate !== undefined) throw new ApiError(400, 'duplicate_run', `Run "${duplicate}" is named twice.`)
  return names
}

const quantile = (sorted: number[], q: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

export const latencyHistogram = (latencies: number[], binCount = 20): RunCharts['latency'] => {
  const sorted = [...latencies].sort((a, b) => a - b)
  const base = {count: sorted.length, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99)}
  if (sorted.length === 0) return {...base, bins: []}
  const min = sorted[0]
  const max = sorted.at(-1)!
  const n = max === min ? 1 : Math.min(binCount, Math.max(1, Math.ceil(Math.sqrt(sorted.length))))
  const width = (max - min) / n || 1
  const bins = Array.from({length: n}, (_, i) => ({from: min + i * width, to: min + (i + 1) * width, count: 0}))
  for (const v of sorted) bins[Math.min(n - 1, Math.floor((v - min) / width))].count++
  return {...base, bins}
}

/** Tokens per line; beyond `maxPoints` lines, per equal range of line numbers. Lines without usage count 0. */
export const tokenSeries = (stats: Array<{line_number: number; total_tokens: number | null}>, maxPoints = 200): RunCharts['tokens'] => {
  if (stats.length === 0) return []
  const per = Math.ceil(stats.length / maxPoints)
  const out: RunCharts['tokens'] = []
  for (let i = 0; i < stats.length; i += per) {
    const group = stats.slice(i, i + per)
    const values = group.map(s => s.total_tokens ?? 0)
    out.push({
      from: group[0].line_number,
      to: group.at(-1)!.line_number,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      max: Math.max(...values),
    })
  }
  return out
}

const numericMetrics = (text: string | null, prefix = ''): Record<string, number> => {
  try {
    const parsed = JSON.parse(text ?? '{}')
    return Object.fromEntries(
      Object.entries(parsed)
        .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
        .map(([k, v]) => [prefix + k, v]),
    ) as Record<string, number>
  } catch {
    return {}
  }
}

/** Runs of a flow with their numeric metrics and their evaluation runs' (as `<evaluation flow>/<metric>`). */
const flowMetrics = (db: TraceReader['db'], flow: string): RunCharts['flowRuns'] => {
  const runs = flowRuns(db, flow, 30)
  const evaluations = evaluationRuns(
    db,
    runs.map(r => r.name),
  )
  const evalRows = new Map(runRows(db, [...evaluations.values()].flat()).map(r => [r.name, r]))
  return runs.map(r => {
    const metrics = numericMetrics(r.metrics)
    for (const name of evaluations.get(r.name) ?? []) {
      const e = evalRows.get(name)
      if (e) Object.assign(metrics, numericMetrics(e.metrics, `${evaluationName(e)}/`))
    }
    return {name: r.name, display_name: r.display_name, created_at: r.created_at, status: r.status, metrics}
  })
}

/**
 * Outputs of lines whose trace has none recorded, from `<output_path>/outputs.jsonl` (one JSON object per line,
 * with `line_number`). A missing or unreadable file just means no extra outputs.
 */
const readRunOutputs = (outputPath: string, lines: LineRunRow[]): Record<string, unknown> => {
  const wanted = new Set(lines.filter(l => l.outputs === null && l.line_number !== null).map(l => l.line_number!))
  if (wanted.size === 0) return {}
  let text: string
  try {
    text = readFileSync(path.join(outputPath, 'outputs.jsonl'), 'utf8')
  } catch {
    return {}
  }
  const out: Record<string, unknown> = {}
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      const record = JSON.parse(line)
      const n = record?.line_number
      if (typeof n === 'number' && wanted.has(n)) {
        const {line_number: _, ...rest} = record
        const text = JSON.stringify(rest)
        out[String(n)] =
          text.length > summaryCap ? {$pfTruncated: true, preview: text.slice(0, summaryCap), length: text.length, href: null} : rest
      }
    } catch {
      // A line cut short by a crash is not an output.
    }
  }
  return out
}
