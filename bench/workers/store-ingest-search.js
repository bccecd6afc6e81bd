// Worker of bench/cases/viewer-search.js. Usage: node store-ingest-search.js indexed|unindexed TOTAL BATCH
// Writes TOTAL span records in batches of BATCH through TraceStore.recordSpans and prints {ms} (writes only).
// `unindexed` swaps the search index (migration 3's span_search) for a view that drops every write, so the only
// difference between the two is the full-text index itself.
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {repoRoot} from '../lib.js'

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

/** The spans of one line: a Flow root and Function children with inputs, output and payload events. */
const makeBatch = (n, serial) => {
  const traceId = randomBytes(16).toString('hex')
  const rootId = randomBytes(8).toString('hex')
  const time = new Date(Date.UTC(2026, 0, 1) + serial).toISOString().slice(0, 23)
  return Array.from({length: n}, (_, i) => {
    const inputs = JSON.stringify({
      question: `What is prompt flow? (${serial + i})`,
      context: 'Prompt flow is a suite of development tools.',
    })
    const output = JSON.stringify({answer: 'It is a suite of development tools for LLM apps.', score: 0.87})
    return {
      name: i === 0 ? 'flow' : 'retrieve',
      context: {trace_id: traceId, span_id: i === 0 ? rootId : randomBytes(8).toString('hex'), trace_state: ''},
      kind: 'SpanKind.INTERNAL',
      parent_id: i === 0 ? null : rootId,
      start_time: time + '001Z',
      end_time: time + '902Z',
      status: {status_code: 'Ok'},
      attributes: {
        framework: 'promptflow',
        span_type: i === 0 ? 'Flow' : 'Function',
        function: 'retrieve',
        inputs,
        output,
        line_run_id: traceId,
      },
      events: [
        {name: 'promptflow.function.inputs', timestamp: time + '002Z', attributes: {payload: inputs}},
        {name: 'promptflow.function.output', timestamp: time + '901Z', attributes: {payload: output}},
      ],
      links: [],
      resource: {attributes: {'service.name': 'promptflow', collection: 'bench'}, schema_url: ''},
    }
  })
}

let ns = 0n
for (let done = 0; done < total; done += batchSize) {
  const batch = makeBatch(batchSize, done)
  const start = process.hrtime.bigint()
  store.recordSpans(batch)
  ns += process.hrtime.bigint() - start
}
store.close()
rmSync(home, {recursive: true, force: true})
process.stdout.write(JSON.stringify({ms: Number(ns) / 1e6}))
