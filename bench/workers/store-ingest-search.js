// Worker of bench/cases/viewer-search.js. Usage: node store-ingest-search.js indexed|unindexed TOTAL BATCH
// Writes TOTAL span records in batches of BATCH through TraceStore.recordSpans and prints {ms} (writes only), and
// for `indexed` also {indexMs}: the time to write the search documents of those spans afterwards, in bulk
// (TraceStore.indexPendingSearch, what the viewer does before a search or in the background; migration 7).
// `unindexed` swaps the search index (migration 4's span_search) for a view that drops every write, so the only
// difference between the two is the full-text index itself.
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {makeLineSpans as makeBatch, repoRoot} from '../lib.js'

const [mode, total, batchSize] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 500)]
const home = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-search-ingest-'))
const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))

if (mode === 'unindexed') {
  const store = TraceStore.open(home)
  store.db.exec(`DROP TABLE span_search;
    CREATE VIEW span_search AS SELECT 0 AS rowid, '' AS name, '' AS body, '' AS attrs, '' AS trace_id, '' AS span_id;
    CREATE TRIGGER span_search_insert INSTEAD OF INSERT ON span_search BEGIN SELECT 1; END;
    CREATE TRIGGER span_search_delete INSTEAD OF DELETE ON span_search BEGIN SELECT 1; END;`)
  store.close()
}
const store = TraceStore.open(home)

let ns = 0n
for (let done = 0; done < total; done += batchSize) {
  const batch = makeBatch(batchSize, done)
  const start = process.hrtime.bigint()
  store.recordSpans(batch)
  ns += process.hrtime.bigint() - start
}
let indexMs
if (mode === 'indexed') {
  const start = process.hrtime.bigint()
  const indexed = store.indexPendingSearch()
  indexMs = Number(process.hrtime.bigint() - start) / 1e6
  if (indexed !== total) throw new Error(`indexed ${indexed} of ${total} spans`)
}
store.close()
rmSync(home, {recursive: true, force: true})
process.stdout.write(JSON.stringify({ms: Number(ns) / 1e6, indexMs}))
