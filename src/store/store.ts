import {closeSync, existsSync, openSync} from 'node:fs'
import path from 'node:path'

import type Database from 'better-sqlite3'

import {ensurePrivateDir} from '../paths.js'
import {Attr} from '../contract/attributes.js'
import type {ResolvedDestination, SpanRecord} from '../contract/destination.js'
import {type ProcessIdentity, currentProcess, isProcessRunning} from '../util/process.js'
import {secondsBetween} from '../util/span-time.js'
import {migrations} from './schema.js'
import {openDatabase} from './sqlite.js'

export const storeFileName = 'pf.sqlite'

export const storePath = (home: string): string => path.join(home, storeFileName)

export type RunStatus = 'NotStarted' | 'Running' | 'Completed' | 'Failed' | 'Canceled'

/** A row of the `runs` table (schema migration 2). */
export interface RunRow {
  name: string
  display_name: string | null
  flow: string
  data: string | null
  base_run: string | null
  resume_from: string | null
  column_mapping: string | null
  status: RunStatus
  created_at: string
  started_at: string | null
  ended_at: string | null
  total_lines: number | null
  completed_lines: number
  failed_lines: number
  output_path: string
  tags: string | null
  properties: string | null
  metrics: string | null
  error: string | null
  archived: number
}

export interface LineRunRow {
  trace_id: string
  root_span_id: string
  line_run_id: string | null
  collection: string
  run: string | null
  line_number: number | null
  name: string
  kind: string | null
  status: string
  start_time: string
  end_time: string
  latency: number
  inputs: string | null
  outputs: string | null
  error: string | null
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
}

export interface OutboxItem {
  traceId: string
  spanId: string
  attempts: number
  span: SpanRecord
}

/** The page size of a store this creates (bench/lib.js opens its floors with it too). */
export const storePageSize = 8192

const jsonOrNull = (value: unknown): string | null =>
  value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value)

/**
 * The local trace store: one SQLite file (WAL) under the pf home, user-only. Several pf processes may write at
 * once; every write is one IMMEDIATE transaction with a busy timeout.
 */
/** An outbox claim's owner as stored: `pid:start` (start empty where the OS does not tell it). */
const claimOwner = (who: ProcessIdentity): string => `${who.pid}:${who.start ?? ''}`
const parseClaimOwner = (owner: string): ProcessIdentity => {
  const [pid, start] = owner.split(':')
  return {pid: Number(pid), start: start ? Number(start) : undefined}
}

/**
 * A claim's rows: the oldest due outbox items of a destination (read off `outbox_claim_order` in claim order, never
 * sorting every pending row), then only their span data: joining first made SQLite read every pending span's JSON
 * before sorting (10k pending spans: 60 ms a claim). Exported for the test that checks its plan.
 */
export const claimDueSql = `SELECT o.trace_id, o.span_id, o.attempts, s.data FROM
  (SELECT trace_id, span_id, attempts, created_at FROM outbox INDEXED BY outbox_claim_order
   WHERE destination = ? AND state = 'pending' AND next_attempt_at <= ? AND claimed_until <= ?
   ORDER BY created_at, trace_id, span_id LIMIT ?) o
 JOIN spans s ON s.trace_id = o.trace_id AND s.span_id = o.span_id
 ORDER BY o.created_at, o.trace_id, o.span_id`

export class TraceStore {
  readonly db: Database.Database
  private readonly insertSpan: Database.Statement
  private readonly replaceSpan: Database.Statement
  private readonly insertLineRun: Database.Statement
  private readonly insertOutbox: Database.Statement
  private readonly insertSearch: Database.Statement
  private readonly storedStart: Database.Statement
  private readonly unindexReplaced: Database.Statement
  /** Low bits of search rowids: per process from a random start, so writers rarely pick the same one. */
  private searchSequence = Math.floor(Math.random() * 0x100000)
  private readonly searchIndexedThrough: Database.Statement
  private readonly setSearchIndexedThrough: Database.Statement
  private readonly pendingSearch: Database.Statement
  private readonly indexSearchChunk: Database.Transaction<(chunk: number) => number>
  private readonly recordTransaction: Database.Transaction<(spans: SpanRecord[], remoteDestinations: string[], now: number) => void>

