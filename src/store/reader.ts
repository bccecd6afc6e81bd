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
  /** Case-insensitive substring of the name, inputs or outputs. */
  text?: string
}

/** Keyset position: the last row of the previous page. */
export interface TraceCursor {
  startTime: string
  traceId: string
}

export interface CollectionSummary {
  collection: string
  traces: number
  last_start_time: string
}

/** `LIKE` with the user's text taken literally. */
const likePattern = (text: string) => `%${text.replaceAll(/[\\%_]/g, c => '\\' + c)}%`

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
    return {rows, next: {startTime: last.start_time, traceId: last.trace_id}}
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
  if (filter.text) {
    const pattern = likePattern(filter.text)
    add(`(name LIKE ? ESCAPE '\\' OR inputs LIKE ? ESCAPE '\\' OR outputs LIKE ? ESCAPE '\\')`, pattern, pattern, pattern)
  }
  if (after) add('(start_time, trace_id) < (?, ?)', after.startTime, after.traceId)
  const sql = `SELECT * FROM line_runs ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY start_time DESC, trace_id DESC LIMIT ?`
  return {sql, params: [...params, limit]}
}
