import {existsSync} from 'node:fs'

import type Database from 'better-sqlite3'

import type {SpanRecord} from '../contract/destination.js'
import {openDatabase} from './sqlite.js'
import {type LineRunRow, type RunRow, TraceStore, searchKeyBase, searchKeySpan, storePath} from './store.js'

export interface TraceFilter {
  collection?: string
  run?: string
  /** Span status codes of the root span: Ok, Error, Unset. */
  status?: string[]
  /** Inclusive lower / exclusive upper bound on the root span's start time (stored format). */
  from?: string
  to?: string
  /**
   * Full-text search (migration 4's index): every word must occur (a word ending in `*` as a prefix) in the name,
   * inputs, output or an attribute value of some span of the trace; case- and accent-insensitive.
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
 * FTS operators are just text); a chunk ending in `*` a prefix. Prefixes are opt-in: FTS5 answers a prefix by
 * merging the hit lists of every matching word before the first hit comes out (60× slower for a common word),
 * while a plain word's hits stream newest first. Undefined when no chunk has a letter or digit.
 */
export const ftsQuery = (text: string): string | undefined => {
  const chunks = text.split(/\s+/).filter(c => /[\p{L}\p{N}]/u.test(c))
  if (chunks.length === 0) return undefined
  return chunks
    .map(c => (c.endsWith('*') ? `"${c.replace(/\*+$/, '').replaceAll('"', '""')}" *` : `"${c.replaceAll('"', '""')}"`))
    .join(' ')
}

export interface CollectionSummary {
  collection: string
  traces: number
  last_start_time: string
}

/**
 * Queries of the local store for the trace viewer, on a read-only connection; every list is keyset-paged on
 * (start_time, trace_id), served by the indexes of migration 4. The one thing it writes is the search index, which
 * the store fills later than the spans (migration 7): a search first indexes what is pending, through a writer.
 */
export class TraceReader {
  /** Opens the store read-only, creating it first (with its schema) when no pf command has yet. */
  static open(home: string): TraceReader {
    const file = storePath(home)
    // A fresh home, or a store of an older schema: the writer creates/migrates it before the read-only connection.
    const writer = TraceStore.open(home)
    if (!existsSync(file)) {
      writer.close()
      throw new Error(`no store at ${file}`)
    }
    return new TraceReader(openDatabase(file, {readonly: true, fileMustExist: true}), writer)
  }

  private constructor(
    readonly db: Database.Database,
    private readonly writer: TraceStore,
  ) {
    db.pragma('busy_timeout = 5000')
  }

  /** The rowid of the newest stored span (0 when none): it changes whenever spans are stored. */
  newestSpan(): number {
    return this.db.prepare('SELECT COALESCE(MAX(rowid), 0) FROM spans').pluck().get() as number
  }

  /** Writes pending search documents (see TraceStore.indexPendingSearch); the viewer's server calls it when idle. */
  indexPendingSearch(chunk?: number, maxChunks?: number): number {
    return this.writer.indexPendingSearch(chunk, maxChunks)
  }

