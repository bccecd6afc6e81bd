// Shared helpers for the benchmarks: timing child processes, medians, alternating pairs.
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const pfBin = path.join(repoRoot, 'bin', 'run.js')

export const tempDir = prefix => mkdtempSync(path.join(os.tmpdir(), prefix))

/** pf writes a finished line's spans within this many ms (StoreSpanProcessor's root flush); the floors do the same. */
const FLOOR_FLUSH_MS = 100

/**
 * The floors' span processor: each finished span as plain JSON (ids, parent, name, times, status, attributes, events;
 * `withResource`: its resource's attributes too) handed to `write` in batches of 512, or FLOOR_FLUSH_MS after a span
 * ends, and on flush/shutdown.
 */
const bufferedProcessor = (write, withResource = false) => {
  let buffer = []
  let timer
  const flush = () => {
    clearTimeout(timer)
    timer = undefined
    write(buffer)
    buffer = []
  }
  return {
    onStart() {},
    onEnd(span) {
      const {traceId, spanId} = span.spanContext()
      buffer.push({
        trace_id: traceId,
        span_id: spanId,
        parent_id: span.parentSpanContext?.spanId ?? null,
        name: span.name,
        start_time: span.startTime,
        end_time: span.endTime,
        status: span.status,
        attributes: span.attributes,
        events: span.events.map(e => ({name: e.name, time: e.time, attributes: e.attributes})),
        ...(withResource ? {resource: span.resource.attributes} : {}),
      })
      if (buffer.length >= 512) flush()
      else timer ??= setTimeout(flush, FLOOR_FLUSH_MS).unref()
    },
    async forceFlush() {
      flush()
    },
    async shutdown() {
      flush()
    },
  }
}

/**
 * The durable floor the benchmarks set pf's store against: a span processor that writes each finished span's JSON
 * into a plain one-table SQLite store with pf's pragmas (WAL, synchronous NORMAL), 512 spans a transaction and
 * whatever is buffered FLOOR_FLUSH_MS after a span ends (pf's root-span flush). No line runs, viewer indexes,
 * masking or outbox. `stored()` counts the rows; `close()` ends it.
 */
export const sqliteSpanProcessor = async file => {
  const {default: Database} = await import('better-sqlite3')
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(
    'CREATE TABLE IF NOT EXISTS spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (trace_id, span_id))',
  )
  const insert = db.prepare('INSERT OR REPLACE INTO spans VALUES (?, ?, ?)')
  const write = db.transaction(spans => {
    for (const s of spans) insert.run(s.trace_id, s.span_id, JSON.stringify(s))
  })
  return {
    processor: bufferedProcessor(write),
    stored: () => db.prepare('SELECT COUNT(*) FROM spans').pluck().get(),
    close: () => db.close(),
  }
}

/**
 * A database made by pf's schema migrations, with TraceStore's pragmas, and the two inserts of pf's layout: a span
 * row (its columns, the span's JSON) and a trace root's line run (the viewer's trace-list row). The floors of pf's
 * layout write through these.
 */
