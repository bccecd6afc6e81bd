import {existsSync} from 'node:fs'

import Database from 'better-sqlite3'

import type {SpanRecord} from '../contract/destination.js'
import {type LineRunRow, type RunRow, TraceStore, storePath} from './store.js'

export interface TraceFilter {
  collection?: string
  run?: string
  /** Span status codes of the root span: Ok, Error, Unset. */
  status?: string[]
  /** Inclusive lower / exclusive upper bound on the root span's start time (stored format). */
  from?: string
  to?: string
  /**
   * Full-text search (migration 3's index): every word must occur, the last one as a prefix, in the name, inputs,
   * output or an attribute value of some span of the trace; case- and accent-insensitive.
   */
  text?: string
  /** Some span of the trace has each of these attributes with exactly this value. */
  attributes?: Array<{key: string; value: string}>
  /** Order of the list, always descending: start time (default), latency, total tokens. */
  sort?: TraceSort
}

export const traceSorts = ['start', 'latency', 'tokens'] as const
export type TraceSort = (typeof traceSorts)[number]

/** Keyset position: the sort key and trace id of the last row of the previous page. */
export interface TraceCursor {
  key: string | number
  traceId: string
}

const sortColumn: Record<TraceSort, string> = {start: 'start_time', latency: 'latency', tokens: 'COALESCE(total_tokens, -1)'}
const sortKeyOf = (row: LineRunRow, sort: TraceSort): string | number =>
  sort === 'start' ? row.start_time : sort === 'latency' ? row.latency : (row.total_tokens ?? -1)

/**
 * The user's search text as an FTS5 query: each whitespace-separated chunk a quoted phrase (so punctuation and
 * FTS operators are just text), the last one a prefix. Undefined when no chunk has a letter or digit.
 */
export const ftsQuery = (text: string): string | undefined => {
  const chunks = text.split(/\s+/).filter(c => /[\p{L}\p{N}]/u.test(c))
  if (chunks.length === 0) return undefined
  return chunks.map((c, i) => `"${c.replaceAll('"', '""')}"${i === chunks.length - 1 ? ' *' : ''}`).join(' ')
}

export interface CollectionSummary {
  collection: string
  traces: number
  last_start_time: string
}

/**
 * Read-only queries of the local store for the trace viewer. Opens pf.sqlite read-only (the viewer never
 * writes); every list is keyset-paged on (start_time, trace_id), served by the indexes of migration 3.
 */
export class TraceReader {
  private readonly statements = new Map<string, Database.Statement>()

  /** Opens the store read-only, creating it first (with its schema) when no pf command has yet. */
  static open(home: string): TraceReader {
    const file = storePath(home)
    // A fresh home, or a store of an older schema: let the writer create/migrate it once, then read only.
    TraceStore.open(home).close()
    if (!existsSync(file)) throw new Error(`no store at ${file}`)
    return new TraceReader(new Database(file, {readonly: true, fileMustExist: true}))
  }

