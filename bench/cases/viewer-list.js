import {randomBytes} from 'node:crypto'
import {rmSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {repoRoot, tempDir} from '../lib.js'

const spansPerTrace = 10

const stamp = ms => new Date(ms).toISOString().slice(0, 23) + '000Z'
const hex = bytes => randomBytes(bytes).toString('hex')

/** A realistic trace: a Flow root with nine Function/LLM children, prompt flow attributes, payload events. */
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
    end_time: stamp(start + offset + 40),
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
          {'llm.usage.prompt_tokens': 30, 'llm.usage.completion_tokens': 10, 'llm.usage.total_tokens': 40},
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
      .get({host: '127.0.0.1', port, path: pathname}, res => {
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
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/**
 * The viewer's trace list API (first page, over HTTP) on a store of 100k traces / 1M spans, against the same page
 * computed by a full scan of line_runs (NOT INDEXED: every row read and sorted) in the same process. Target: first page ≤ 50 ms median.
 */
export default async function viewerList({pairs, quick}) {
  const traces = quick ? 1000 : Number(process.env.PF_BENCH_VIEWER_TRACES ?? 100_000)
  const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
  const {startViewerServer} = await import(path.join(repoRoot, 'dist', 'service', 'server.js'))
  const home = tempDir('pf-bench-viewer-')
  try {
    const generated = Date.now()
    const store = TraceStore.open(home)
    // A throwaway store: no need to survive a power cut while generating it.
    store.db.pragma('synchronous = OFF')
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    const batchTraces = Math.min(5000, traces)
    for (let i = 0; i < traces; i += batchTraces) {
      const batch = []
      for (let j = i; j < Math.min(i + batchTraces, traces); j++) batch.push(...traceSpans(j, t0))
      store.recordSpans(batch)
    }
    const counts = store.db.prepare('SELECT (SELECT COUNT(*) FROM line_runs) AS traces, (SELECT COUNT(*) FROM spans) AS spans').get()
    store.close()
    process.stderr.write(`  store: ${counts.traces} traces, ${counts.spans} spans in ${((Date.now() - generated) / 1000).toFixed(0)} s\n`)

    const viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
    const {TraceReader} = await import(path.join(repoRoot, 'dist', 'store', 'reader.js'))
    const reader = TraceReader.open(home)
    // The same first page without the indexes: a full scan of line_runs and a sort.
    const fullScan = reader.db.prepare('SELECT * FROM line_runs NOT INDEXED ORDER BY start_time DESC, trace_id DESC LIMIT 51')
    try {
      const first = await getJson(viewer.port, '/v1.0/api/traces?limit=50')
      const samples = {}
      const measure = async (label, url) => {
        const base = []
        const subj = []
        await timeAsync(() => fullScan.all())
        await timeAsync(() => getJson(viewer.port, url))
        for (let i = 0; i < pairs; i++) {
          base.push(await timeAsync(() => fullScan.all()))
          subj.push(await timeAsync(() => getJson(viewer.port, url)))
        }
        const {median} = await import('../lib.js')
        samples[label] = {baseline: median(base), subject: median(subj)}
      }
      await measure('first', '/v1.0/api/traces?limit=50')
      await measure('collection', '/v1.0/api/traces?limit=50&collection=flow_7&status=Ok')
      const deep = await getJson(
        viewer.port,
        `/v1.0/api/traces?limit=50&cursor=${(await getJson(viewer.port, '/v1.0/api/traces?limit=200')).nextCursor}`,
      )
      if (first.traces.length !== 50 || deep.traces.length !== 50) throw new Error('the list API returned short pages')
      const row = (name, label, target) => ({
        name,
        baseline: `same page by full scan of line_runs (${traces} rows, in-process): ${samples[label].baseline.toFixed(1)} ms`,
        measured: `${samples[label].subject.toFixed(1)} ms`,
        ratio: samples[label].subject / samples[label].baseline,
        target: `≤ ${target} ms`,
        met: samples[label].subject <= target,
      })
      return [
        row(
          `Viewer trace list API, first page of 50 (${traces / 1000}k traces / ${(counts.spans / 1e6).toFixed(1)}M spans, HTTP)`,
          'first',
          50,
        ),
        row('Viewer trace list API, first page filtered by collection + status', 'collection', 50),
      ]
    } finally {
      reader.close()
      await viewer.close()
    }
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}