export const openLayoutStore = async file => {
  const [{default: Database}, {migrations}, {storePageSize}] = await Promise.all([
    import('better-sqlite3'),
    import(path.join(repoRoot, 'dist', 'store', 'schema.js')),
    import(path.join(repoRoot, 'dist', 'store', 'store.js')),
  ])
  const db = new Database(file)
  db.pragma(`page_size = ${storePageSize}`)
  db.pragma('busy_timeout = 10000')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('cache_size = -8192')
  db.transaction(() => migrations.forEach(sql => db.exec(sql)))()
  db.pragma(`user_version = ${migrations.length}`)
  const insertSpan = db.prepare(
    `INSERT INTO spans (trace_id, span_id, parent_id, name, span_type, start_time, end_time, status, collection, run, line_run_id, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const insertLineRun = db.prepare(
    `INSERT INTO line_runs (trace_id, root_span_id, line_run_id, collection, run, line_number, name, kind, status, start_time,
       end_time, latency, inputs, outputs, error, prompt_tokens, completion_tokens, total_tokens)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)`,
  )
  return {db, insertSpan, insertLineRun}
}

/**
 * The durable floor of pf's own store layout: the same bare OTel spans (as JSON, as sqliteSpanProcessor) written into
 * a database created by pf's schema migrations, with TraceStore's pragmas, each span as a row of pf's spans table
 * (its columns and indexes) and each trace root as a line run (the viewer's trace-list row and its indexes), 512
 * spans a transaction or 100 ms after a span ends. No pf code on the way: no SpanRecord conversion, masking, token
 * counts or search documents. What it costs over sqliteSpanProcessor is what the layout the viewer reads costs.
 */
export const storeLayoutSpanProcessor = async (file, {promptflowShape = false} = {}) => {
  const {db, insertSpan, insertLineRun} = await openLayoutStore(file)
  const iso = ([seconds, nanos]) => new Date(seconds * 1000 + nanos / 1e6).toISOString()
  const micros = ([seconds, nanos]) => promptflowTime(seconds * 1000 + nanos / 1e6)
  const time = promptflowShape ? micros : iso
  /** prompt flow's span JSON (promptflow-compat.md), which pf stores and exports, built with the least code. */
  const shaped = (s, start, end, status) => ({
    name: s.name,
    context: {trace_id: s.trace_id, span_id: s.span_id, trace_state: ''},
    kind: 'SpanKind.INTERNAL',
    parent_id: s.parent_id,
    start_time: start,
    end_time: end,
    status: {status_code: status},
    attributes: s.attributes,
    events: s.events.map(e => ({name: e.name, timestamp: micros(e.time), attributes: e.attributes})),
    links: [],
    resource: {attributes: s.resource, schema_url: ''},
  })
  const write = db.transaction(spans => {
    for (const s of spans) {
      const start = time(s.start_time)
      const end = time(s.end_time)
      const status = s.status.code === 2 ? 'Error' : 'Ok'
      const kind = s.attributes.span_type ?? null
      const data = JSON.stringify(promptflowShape ? shaped(s, start, end, status) : s)
      insertSpan.run(s.trace_id, s.span_id, s.parent_id, s.name, kind, start, end, status, 'bench', null, null, data)
      if (s.parent_id === null) {
        const latency = s.end_time[0] - s.start_time[0] + (s.end_time[1] - s.start_time[1]) / 1e9
        insertLineRun.run(
          s.trace_id,
          s.span_id,
          null,
          'bench',
          null,
          null,
          s.name,
          kind,
          status,
          start,
          end,
          latency,
          s.attributes.inputs ?? null,
          s.attributes.output ?? null,
        )
      }
    }
  })
  return {
    processor: bufferedProcessor(write, promptflowShape),
    stored: () => db.prepare('SELECT COUNT(*) FROM spans').pluck().get(),
    close: () => db.close(),
  }
}

/** Epoch ms (fractional) → prompt flow's time text, with microseconds (2026-11-26T05:30:30.123456Z). */
export const promptflowTime = ms => new Date(ms).toISOString().slice(0, 23) + String(Math.floor((ms * 1000) % 1000)).padStart(3, '0') + 'Z'

export const median = values => quantile(values, 0.5)

/** The q-quantile (0 ≤ q ≤ 1) of the values, interpolated between the two nearest ranks. */
export const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const below = Math.floor(at)
  return below === at ? sorted[at] : sorted[below] + (sorted[below + 1] - sorted[below]) * (at - below)
}

/** Wall time of one child process in ms; throws if it fails (a benchmark of a failing command means nothing). */
export const timeProcess = (args, options = {}) => {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return ms
}

/**
 * A TCP server on 127.0.0.1 that accepts every connection and never answers (not even a TLS handshake): a cloud
 * endpoint that hangs. `accepted()` counts the connections so far; `close()` destroys them and stops listening.
 */
export const startSilentServer = async () => {
  const sockets = new Set()
  let accepted = 0
  const server = net.createServer(socket => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    },
  }
}

/**
 * `timeProcess` without blocking this process: for subjects that talk to servers the case runs in-process (the fake
 * control plane, cosmosdb-server), which a spawnSync would freeze. Resolves to the wall time in ms; rejects on a
 * failed exit.
 */
export const timeProcessAsync = (args, options = {}) =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options})
    let err = ''
    child.stdout.resume()
    child.stderr.on('data', d => (err += d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code ?? signal}: ${err}`))
      else resolve(ms)
    })
  })

