// Worker of bench/cases/trace-overhead.js. Usage: node trace-overhead.js PAIRS [ITERATIONS]; prints
// {baseline: ms[], subject: ms[], floor: ms[], spans} as JSON.
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {context, propagation, trace as otelTrace} from '@opentelemetry/api'
import {InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor} from '@opentelemetry/sdk-trace-node'
import Database from 'better-sqlite3'

import {repoRoot} from '../lib.js'

const pairs = Number(process.argv[2] ?? 15)
const depth = 10
const iterations = Number(process.argv[3] ?? 1000)
process.env.PF_HOME_DIRECTORY = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-home-'))

const {TracingSession} = await import(path.join(repoRoot, 'dist', 'tracing', 'session.js'))
const {trace} = await import(path.join(repoRoot, 'dist', 'sdk', 'index.js'))
const {configReader} = await import(path.join(repoRoot, 'dist', 'config', 'files.js'))
const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
const {registryLoader} = await import(path.join(repoRoot, 'dist', 'tracing', 'registry.js'))
const noPlugins = registryLoader(async () => ({successes: [], failures: []}))
const storedSpans = () => {
  const store = TraceStore.open(process.env.PF_HOME_DIRECTORY)
  try {
    return store.db.prepare('SELECT COUNT(*) FROM spans').pluck().get()
  } finally {
    store.close()
  }
}

// level0(x) → level1(x) → … → level9(x): one trace of `depth` nested spans per iteration.
const levels = []
for (let i = depth - 1; i >= 0; i--) {
  const next = levels[0]
  levels.unshift(
    trace(
      function level(question, n) {
        return next ? next(question, n + 1) + 1 : n
      },
      {name: `level${i}`},
    ),
  )
}
const calls = () => {
  let sum = 0
  for (let i = 0; i < iterations; i++) sum += levels[0]('what is pf?', i)
  return sum
}

const resetGlobals = () => {
  otelTrace.disable()
  context.disable()
  propagation.disable()
}

const baseline = async () => {
  resetGlobals()
  const exporter = new InMemorySpanExporter()
  const provider = new NodeTracerProvider({spanProcessors: [new SimpleSpanProcessor(exporter)]})
  provider.register()
  const start = process.hrtime.bigint()
  calls()
  await provider.forceFlush()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (exporter.getFinishedSpans().length !== depth * iterations) throw new Error('baseline lost spans')
  await provider.shutdown()
  return ms
}

/**
 * The durable floor: the same bare OTel, with a span processor that writes each finished span as JSON into a plain
 * one-table SQLite store (pf's pragmas: WAL, synchronous NORMAL), 512 spans a transaction (pf's batch size). No
 * masking, line runs, search index or outbox: what any exporter pays to keep spans on disk.
 */
const floorDb = new Database(path.join(process.env.PF_HOME_DIRECTORY, 'floor.sqlite'))
floorDb.pragma('journal_mode = WAL')
floorDb.pragma('synchronous = NORMAL')
floorDb.exec('CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (trace_id, span_id))')
const floorInsert = floorDb.prepare('INSERT OR REPLACE INTO spans VALUES (?, ?, ?)')
const floorWrite = floorDb.transaction(spans => {
  for (const s of spans) floorInsert.run(s.trace_id, s.span_id, JSON.stringify(s))
})
class SqliteProcessor {
  buffer = []
  onStart() {}
  onEnd(span) {
    const {traceId, spanId} = span.spanContext()
    this.buffer.push({
      trace_id: traceId,
      span_id: spanId,
      parent_id: span.parentSpanContext?.spanId ?? null,
      name: span.name,
      start_time: span.startTime,
      end_time: span.endTime,
      status: span.status,
      attributes: span.attributes,
      events: span.events.map(e => ({name: e.name, time: e.time, attributes: e.attributes})),
    })
    if (this.buffer.length >= 512) this.forceFlush()
  }
  async forceFlush() {
    floorWrite(this.buffer)
    this.buffer = []
  }
  async shutdown() {}
}
const floor = async () => {
  resetGlobals()
  const processor = new SqliteProcessor()
  const provider = new NodeTracerProvider({spanProcessors: [processor]})
  provider.register()
  const before = floorDb.prepare('SELECT COUNT(*) FROM spans').pluck().get()
  const start = process.hrtime.bigint()
  calls()
  await provider.forceFlush()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (floorDb.prepare('SELECT COUNT(*) FROM spans').pluck().get() - before !== depth * iterations) throw new Error('floor lost spans')
  await provider.shutdown()
  return ms
}

const subject = async () => {
  resetGlobals()
  const session = await TracingSession.start({
    registry: noPlugins,
    config: configReader({trace: {destination: 'local'}}),
    collection: 'bench',
  })
  const before = storedSpans()
  const start = process.hrtime.bigint()
  calls()
  // Ends the session: every span written to the store (the baseline's forceFlush counterpart).
  await session.finish(0)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const after = storedSpans()
  if (after - before !== depth * iterations) throw new Error(`subject stored ${after - before} spans`)
  return ms
}

{ const st = TraceStore.open(process.env.PF_HOME_DIRECTORY); if (process.env.DROP) st.db.exec(process.env.DROP); st.close() }

await subject()
const result = {baseline: [], subject: [], floor: [], spans: depth * iterations}
for (let i = 0; i < pairs; i++) {


  result.subject.push(await subject())
}
floorDb.close()
process.stdout.write(JSON.stringify(result))
