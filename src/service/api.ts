import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {CollectionSummary, TraceCursor, TraceFilter, TraceReader} from '../store/reader.js'
import type {LineRunRow, RunRow} from '../store/store.js'
import type {SpanRecord} from '../contract/destination.js'
import {parseJsonOrText} from '../util/json.js'

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
  lineCounts: Record<string, number>
  lines: TraceSummary[]
  /** Pass as `afterLine` for the next page of lines; null on the last page. */
  nextAfterLine: number | null
  /** Line outputs from the run's outputs.jsonl, by line number (lines whose output is not in the trace). */
  outputs: Record<string, unknown>
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
  inputs: parseJson(row.inputs),
  outputs: parseJson(row.outputs),
  error: row.error,
  tokens: row.total_tokens === null ? null : {prompt: row.prompt_tokens ?? 0, completion: row.completion_tokens ?? 0, total: row.total_tokens},
})

export const encodeCursor = (cursor: TraceCursor): string => Buffer.from(JSON.stringify([cursor.startTime, cursor.traceId])).toString('base64url')

export const decodeCursor = (text: string): TraceCursor => {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (Array.isArray(value) && value.length === 2 && value.every(v => typeof v === 'string')) return {startTime: value[0], traceId: value[1]}
  } catch {}
  throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API returned; start again without it.')
}

/** `2026-11-26T05:30:30.123456Z`, the stored format, so bounds compare as text with stored times. */
const parseTime = (name: string, text: string): string => {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (!Number.isFinite(ms)) throw new ApiError(400, 'invalid_time', `${name} must be an ISO 8601 time or epoch milliseconds; got "${text}".`)
  return new Date(ms).toISOString().slice(0, 23) + '000Z'
}

const parseLimit = (text: string | null, fallback: number, max: number): number => {
  if (text === null) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ApiError(400, 'invalid_limit', `limit must be an integer from 1 to ${max}; got "${text}".`)
  return n
}

const nonEmpty = (value: string | null): string | undefined => (value === null || value === '' ? undefined : value)

/** Reads a list filter from query parameters (unknown values are refused, never ignored). */
export const parseTraceQuery = (query: URLSearchParams): {filter: TraceFilter; limit: number; after?: TraceCursor} => {
  const known = new Set(['collection', 'run', 'status', 'from', 'to', 'q', 'limit', 'cursor'])
  for (const key of query.keys()) if (!known.has(key)) throw new ApiError(400, 'unknown_parameter', `Unknown parameter "${key}"; known: ${[...known].join(', ')}.`)
  const status = nonEmpty(query.get('status'))?.split(',').map(s => s.trim())
  for (const s of status ?? []) if (!statuses.includes(s)) throw new ApiError(400, 'invalid_status', `status must be among ${statuses.join(', ')}; got "${s}".`)
  const from = nonEmpty(query.get('from'))
  const to = nonEmpty(query.get('to'))
  const cursor = nonEmpty(query.get('cursor'))
  return {
    filter: {
      collection: nonEmpty(query.get('collection')),
      run: nonEmpty(query.get('run')),
      status,
      from: from === undefined ? undefined : parseTime('from', from),
      to: to === undefined ? undefined : parseTime('to', to),
      text: nonEmpty(query.get('q')?.trim() ?? null),
    },
    limit: parseLimit(query.get('limit'), 50, maxLimit),
    after: cursor === undefined ? undefined : decodeCursor(cursor),
  }
}

/** The JSON API of the trace viewer, over a read-only store. */
export class ViewerApi {
  constructor(private readonly reader: TraceReader) {}

  listTraces(query: URLSearchParams): TraceListPage {
    const {filter, limit, after} = parseTraceQuery(query)
    const page = this.reader.listTraces(filter, limit, after)
    return {traces: page.rows.map(toSummary), nextCursor: page.next ? encodeCursor(page.next) : null}
  }

  trace(traceId: string): TraceDetail {
    if (!/^[0-9a-f]{32}$/i.test(traceId)) throw new ApiError(400, 'invalid_trace_id', `A trace id is 32 hex digits; got "${traceId}".`)
    const spans = this.reader.spans(traceId.toLowerCase())
    const row = this.reader.lineRun(traceId.toLowerCase())
    if (spans.length === 0 && !row) throw new ApiError(404, 'trace_not_found', `No trace ${traceId} in the local store.`)
    return {trace: row ? toSummary(row) : null, spans}
  }

  runs(query: URLSearchParams): {runs: Array<Pick<RunRow, 'name' | 'display_name' | 'status' | 'created_at' | 'flow'>>} {
    const limit = parseLimit(query.get('limit'), 100, 1000)
    return {runs: this.reader.runs(limit).map(r => ({name: r.name, display_name: r.display_name, status: r.status, created_at: r.created_at, flow: r.flow}))}
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
      run: {...rest, column_mapping: parseJson(column_mapping), tags: parseJson(tags), properties: parseJson(properties), metrics: parseJson(metrics), archived: archived !== 0},
      lineCounts: Object.fromEntries(this.reader.runLineCounts(name).map(c => [c.status, c.count])),
      lines: lines.map(toSummary),
      nextAfterLine: more ? (lines.at(-1)!.line_number ?? null) : null,
      outputs: readRunOutputs(row.output_path, lines),
    }
  }

  collections(): {collections: CollectionSummary[]} {
    return {collections: this.reader.collections()}
  }
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
        out[String(n)] = rest
      }
    } catch {}
  }
  return out
}