/**
 * Runs `pairs` alternating (baseline, subject) measurements after a warm-up of each, and returns the medians
 * and their ratio. Alternating keeps a busy moment of the machine from landing on one side only.
 */
export const comparePairs = (pairs, baseline, subject) => {
  baseline()
  subject()
  const base = []
  const subj = []
  for (let i = 0; i < pairs; i++) {
    base.push(baseline())
    subj.push(subject())
  }
  const b = median(base)
  const s = median(subj)
  return {baseline: b, subject: s, ratio: s / b}
}

/** The spans of one line, a Flow root and Function children (inputs, output, two payload events), fresh ids. */
export const makeLineSpans = (n, serial) => {
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

const spansPerTrace = 10
const stamp = ms => new Date(ms).toISOString().slice(0, 23) + '000Z'
const hex = bytes => randomBytes(bytes).toString('hex')

/**
 * A trace of the viewer cases (viewer-list, viewer-search): a Flow root with nine Function/LLM children, prompt flow
 * attributes, inputs, outputs, payload events and token usage; trace `i` starts `i` seconds after `t0`.
 */
export const viewerTraceSpans = (i, t0) => {
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

/** Fills a throwaway store in `home` with `traces` viewer traces (10 spans each, in batches of 5,000); returns its counts. */
export const seedViewerStore = async (home, traces) => {
  const generated = Date.now()
  const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
  const store = TraceStore.open(home)
  // A throwaway store: no need to survive a power cut while generating it.
  store.db.pragma('synchronous = OFF')
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < traces; i += 5000) {
    const batch = []
    for (let j = i; j < Math.min(i + 5000, traces); j++) batch.push(...viewerTraceSpans(j, t0))
    store.recordSpans(batch)
  }
  const counts = store.db.prepare('SELECT (SELECT COUNT(*) FROM line_runs) AS traces, (SELECT COUNT(*) FROM spans) AS spans').get()
  // The search documents, as the viewer's background indexing would have written them by the first search.
  const indexing = Date.now()
  store.indexPendingSearch(20_000)
  store.close()
  process.stderr.write(
    `  store: ${counts.traces} traces, ${counts.spans} spans in ${((indexing - generated) / 1000).toFixed(0)} s, ` +
      `search documents in ${((Date.now() - indexing) / 1000).toFixed(0)} s\n`,
  )
  return counts
}

/** GET a JSON answer from the local viewer (200 only). */
export const getJson = (port, pathname) =>
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

/**
 * Runs bench/drivers/azureml-export.js in a child (async: the calling process serves the fake control plane, Cosmos
 * and Azurite's parent meanwhile); resolves to its result, rejects when spans were left pending or parked.
 */
export const runExportDriver = (args, env) =>
  new Promise((resolve, reject) => {
    const driver = path.join(repoRoot, 'bench', 'drivers', 'azureml-export.js')
    const child = spawn(process.execPath, [driver, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', d => (out += d))
    child.stderr.on('data', d => (err += d))
    child.on('close', code => {
      if (code !== 0) return reject(new Error(`export driver exited ${code}: ${err}`))
      const result = JSON.parse(out)
      if (result.pending !== 0 || result.parked !== 0) return reject(new Error(`export incomplete: ${out}`))
      resolve(result)
    })
  })
