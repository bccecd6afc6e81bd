import type http from 'node:http'

import type Database from 'better-sqlite3'

/** What changed in the store since the previous event. */
export interface ChangeEvent {
  /** Traces that got new (or replaced) spans. */
  traces: string[]
  /** Of those, traces whose root span arrived (a new or finished line run). */
  roots: string[]
  collections: string[]
  /** Runs whose record changed (created, progress, status, metrics) or that got spans. */
  runs: string[]
}

/** Most new spans read per poll; a burst larger than this is reported over the following polls. */
const maxSpansPerPoll = 20_000

/**
 * Live updates for the viewer (server-sent events on `GET /v1.0/api/events`). Other processes write the store, so
 * while a page listens the feed polls: `PRAGMA data_version` (free: it changes only when another connection
 * commits), then the spans after the last rowid seen and a fingerprint of each run's progress. Pages get one
 * `change` event per poll that found something, ≤ `intervalMs` after the commit.
 */
export class LiveFeed {
  private readonly clients = new Set<http.ServerResponse>()
  private timer?: NodeJS.Timeout
  private heartbeat?: NodeJS.Timeout
  private dataVersion = -1
  private lastRowid = 0
  private runPrints = new Map<string, string>()

  constructor(
    private readonly db: Database.Database,
    private readonly intervalMs = 200,
  ) {}

  subscribe(req: http.IncomingMessage, res: http.ServerResponse, headers: Record<string, string>): void {
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    })
    res.write('retry: 1000\n: connected\n\n')
    if (this.clients.size === 0) this.start()
    this.clients.add(res)
    req.on('close', () => {
      this.clients.delete(res)
      if (this.clients.size === 0) this.stop()
    })
  }

  private start(): void {
    this.dataVersion = this.version()
    this.lastRowid = this.maxRowid()
    this.runPrints = this.runFingerprints()
    this.timer = setInterval(() => this.poll(), this.intervalMs)
    // Proxies and browsers drop a silent stream; a comment line every 15 s keeps it open.
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), 15_000)
  }

  private stop(): void {
    clearInterval(this.timer)
    clearInterval(this.heartbeat)
    this.timer = this.heartbeat = undefined
  }

  private version = () => this.db.pragma('data_version', {simple: true}) as number
  private maxRowid = () => (this.db.prepare('SELECT MAX(rowid) FROM spans').pluck().get() as number | null) ?? 0

  private runFingerprints(): Map<string, string> {
    const rows = this.db
      .prepare(
        `SELECT name, status || '|' || completed_lines || '|' || failed_lines || '|' || COALESCE(ended_at, '') || '|' || COALESCE(length(metrics), 0) || '|' || archived AS print FROM runs`,
      )
      .all() as Array<{name: string; print: string}>
    return new Map(rows.map(r => [r.name, r.print]))
  }

  /** One poll: reads what changed since the last and tells every listener. Exposed for tests. */
  poll(): ChangeEvent | undefined {
    if (!this.db.open) return
    const version = this.version()
    if (version === this.dataVersion) return
    this.dataVersion = version
    const max = this.maxRowid()
    // Rows deleted from the end let SQLite hand out their rowids again.
    if (max < this.lastRowid) this.lastRowid = max
    const spans = this.db
      .prepare('SELECT rowid, trace_id, parent_id, collection, run FROM spans WHERE rowid > ? ORDER BY rowid LIMIT ?')
      .all(this.lastRowid, maxSpansPerPoll) as Array<{
      rowid: number
      trace_id: string
      parent_id: string | null
      collection: string
      run: string | null
    }>
    if (spans.length > 0) this.lastRowid = spans.at(-1)!.rowid
    const traces = new Set<string>()
    const roots = new Set<string>()
    const collections = new Set<string>()
    const runs = new Set<string>()
    for (const s of spans) {
      traces.add(s.trace_id)
      if (s.parent_id === null) roots.add(s.trace_id)
      collections.add(s.collection)
      if (s.run) runs.add(s.run)
    }
    const prints = this.runFingerprints()
    for (const [name, print] of prints) if (this.runPrints.get(name) !== print) runs.add(name)
    for (const name of this.runPrints.keys()) if (!prints.has(name)) runs.add(name)
    this.runPrints = prints
    if (traces.size === 0 && runs.size === 0) return
    const event: ChangeEvent = {traces: [...traces], roots: [...roots], collections: [...collections], runs: [...runs]}
    this.broadcast(`event: change\ndata: ${JSON.stringify(event)}\n\n`)
    return event
  }

  private broadcast(text: string): void {
    for (const res of this.clients) res.write(text)
  }

  close(): void {
    this.stop()
    for (const res of this.clients) res.end()
    this.clients.clear()
  }
}