  static open(home: string): TraceStore {
    ensurePrivateDir(home)
    const file = storePath(home)
    // Create the file user-only before SQLite does; its -wal/-shm files take the same mode.
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600))
    return new TraceStore(openDatabase(file))
  }

  /** Opens the store only if it exists (reading commands do not create one). */
  static openExisting(home: string): TraceStore | undefined {
    return existsSync(storePath(home)) ? TraceStore.open(home) : undefined
  }

  private constructor(db: Database.Database) {
    this.db = db
    // 8 KiB pages (SQLite's default is 4) for a store created from now on (an existing one keeps its size). A traced
    // LLM call's span is 2–3 KB of JSON, which on 4 KiB pages took a page of its own, a third of it empty. Writing
    // 2,000 openai spans, on 4, 8 and 16 KiB pages: 65, 52 and 49 µs a span; 96, 88 and 80 after 60,000 rows. 16 KiB
    // made a batch run's small commits (every 20 ms, a few lines each) write larger pages: 4,000 lines 0.6 % slower;
    // 8 KiB ran them as 4 KiB did (docs/benchmarks.md, session 31).
    db.pragma(`page_size = ${storePageSize}`)
    db.pragma('busy_timeout = 10000')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // Up to 8 MiB of page cache (allocated only as used; SQLite's default is 2 MiB): span ids are random, so index
    // inserts touch pages all over the b-trees. 32 MiB paid off while each commit also wrote search documents; since
    // those are written later (migration 7), 8 MiB ingests as fast (1M spans: 43k spans/s either way) and a long
    // batch run holds 25 MB less.
    db.pragma('cache_size = -8192')
    this.migrate()
    // Positional parameters: binding a dozen by name from an object cost ≈ 1 µs more an insert (3.0 against 2.1 µs).
    const spanInsert = `INTO spans (${spanColumns.join(', ')}) VALUES (${spanColumns.map(() => '?').join(', ')})`
    this.insertSpan = db.prepare(`INSERT ${spanInsert} ON CONFLICT (trace_id, span_id) DO NOTHING`)
    this.replaceSpan = db.prepare(`INSERT OR REPLACE ${spanInsert}`)
    this.insertLineRun = db.prepare(
      `INSERT OR REPLACE INTO line_runs (${lineRunColumns.join(', ')}) VALUES (${lineRunColumns.map(() => '?').join(', ')})`,
    )
    this.insertOutbox = db.prepare(`INSERT OR IGNORE INTO outbox (destination, trace_id, span_id, created_at) VALUES (?, ?, ?, ?)`)
    this.insertSearch = db.prepare('INSERT INTO span_search (rowid, name, body, attrs, trace_id, span_id) VALUES (?, ?, ?, ?, ?, ?)')
    // A span stored again (same ids) replaces the row: its old search document goes first.
    this.storedStart = db.prepare('SELECT start_time FROM spans WHERE trace_id = ? AND span_id = ?').pluck()
    this.unindexReplaced = db.prepare('DELETE FROM span_search WHERE rowid >= ? AND rowid < ? AND trace_id = ? AND span_id = ?')
    this.recordTransaction = db.transaction((spans: SpanRecord[], remotes: string[], now: number) => this.writeSpans(spans, remotes, now))
    this.searchIndexedThrough = db.prepare('SELECT indexed_through FROM search_progress').pluck()
    this.setSearchIndexedThrough = db.prepare('UPDATE search_progress SET indexed_through = ?')
    // JSON.parse of the whole span was faster than SQLite's json_extract of its attributes (61k against 51k spans/s).
    this.pendingSearch = db.prepare('SELECT rowid, data FROM spans WHERE rowid > ? ORDER BY rowid LIMIT ?')
    this.indexSearchChunk = db.transaction((chunk: number) => this.indexChunk(chunk))
  }

  private migrate(): void {
    const current = () => this.db.pragma('user_version', {simple: true}) as number
    if (current() >= migrations.length) return
    this.db
      .transaction(() => {
        for (let version = current(); version < migrations.length; version++) {
          this.db.exec(migrations[version])
          this.db.pragma(`user_version = ${version + 1}`)
        }
      })
      .immediate()
  }

  /**
   * Records finished spans, the line run of each trace root, and one outbox row per span for every remote
   * destination, all in one transaction: a span is either stored with its outbox rows or not at all.
   */
  recordSpans(spans: SpanRecord[], remoteDestinations: string[] = []): void {
    if (spans.length === 0) return
    this.recordTransaction.immediate(spans, remoteDestinations, Date.now())
  }

  private writeSpans(spans: SpanRecord[], remoteDestinations: string[], now: number): void {
    for (const span of spans) {
      const attrs = span.attributes
      const resource = span.resource.attributes
      const run = (attrs[Attr.batchRunId] as string | undefined) ?? null
      const collection = String(resource.collection ?? 'default')
      const lineRunId = (attrs[Attr.lineRunId] as string | undefined) ?? null
      const spanType = (attrs[Attr.spanType] as string | undefined) ?? null
      const {trace_id: traceId, span_id: spanId} = span.context
      // In the order of spanColumns.
      const row = [
        traceId,
        spanId,
        span.parent_id,
        span.name,
        spanType,
        span.start_time,
        span.end_time,
        span.status.status_code,
        collection,
        run,
        lineRunId,
        JSON.stringify(span),
      ]
      // Almost every span is new: the insert alone. Only a span stored again (the collector receiving a retry, a
      // re-import) pays the lookup of its old row, whose search document goes before the row is replaced.
      if (this.insertSpan.run(...row).changes === 0) {
        const base = searchKeyBase(this.storedStart.get(traceId, spanId) as string)
        this.unindexReplaced.run(base, base + searchKeySpan, traceId, spanId)
        this.replaceSpan.run(...row)
      }
      for (const destination of remoteDestinations) this.insertOutbox.run(destination, traceId, spanId, now)
      if (span.parent_id === null) this.insertLineRun.run(...lineRunValues(span, collection, run, lineRunId, spanType))
    }
  }

  /**
   * Writes the search documents of spans stored since the last call (schema migration 7), `chunk` spans per
   * transaction so a writer waits at most one chunk; returns how many were indexed. One FTS5 segment per chunk
   * instead of one per `recordSpans` commit is what keeps ingest at the rate of the row inserts. Readers call this
   * before a search, and the viewer's server between requests, so a search sees every span stored before it.
   */
  indexPendingSearch(chunk = 2000, maxChunks = Infinity): number {
    let indexed = 0
    for (let round = 0; round < maxChunks; round++) {
      const done = this.indexSearchChunk.immediate(chunk)
      indexed += done
      if (done < chunk) break
    }
    return indexed
  }

  private indexChunk(chunk: number): number {
    const through = this.searchIndexedThrough.get() as number
    const rows = this.pendingSearch.all(through, chunk) as Array<{rowid: number; data: string}>
    for (const row of rows) this.indexForSearch(JSON.parse(row.data) as SpanRecord)
    if (rows.length > 0) this.setSearchIndexedThrough.run(rows.at(-1)!.rowid)
    return rows.length
  }

  /** Writes a span's search document under a free rowid of its start millisecond (see schema migration 4). */
  private indexForSearch(span: SpanRecord): void {
    const doc = searchDocument(span.attributes)
    const base = searchKeyBase(span.start_time)
    for (let attempt = 0; ; attempt++) {
      this.searchSequence = (this.searchSequence + 1) % 0x100000
      try {
        this.insertSearch.run(
          base + BigInt(this.searchSequence),
          span.name,
          doc.body,
          doc.attrs,
          span.context.trace_id,
          span.context.span_id,
        )
        return
      } catch (error) {
        // Another span of the same millisecond has this rowid: take the next sequence number.
        if ((error as {code?: string}).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY' || attempt >= 1000) throw error
      }
    }
  }

  /** Remembers how to reach a remote destination, so a later `pf trace sync` can rebuild its exporter. */
  saveDestination(dest: ResolvedDestination): void {
    this.db
      .prepare(
        `INSERT INTO destinations (key, scheme, value, resolved, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET scheme = excluded.scheme, value = excluded.value, resolved = excluded.resolved, updated_at = excluded.updated_at`,
      )
      .run(dest.key, dest.scheme, dest.value, JSON.stringify(dest), Date.now())
  }

  destinations(): ResolvedDestination[] {
    return (this.db.prepare('SELECT resolved FROM destinations ORDER BY key').all() as Array<{resolved: string}>).map(r =>
      JSON.parse(r.resolved),
    )
  }

  /**
   * Claims up to `limit` due outbox items of one destination for `leaseMs` (another process will not take them
   * meanwhile). The claim names this process (pid and start time): `releaseDeadClaims` takes back the claims of a
   * process that died at once; the lease is only the last resort (a process on another machine sharing the home).
   */
  claimOutbox(destination: string, limit: number, leaseMs: number): OutboxItem[] {
    const now = Date.now()
    return this.db
      .transaction(() => {
        const rows = this.db.prepare(claimDueSql).all(destination, now, now, limit) as Array<{
          trace_id: string
          span_id: string
          attempts: number
          data: string
        }>
        const claim = this.db.prepare(
          'UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE destination = ? AND trace_id = ? AND span_id = ?',
        )
        const owner = claimOwner(currentProcess())
        for (const r of rows) claim.run(now + leaseMs, owner, destination, r.trace_id, r.span_id)
        return rows.map(r => ({traceId: r.trace_id, spanId: r.span_id, attempts: r.attempts, span: JSON.parse(r.data) as SpanRecord}))
      })
      .immediate()
  }

  /**
   * Takes back the live claims on `destination`'s outbox held by processes that are gone (SIGKILL, crash), so their
   * items are due again now instead of when the lease ends. Returns how many items were released.
   */
  releaseDeadClaims(destination: string): number {
    const now = Date.now()
    const owners = this.db
      .prepare(
        `SELECT DISTINCT claimed_by FROM outbox WHERE destination = ? AND state = 'pending' AND claimed_until > ? AND claimed_by IS NOT NULL`,
      )
      .pluck()
      .all(destination, now) as string[]
    const self = claimOwner(currentProcess())
    const dead = owners.filter(owner => owner !== self && !isProcessRunning(parseClaimOwner(owner)))
    if (dead.length === 0) return 0
    const release = this.db.prepare(
      `UPDATE outbox SET claimed_until = 0, claimed_by = NULL WHERE destination = ? AND state = 'pending' AND claimed_by = ? AND claimed_until > ?`,
    )
    return this.db.transaction(() => dead.reduce((n, owner) => n + release.run(destination, owner, now).changes, 0)).immediate()
  }

  /** Drops what waits for `destination` (pending and parked items; the spans stay in the store). Returns how many. */
  discardOutbox(destination: string): number {
    return this.db.prepare(`DELETE FROM outbox WHERE destination = ? AND state IN ('pending', 'parked')`).run(destination).changes
  }

  /**
   * Makes every pending item of `destination` due now (`pf trace sync`: the user says the destination is back),
   * skipping pf's own backoff but not a Retry-After the receiver asked for.
   */
  retryNow(destination: string): void {
    this.db
      .prepare(
        `UPDATE outbox SET next_attempt_at = retry_not_before WHERE destination = ? AND state = 'pending' AND next_attempt_at > retry_not_before`,
      )
      .run(destination)
  }

  /** Settles claimed items: delivered, retried later (with backoff), or parked with the reason. */
  settleOutbox(
    destination: string,
    outcomes: Array<{
      traceId: string
      spanId: string
      outcome: 'delivered' | 'retry' | 'parked'
      error?: string
      retryAt?: number
      /** The receiver's own Retry-After (ms epoch): even `pf trace sync` does not send sooner. */
      notBefore?: number
    }>,
  ): void {
    const now = Date.now()
    // A delivered row goes (schema migration 8); the count of what was sent stays with the destination.
    const delivered = this.db.prepare(`DELETE FROM outbox WHERE destination = ? AND trace_id = ? AND span_id = ?`)
    const countDelivered = this.db.prepare(
      `INSERT INTO outbox_delivered (destination, spans) VALUES (?, ?) ON CONFLICT (destination) DO UPDATE SET spans = spans + excluded.spans`,
    )
    const retry = this.db.prepare(
      `UPDATE outbox SET next_attempt_at = ?, retry_not_before = ?, claimed_until = 0, last_error = ?, attempts = attempts + 1 WHERE destination = ? AND trace_id = ? AND span_id = ?`,
    )
    const parked = this.db.prepare(
      `UPDATE outbox SET state = 'parked', claimed_until = 0, last_error = ?, attempts = attempts + 1 WHERE destination = ? AND trace_id = ? AND span_id = ?`,
    )
    this.db
      .transaction(() => {
        let sent = 0
        for (const o of outcomes) {
          if (o.outcome === 'delivered') sent += delivered.run(destination, o.traceId, o.spanId).changes
          else if (o.outcome === 'retry') retry.run(o.retryAt ?? now, o.notBefore ?? 0, o.error ?? null, destination, o.traceId, o.spanId)
          else parked.run(o.error ?? 'rejected', destination, o.traceId, o.spanId)
        }
        if (sent > 0) countDelivered.run(destination, sent)
      })
      .immediate()
  }

  /** Pending/parked/delivered counts per destination (all destinations, or one). */
  outboxCounts(destination?: string): Array<{destination: string; pending: number; parked: number; delivered: number}> {
    return this.db
      .prepare(
        `SELECT destination, SUM(pending) AS pending, SUM(parked) AS parked, SUM(delivered) AS delivered FROM (
           SELECT destination, state = 'pending' AS pending, state = 'parked' AS parked, 0 AS delivered FROM outbox
           UNION ALL SELECT destination, 0, 0, spans FROM outbox_delivered
         ) ${destination ? 'WHERE destination = ?' : ''} GROUP BY destination ORDER BY destination`,
      )
      .all(...(destination ? [destination] : [])) as Array<{destination: string; pending: number; parked: number; delivered: number}>
  }

  /** The next time any pending item of `destination` becomes due (ms epoch), or undefined when none is pending. */
  nextDue(destination: string): number | undefined {
    const row = this.db
      .prepare(`SELECT MIN(MAX(next_attempt_at, claimed_until)) AS due FROM outbox WHERE destination = ? AND state = 'pending'`)
      .get(destination) as {due: number | null}
    return row.due ?? undefined
  }

  /** Line runs (trace roots), newest first. */
  lineRuns(filter: TraceFilter & {limit: number}): LineRunRow[] {
    const {where, params} = filterClause(filter)
    return this.db
      .prepare(`SELECT * FROM line_runs ${where} ORDER BY start_time DESC, trace_id LIMIT ?`)
      .all(...params, filter.limit) as LineRunRow[]
  }

  /** Up to `limit` distinct trace ids that start with `prefix` (lower-case hex), for ids given in short. */
  traceIdsWithPrefix(prefix: string, limit: number): string[] {
    // trace_id is indexed; a range scan keeps this fast (no LIKE, whose escaping and collation vary).
    return this.db
      .prepare('SELECT DISTINCT trace_id FROM spans WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id LIMIT ?')
      .pluck()
      .all(prefix, prefix + 'g', limit) as string[]
  }

  /** Every span of one trace, in start order. */
  traceSpans(traceId: string): SpanRecord[] {
    const rows = this.db.prepare('SELECT data FROM spans WHERE trace_id = ? ORDER BY start_time, span_id').all(traceId) as Array<{
      data: string
    }>
    return rows.map(r => JSON.parse(r.data) as SpanRecord)
  }

  /**
   * Streams spans (one row at a time, never all in memory), ordered by collection then trace so that spans
   * sharing a resource come together.
   */
  *iterateSpans(filter: TraceFilter): Generator<SpanRecord> {
    const {where, params} = filterClause(filter)
    const rows = this.db
      .prepare(`SELECT data FROM spans ${where} ORDER BY collection, trace_id, start_time, span_id`)
      .pluck()
      .iterate(...params)
    for (const data of rows) yield JSON.parse(data as string) as SpanRecord
  }

  /** Parked outbox items (never deliverable) with their reason, oldest first. */
  parkedOutbox(
    limit: number,
  ): Array<{destination: string; trace_id: string; span_id: string; attempts: number; last_error: string | null}> {
    return this.db
      .prepare(
        `SELECT destination, trace_id, span_id, attempts, last_error FROM outbox WHERE state = 'parked' ORDER BY destination, created_at, trace_id, span_id LIMIT ?`,
      )
      .all(limit) as Array<{destination: string; trace_id: string; span_id: string; attempts: number; last_error: string | null}>
  }

  /** The most recent error of a destination's pending items (why they are still waiting), if any. */
  lastPendingError(destination: string): string | undefined {
    const row = this.db
      .prepare(
        `SELECT last_error FROM outbox WHERE destination = ? AND state = 'pending' AND last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1`,
      )
      .get(destination) as {last_error: string} | undefined
    return row?.last_error
  }

  /**
   * Deletes whole traces selected by collection, run, or start before a time (a trace whose first span started
   * before it): their spans, line runs and outbox rows, in one transaction. `dryRun` only counts.
   */
  deleteTraces(selector: TraceSelector, dryRun = false): {traces: number; spans: number; lineRuns: number; outbox: number} {
    const [condition, ...params] =
      'collection' in selector
        ? selector.before === undefined
          ? ['SELECT DISTINCT trace_id FROM spans WHERE collection = ?', selector.collection]
          : [
              'SELECT trace_id FROM spans WHERE collection = ? GROUP BY trace_id HAVING MIN(start_time) < ?',
              selector.collection,
              selector.before,
            ]
        : 'run' in selector
          ? ['SELECT DISTINCT trace_id FROM spans WHERE run = ?', selector.run]
          : ['SELECT trace_id FROM spans GROUP BY trace_id HAVING MIN(start_time) < ?', selector.before]
    return this.db
      .transaction(() => {
        this.db.exec('DROP TABLE IF EXISTS temp.doomed_traces; CREATE TEMP TABLE doomed_traces (trace_id TEXT PRIMARY KEY)')
        this.db.prepare(`INSERT INTO temp.doomed_traces ${condition}`).run(...params)
        const count = (table: string) =>
          this.db
            .prepare(`SELECT COUNT(*) FROM ${table} WHERE trace_id IN (SELECT trace_id FROM temp.doomed_traces)`)
            .pluck()
            .get() as number
        const traces = this.db.prepare('SELECT COUNT(*) FROM temp.doomed_traces').pluck().get() as number
        let result
        if (dryRun) result = {traces, spans: count('spans'), lineRuns: count('line_runs'), outbox: count('outbox')}
        else {
          const remove = (table: string) =>
            this.db.prepare(`DELETE FROM ${table} WHERE trace_id IN (SELECT trace_id FROM temp.doomed_traces)`).run().changes
          this.db.prepare('DELETE FROM span_search WHERE trace_id IN (SELECT trace_id FROM temp.doomed_traces)').run()
          result = {traces, outbox: remove('outbox'), lineRuns: remove('line_runs'), spans: remove('spans')}
          // SQLite gives a new span MAX(rowid) + 1: after the newest spans went, those rowids come again, and must
          // count as not yet indexed.
          this.db
            .prepare('UPDATE search_progress SET indexed_through = MIN(indexed_through, (SELECT COALESCE(MAX(rowid), 0) FROM spans))')
            .run()
        }
        this.db.exec('DROP TABLE temp.doomed_traces')
        return result
      })
      .immediate()
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}

/** Which traces a query reads. */
export interface TraceFilter {
  collection?: string
  run?: string
}

/** Which traces a delete removes: exactly one criterion. `before` is an ISO 8601 UTC time. */
/** Whole traces of a collection (optionally only those started before a time), of a run, or started before a time. */
export type TraceSelector = {collection: string; before?: string} | {run: string} | {before: string}

const filterClause = (filter: TraceFilter): {where: string; params: string[]} => {
  const conditions: string[] = []
  const params: string[] = []
  if (filter.collection !== undefined) {
    conditions.push('collection = ?')
    params.push(filter.collection)
  }
  if (filter.run !== undefined) {
    conditions.push('run = ?')
    params.push(filter.run)
  }
  return {where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params}
}

/** Search rowids of spans that start in one millisecond: [base, base + searchKeySpan). */
export const searchKeySpan = 1n << 20n

/** The first search rowid of a span start time (stored format): its epoch milliseconds << 20. */
export const searchKeyBase = (startTime: string): bigint => BigInt(Date.parse(startTime.slice(0, 23) + 'Z') || 0) << 20n

/** Characters of inputs / output, and of any other attribute value, that the search index reads. */
const searchBodyCap = 65_536
const searchAttributeCap = 1024

/**
 * A span's search document (schema migration 4): inputs and output in `body`; every other scalar attribute as a
 * "key value" line in `attrs`, but for pf's computed token sums (numbers nobody searches for as text).
 */
export const searchDocument = (attributes: SpanRecord['attributes']): {body: string; attrs: string} => {
  const body: string[] = []
  const attrs: string[] = []
  for (const [key, value] of Object.entries(attributes)) {
    const type = typeof value
    if (type !== 'string' && type !== 'number' && type !== 'boolean') continue
    if (key === Attr.inputs || key === Attr.output) {
      if (type === 'string') body.push((value as string).slice(0, searchBodyCap))
    } else if (!key.startsWith('__computed__.')) attrs.push(`${key} ${String(value).slice(0, searchAttributeCap)}`)
  }
  return {body: body.join('\n'), attrs: attrs.join('\n')}
}

/** The columns of a `spans` row, in the order `writeSpans` gives their values. */
const spanColumns = [
  'trace_id',
  'span_id',
  'parent_id',
  'name',
  'span_type',
  'start_time',
  'end_time',
  'status',
  'collection',
  'run',
  'line_run_id',
  'data',
] as const
/** The columns of a `line_runs` row, in the order of `lineRunValues`. */
const lineRunColumns = [
  'trace_id',
  'root_span_id',
  'line_run_id',
  'collection',
  'run',
  'line_number',
  'name',
  'kind',
  'status',
  'start_time',
  'end_time',
  'latency',
  'inputs',
  'outputs',
  'error',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
] as const satisfies ReadonlyArray<keyof LineRunRow>

/** A trace root's line_runs values, in the order of `lineRunColumns`. */
const lineRunValues = (
  span: SpanRecord,
  collection: string,
  run: string | null,
  lineRunId: string | null,
  kind: string | null,
): Array<string | number | null> => {
  const a = span.attributes
  const num = (key: string) => (a[key] === undefined ? null : Number(a[key]))
  return [
    span.context.trace_id,
    span.context.span_id,
    lineRunId,
    collection,
    run,
    num(Attr.lineNumber),
    span.name,
    kind,
    span.status.status_code,
    span.start_time,
    span.end_time,
    secondsBetween(span.start_time, span.end_time),
    jsonOrNull(a[Attr.inputs]),
    jsonOrNull(a[Attr.output]),
    span.status.status_code === 'Error' ? (span.status.description ?? 'error') : null,
    num(Attr.cumulativePrompt),
    num(Attr.cumulativeCompletion),
    num(Attr.cumulativeTotal),
  ]
}
