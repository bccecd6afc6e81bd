import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {rmSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {median, repoRoot, tempDir} from '../lib.js'

let traces = Number(process.env.PF_BENCH_SEARCH_TRACES ?? 100_000)
const spansPerTrace = 10
let ingestSpans = Number(process.env.PF_BENCH_SEARCH_INGEST ?? 100_000)
const worker = path.join(repoRoot, 'bench', 'workers', 'store-ingest-search.js')

const stamp = ms => new Date(ms).toISOString().slice(0, 23) + '000Z'
const hex = bytes => randomBytes(bytes).toString('hex')

/** A trace like bench viewer-list's: a Flow root with nine Function/LLM children, inputs, outputs, usage. */
const traceSpans = (i, t0) => {
  const traceId = hex(16)
  const rootId = hex(8)
  const start = t0 + i * 1000
  const resource = {attributes: {'service.name': 'promptflow', collection: `flow_${i % 20}`}, schema_url: ''}
  const span = (spanId, parentId, name, type, offset, inputs, output, extra = {}) => ({
    name,
    context: {trace_id: traceId, span_id: spanId, trace_state: ''},
    kind: 'SpanKind.INTERNAL',
    parent_id: parentId,
    start_time: stamp(start + offset),
    end_time: stamp(start + offset + 40 + (i % 97)),
    status: {status_code: i % 50 === 0 && parentId === null ? 'Error' : 'Ok'},
    attributes: {
      framework: 'promptflow',
      span_type: type,
      function: name,
      inputs: JSON.stringify(inputs),
      output: JSON.stringify(output),
      line_run_id: `line_${i}`,
      ...extra,
    },
    events: [
      {name: 'promptflow.function.inputs', timestamp: stamp(start + offset), attributes: {payload: JSON.stringify(inputs)}},
      {name: 'promptflow.function.output', timestamp: stamp(start + offset + 40), attributes: {payload: JSON.stringify(output)}},
    ],
    links: [],
    resource,
  })
  const children = Array.from({length: spansPerTrace - 1}, (_, k) =>
    k % 3 === 0
      ? span(
          hex(8),
          rootId,
          'chat',
          'LLM',
          k * 50 + 1,
          {messages: [{role: 'user', content: `question ${i} step ${k}`}]},
          {choices: [{message: {role: 'assistant', content: `answer ${k}`}}]},
          {
            'llm.response.model': i % 10 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
            'llm.usage.prompt_tokens': 30,
            'llm.usage.completion_tokens': 10,
            'llm.usage.total_tokens': 40,
          },
        )
      : span(hex(8), rootId, `step_${k}`, 'Function', k * 50 + 1, {text: `input ${i} ${k}`}, {value: k}),
  )
  return [
    ...children,
    span(
      rootId,
      null,
      'answer',
      'Flow',
      0,
      {question: `What is item ${i}?`},
      {answer: `item ${i}`},
      {'__computed__.cumulative_token_count.total': 120},
    ),
  ]
}

const getJson = (port, pathname) =>
  new Promise((resolve, reject) => {
    http
      // A fresh connection each time: a keep-alive socket may be closed by the server while a LIKE scan blocks.
      .get({host: '127.0.0.1', port, path: pathname, agent: false}, res => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', d => (text += d))
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${pathname}: ${res.statusCode} ${text}`)),
        )
      })
      .on('error', reject)
  })

const timeAsync = async fn => {
  const start = process.hrtime.bigint()
  const value = await fn()
  return {ms: Number(process.hrtime.bigint() - start) / 1e6, value}
}

const ingest = mode => {
  const result = spawnSync(process.execPath, [worker, mode, String(ingestSpans), '500'], {encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`store-ingest-search worker (${mode}) failed: ${result.stderr}`)
  return JSON.parse(result.stdout).ms
}

/**
 * Viewer search (the FTS5 index of migration 3) on a store of 100k traces / 1M spans: the first page of the trace
 * list API over HTTP for a selective search, a search every trace matches, and an attribute key=value filter, each
 * against the same page found by a LIKE scan of the spans (what search costs without an index) in the same
 * process; target ≤ 50 ms median. And the index's cost on ingest: TraceStore.recordSpans with the index vs with
 * it swapped for a view that drops the writes (alternating runs of 100k spans); target ≤ 1.3×.
 */
export default async function viewerSearch({pairs, quick}) {
  // Quick mode: enough traces for every query's full first page.
  if (quick) [traces, ingestSpans] = [1000, 5000]
  const rows = []
  const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
  const {TraceReader} = await import(path.join(repoRoot, 'dist', 'store', 'reader.js'))
  const {startViewerServer} = await import(path.join(repoRoot, 'dist', 'service', 'server.js'))
  const home = tempDir('pf-bench-search-')
  try {
    const generated = Date.now()
    const store = TraceStore.open(home)
    store.db.pragma('synchronous = OFF')
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    for (let i = 0; i < traces; i += 5000) {
      const batch = []
      for (let j = i; j < Math.min(i + 5000, traces); j++) batch.push(...traceSpans(j, t0))
      store.recordSpans(batch)
    }
    const counts = store.db.prepare('SELECT (SELECT COUNT(*) FROM line_runs) AS traces, (SELECT COUNT(*) FROM spans) AS spans').get()
    store.close()
    process.stderr.write(`  store: ${counts.traces} traces, ${counts.spans} spans in ${((Date.now() - generated) / 1000).toFixed(0)} s\n`)

    const viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
    const reader = TraceReader.open(home)
    // Without the index: the traces whose spans contain the text, by a scan of every span's JSON.
    const likeScan = reader.db.prepare(
      `SELECT * FROM line_runs WHERE trace_id IN (SELECT trace_id FROM spans WHERE data LIKE ?) ORDER BY start_time DESC, trace_id DESC LIMIT 51`,
    )
    const target = Math.floor(traces * 0.7777)
    const cases = [
      {
        label: `selective search (q=question ${target}: 1 trace)`,
        url: `/v1.0/api/traces?limit=50&q=${encodeURIComponent(`question ${target}`)}`,
        like: `%question ${target} %`,
        expect: 1,
      },
      {label: 'search every trace matches (q=answer)', url: '/v1.0/api/traces?limit=50&q=answer', like: '%answer%', expect: 50},
      {
        label: 'attribute filter (attr=llm.response.model=gpt-4o: 10% of traces)',
        url: `/v1.0/api/traces?limit=50&attr=${encodeURIComponent('llm.response.model=gpt-4o')}`,
        like: '%"llm.response.model":"gpt-4o"%',
        expect: 50,
      },
    ]
    const likePairs = Math.max(1, Math.min(3, pairs))
    try {
      for (const c of cases) {
        const first = await getJson(viewer.port, c.url)
        if (first.traces.length !== c.expect) throw new Error(`${c.url}: ${first.traces.length} traces, expected ${c.expect}`)
        const likeRows = likeScan.all(c.like)
        if (Math.min(likeRows.length, 50) !== c.expect) throw new Error(`LIKE ${c.like}: ${likeRows.length} rows, expected ${c.expect}`)
        const api = []
        const like = []
        for (let i = 0; i < pairs; i++) {
          if (i < likePairs) like.push((await timeAsync(() => likeScan.all(c.like))).ms)
          api.push((await timeAsync(() => getJson(viewer.port, c.url))).ms)
        }
        const s = median(api)
        const b = median(like)
        process.stderr.write(
          `  ${c.label}: API ${api.map(v => v.toFixed(1)).join(', ')} ms; LIKE ${like.map(v => v.toFixed(0)).join(', ')} ms\n`,
        )
        rows.push({
          name: `Viewer search, first page of 50 over ${(counts.spans / 1e6).toFixed(1)}M spans (${traces / 1000}k traces, HTTP): ${c.label}`,
          baseline: `same page by LIKE scan of the spans (in-process, median of ${likePairs}): ${b.toFixed(0)} ms`,
          measured: `${s.toFixed(1)} ms`,
          ratio: s / b,
          target: '≤ 50 ms',
          met: s <= 50,
        })
      }
    } finally {
      reader.close()
      await viewer.close()
    }
  } finally {
    rmSync(home, {recursive: true, force: true})
  }

  const indexed = []
  const unindexed = []
  const rounds = Math.max(1, Math.min(5, pairs))
  for (let i = 0; i < rounds; i++) {
    unindexed.push(ingest('unindexed'))
    indexed.push(ingest('indexed'))
  }
  const ratio = median(indexed) / median(unindexed)
  process.stderr.write(
    `  ingest ms with index: ${indexed.map(v => v.toFixed(0)).join(', ')}; without: ${unindexed.map(v => v.toFixed(0)).join(', ')}\n`,
  )
  const rate = ms => `${Math.round(ingestSpans / (ms / 1000)).toLocaleString('en-US')} spans/s`
  rows.push({
    name: `Search index cost on ingest: TraceStore.recordSpans with the FTS index vs without (${ingestSpans / 1000}k spans, median of ${rounds} alternating runs)`,
    baseline: `without: ${rate(median(unindexed))}`,
    measured: `with: ${rate(median(indexed))}`,
    ratio,
    target: '≤ 1.3×',
    met: ratio <= 1.3,
  })
  return rows
}
