// Worker of bench/cases/store-ingest.js. Usage: node store-ingest.js pf|raw TOTAL BATCH
// Writes TOTAL span records in batches of BATCH, through TraceStore.recordSpans (pf) or plain better-sqlite3
// inserts of the same rows into a one-table copy of the spans schema (raw); prints {ms, rss: {at: bytes}} as JSON.
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import Database from 'better-sqlite3'

import {makeLineSpans as makeBatch, repoRoot} from '../lib.js'

const [mode, total, batchSize] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 500)]
const home = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-ingest-'))

let write
let close
if (mode === 'pf') {
  const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
  const store = TraceStore.open(home)
  write = spans => store.recordSpans(spans)
  close = () => store.close()
} else {
  const db = new Database(path.join(home, 'raw.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, start_time TEXT NOT NULL,
    end_time TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (trace_id, span_id))`)
  const insert = db.prepare('INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?)')
  const tx = db.transaction(spans => {
    for (const s of spans)
      insert.run(s.context.trace_id, s.context.span_id, s.parent_id, s.name, s.start_time, s.end_time, JSON.stringify(s))
  })
  write = spans => tx(spans)
  close = () => db.close()
}

// Only the writes are timed: building the test records is not the store's work.
const rss = {}
let ns = 0n
for (let done = 0; done < total; done += batchSize) {
  const batch = makeBatch(batchSize, done)
  const start = process.hrtime.bigint()
  write(batch)
  ns += process.hrtime.bigint() - start
  const now = done + batchSize
  if (now === total / 5 || now === total) rss[now] = process.memoryUsage().rss
}
const ms = Number(ns) / 1e6
close()
process.stdout.write(JSON.stringify({ms, rss}))