  private constructor(readonly db: Database.Database) {
    db.pragma('busy_timeout = 5000')
  }

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql)
    if (!stmt) {
      stmt = this.db.prepare(sql)
      this.statements.set(sql, stmt)
    }
    return stmt
  }

  /** One page of line runs (trace roots), newest first; `limit + 1` rows are read to know whether more follow. */
  listTraces(filter: TraceFilter, limit: number, after?: TraceCursor): {rows: LineRunRow[]; next?: TraceCursor} {
    const {sql, params} = listQuery(filter, limit + 1, after)
    const rows = this.statement(sql).all(...params) as LineRunRow[]
    if (rows.length <= limit) return {rows}
    rows.length = limit
    const last = rows.at(-1)!
    return {rows, next: {key: sortKeyOf(last, filter.sort ?? 'start'), traceId: last.trace_id}}
  }

  /** SQLite's plan for a list query (tests check a page never sorts the whole table). */
  explainList(filter: TraceFilter, after?: TraceCursor): string[] {
    const {sql, params} = listQuery(filter, 51, after)
    return (this.db.prepare('EXPLAIN QUERY PLAN ' + sql).all(...params) as Array<{detail: string}>).map(r => r.detail)
  }

  lineRun(traceId: string): LineRunRow | undefined {
    return this.statement('SELECT * FROM line_runs WHERE trace_id = ?').get(traceId) as LineRunRow | undefined
  }

  /** Every span of a trace, in start order. */
  spans(traceId: string): SpanRecord[] {
    const rows = this.statement('SELECT data FROM spans WHERE trace_id = ? ORDER BY start_time, span_id').all(traceId) as Array<{data: string}>
    return rows.map(r => JSON.parse(r.data) as SpanRecord)
  }

  run(name: string): RunRow | undefined {
    return this.statement('SELECT * FROM runs WHERE name = ?').get(name) as RunRow | undefined
  }

  /** Runs, newest first (for the viewer's run filter). */
  runs(limit: number): RunRow[] {
    return this.statement('SELECT * FROM runs ORDER BY created_at DESC LIMIT ?').all(limit) as RunRow[]
  }

  /** A run's lines in line order, paged after a line number. */
  runLines(run: string, limit: number, afterLine = -1): LineRunRow[] {
    return this.statement(
      'SELECT * FROM line_runs WHERE run = ? AND line_number > ? ORDER BY line_number, trace_id LIMIT ?',
    ).all(run, afterLine, limit) as LineRunRow[]
  }

  runLineCounts(run: string): Array<{status: string; count: number}> {
    return this.statement('SELECT status, COUNT(*) AS count FROM line_runs WHERE run = ? AND line_number IS NOT NULL GROUP BY status ORDER BY status').all(run) as Array<{
      status: string
      count: number
    }>
  }

  collections(): CollectionSummary[] {
    return this.statement(
      'SELECT collection, COUNT(*) AS traces, MAX(start_time) AS last_start_time FROM line_runs GROUP BY collection ORDER BY last_start_time DESC',
    ).all() as CollectionSummary[]
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}

const listQuery = (filter: TraceFilter, limit: number, after?: TraceCursor): {sql: string; params: unknown[]} => {
  const where: string[] = []
  const params: unknown[] = []
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause)
    params.push(...values)
  }
  if (filter.collection !== undefined) add('collection = ?', filter.collection)
  if (filter.run !== undefined) add('run = ?', filter.run)
  if (filter.status && filter.status.length > 0) add(`status IN (${filter.status.map(() => '?').join(', ')})`, ...filter.status)
  if (filter.from !== undefined) add('start_time >= ?', filter.from)
  if (filter.to !== undefined) add('start_time < ?', filter.to)
  // Search: the traces some span of which matches, from the full-text index (then joined by span rowid).
  const matching = `trace_id IN (SELECT s.trace_id FROM span_search JOIN spans s ON s.rowid = span_search.rowid WHERE span_search MATCH ?`
  if (filter.text !== undefined) {
    const query = ftsQuery(filter.text)
    if (query === undefined) add('0')
    else add(matching + ')', query)
  }
  for (const {key, value} of filter.attributes ?? []) {
    // The index narrows to spans with "key value" in their attribute lines; the span JSON decides exactly.
    const phrase = `${key} ${value}`.split(/[^\p{L}\p{N}]+/u).filter(Boolean).join(' ')
    const exact = [value, ...(/^-?\d+(\.\d+)?$/.test(value) ? [Number(value)] : value === 'true' ? [1] : value === 'false' ? [0] : [])]
    if (!phrase) add('0')
    else add(`${matching} AND json_extract(s.data, ?) IN (${exact.map(() => '?').join(', ')}))`, `attrs : "${phrase}"`, `$.attributes."${key}"`, ...exact)
  }
  const column = sortColumn[filter.sort ?? 'start']
  if (after) add(`(${column}, trace_id) < (?, ?)`, after.key, after.traceId)
  const sql = `SELECT * FROM line_runs ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${column} DESC, trace_id DESC LIMIT ?`
  return {sql, params: [...params, limit]}
}