  /** One page of line runs (trace roots), newest first; `limit + 1` rows are read to know whether more follow. */
  listTraces(filter: TraceFilter, limit: number, after?: TraceCursor): {rows: LineRunRow[]; next?: TraceCursor} {
    const searches = searchConditions(filter)
    if (searches !== undefined && searches.length > 0) this.writer.indexPendingSearch()
    let rows: LineRunRow[]
    if (searches === undefined) rows = []
    else if (searches.length > 0 && (filter.sort ?? 'start') === 'start') rows = this.searchNewestFirst(filter, searches, limit + 1, after)
    else {
      const {sql, params} = listQuery(filter, limit + 1, after)
      rows = this.db.prepare(sql).all(...params) as LineRunRow[]
    }
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

  /**
   * A search's page, newest first, read from the newest search hits only. Hits come in descending span start
   * (the search rowid), and a trace's spans start no earlier than its root, so once `limit` accepted traces started
   * after the current hit's span, no trace still unseen can come before them: stop there.
   */
  private searchNewestFirst(filter: TraceFilter, searches: SearchCondition[], limit: number, after?: TraceCursor): LineRunRow[] {
    const [driver, ...others] = searches
    const hits = this.db
      .prepare('SELECT rowid, trace_id, span_id FROM span_search WHERE span_search MATCH ? ORDER BY rowid DESC')
      .safeIntegers(true)
    const lineRun = this.db.prepare('SELECT * FROM line_runs WHERE trace_id = ?')
    const fromMs = filter.from === undefined ? undefined : msOf(filter.from)
    const accepted: Array<{row: LineRunRow; ms: number}> = []
    const seen = new Set<string>()
    for (const hit of hits.iterate(driver.match) as Iterable<{rowid: bigint; trace_id: string; span_id: string}>) {
      const spanMs = Number(hit.rowid >> 20n)
      if (fromMs !== undefined && spanMs < fromMs) break
      if (accepted.length >= limit && accepted.filter(a => a.ms > spanMs).length >= limit) break
      if (seen.has(hit.trace_id)) continue
      if (driver.exact && !this.hasValue(hit.trace_id, hit.span_id, driver.exact)) continue
      seen.add(hit.trace_id)
      const row = lineRun.get(hit.trace_id) as LineRunRow | undefined
      if (!row || !passesFilter(row, filter, after)) continue
      if (!others.every(condition => this.traceMatches(row, condition))) continue
      accepted.push({row, ms: msOf(row.start_time)})
    }
    return accepted
      .map(a => a.row)
      .sort((a, b) => (a.start_time === b.start_time ? (a.trace_id < b.trace_id ? 1 : -1) : a.start_time < b.start_time ? 1 : -1))
      .slice(0, limit)
  }

  /** Whether a span's attribute (`path`) has one of `values`. */
  private hasValue(traceId: string, spanId: string, exact: NonNullable<SearchCondition['exact']>): boolean {
    const sql = `SELECT 1 FROM spans WHERE trace_id = ? AND span_id = ? AND json_extract(data, ?) IN (${exact.values.map(() => '?').join(', ')})`
    return this.db.prepare(sql).get(traceId, spanId, exact.path, ...exact.values) !== undefined
  }

  /** Whether some span of a trace (they start between its root's start and end) matches a search condition. */
  private traceMatches(row: LineRunRow, condition: SearchCondition): boolean {
    const spans = this.db
      .prepare('SELECT span_id FROM span_search WHERE span_search MATCH ? AND rowid >= ? AND rowid < ? AND trace_id = ?')
      .pluck()
      .all(condition.match, searchKeyBase(row.start_time), searchKeyBase(row.end_time) + searchKeySpan, row.trace_id) as string[]
    return condition.exact ? spans.some(spanId => this.hasValue(row.trace_id, spanId, condition.exact!)) : spans.length > 0
  }

  lineRun(traceId: string): LineRunRow | undefined {
    return this.db.prepare('SELECT * FROM line_runs WHERE trace_id = ?').get(traceId) as LineRunRow | undefined
  }

  /** Every span of a trace, in start order. */
  spans(traceId: string): SpanRecord[] {
    const rows = this.db.prepare('SELECT data FROM spans WHERE trace_id = ? ORDER BY start_time, span_id').all(traceId) as Array<{
      data: string
    }>
    return rows.map(r => JSON.parse(r.data) as SpanRecord)
  }

  run(name: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as RunRow | undefined
  }

  /** Runs, newest first (for the viewer's run filter). */
  runs(limit: number): RunRow[] {
    return this.db.prepare('SELECT * FROM runs ORDER BY created_at DESC LIMIT ?').all(limit) as RunRow[]
  }

  /** A run's lines in line order, paged after a line number. */
  runLines(run: string, limit: number, afterLine = -1): LineRunRow[] {
    return this.db
      .prepare('SELECT * FROM line_runs WHERE run = ? AND line_number > ? ORDER BY line_number, trace_id LIMIT ?')
      .all(run, afterLine, limit) as LineRunRow[]
  }

  runLineCounts(run: string): Array<{status: string; count: number}> {
    return this.db
      .prepare('SELECT status, COUNT(*) AS count FROM line_runs WHERE run = ? AND line_number IS NOT NULL GROUP BY status ORDER BY status')
      .all(run) as Array<{
      status: string
      count: number
    }>
  }

  collections(): CollectionSummary[] {
    return this.db
      .prepare(
        'SELECT collection, COUNT(*) AS traces, MAX(start_time) AS last_start_time FROM line_runs GROUP BY collection ORDER BY last_start_time DESC',
      )
      .all() as CollectionSummary[]
  }

  close(): void {
    if (this.db.open) this.db.close()
    this.writer.close()
  }
}

interface SearchCondition {
  /** FTS5 query. */
  match: string
  /** For an attribute filter: the span's attribute (JSON path) must have one of these values. */
  exact?: {path: string; values: unknown[]}
}

/** The filter's text and attribute conditions; undefined when one of them can match nothing (no words). */
const searchConditions = (filter: TraceFilter): SearchCondition[] | undefined => {
  const conditions: SearchCondition[] = []
  if (filter.text !== undefined) {
    const match = ftsQuery(filter.text)
    if (match === undefined) return undefined
    conditions.push({match})
  }
  for (const {key, value} of filter.attributes ?? []) {
    // The index narrows to spans with "key value" in their attribute lines; the span JSON decides exactly.
    const phrase = `${key} ${value}`
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean)
      .join(' ')
    if (!phrase) return undefined
    const values = [value, ...(/^-?\d+(\.\d+)?$/.test(value) ? [Number(value)] : value === 'true' ? [1] : value === 'false' ? [0] : [])]
    conditions.push({match: `attrs : "${phrase}"`, exact: {path: `$.attributes."${key}"`, values}})
  }
  return conditions
}

const msOf = (time: string): number => Date.parse(time.slice(0, 23) + 'Z')

/** The list filter's conditions on a line run (the search path checks them row by row). */
const passesFilter = (row: LineRunRow, filter: TraceFilter, after?: TraceCursor): boolean =>
  (filter.collection === undefined || row.collection === filter.collection) &&
  (filter.run === undefined || row.run === filter.run) &&
  (!filter.status?.length || filter.status.includes(row.status)) &&
  (filter.from === undefined || row.start_time >= filter.from) &&
  (filter.to === undefined || row.start_time < filter.to) &&
  (after === undefined || row.start_time < String(after.key) || (row.start_time === after.key && row.trace_id < after.traceId))

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
  // Search: all the traces some span of which matches (the full-text index), then sorted.
  for (const {match, exact} of searchConditions(filter) ?? [{match: ''}]) {
    if (!exact) add('trace_id IN (SELECT trace_id FROM span_search WHERE span_search MATCH ?)', match)
    else
      add(
        `trace_id IN (SELECT f.trace_id FROM span_search f JOIN spans s ON s.trace_id = f.trace_id AND s.span_id = f.span_id
          WHERE span_search MATCH ? AND json_extract(s.data, ?) IN (${exact.values.map(() => '?').join(', ')}))`,
        match,
        exact.path,
        ...exact.values,
      )
  }
  const column = sortColumn[filter.sort ?? 'start']
  if (after) add(`(${column}, trace_id) < (?, ?)`, after.key, after.traceId)
  const sql = `SELECT * FROM line_runs ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${column} DESC, trace_id DESC LIMIT ?`
  return {sql, params: [...params, limit]}
}
