// Worker of bench/cases/trace-overhead.js. Usage: node trace-overhead.js PAIRS [ITERATIONS]; prints
// {baseline: ms[], subject: ms[], floor: ms[], layoutFloor: ms[], spans} as JSON.
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {context, propagation, trace as otelTrace} from '@opentelemetry/api'
import {InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor} from '@opentelemetry/sdk-trace-node'

import {repoRoot, sqliteSpanProcessor, storeLayoutSpanProcessor} from '../lib.js'

const pairs = Number(process.argv[2] ?? 15)
const depth = 10
const iterations = Number(process.argv[3] ?? 1000)
process.env.PF_HOME_DIRECTORY = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-home-'))

const {TracingSession} = await import(path.join(repoRoot, 'dist', 'tracing', 'session.js'))
const {trace} = await import(path.join(repoRoot, 'dist', 'sdk', 'index.js'))
const {configReader} = await import(path.join(repoRoot, 'dist', 'config', 'files.js'))
const {TraceStore} = await import(path.join(repoRoot, 'dist', 'store', 'store.js'))
const {registryLoader} = await import(path.join(repoRoot, 'dist', 'tracing', 'registry.js'))
const {TimeOrderedIdGenerator} = await import(path.join(repoRoot, 'dist', 'tracing', 'trace-ids.js'))
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
 * The same calls recorded by one of the floors' span processors (bench/lib.js) on bare OTel, with pf's trace ids
 * (time first: where a row lands in the trace-keyed indexes is part of what a store write costs); checks every span
 * is stored.
 */
const floorRun = async (store, label) => {
  resetGlobals()
  const provider = new NodeTracerProvider({spanProcessors: [store.processor], idGenerator: new TimeOrderedIdGenerator()})
  provider.register()
  const before = store.stored()
  const start = process.hrtime.bigint()
  calls()
  await provider.forceFlush()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (store.stored() - before !== depth * iterations) throw new Error(`${label} lost spans`)
  await provider.shutdown()
  return ms
}
// The durable floor (see sqliteSpanProcessor): the same bare OTel writing each span's JSON to a plain SQLite table.
const floorStore = await sqliteSpanProcessor(path.join(process.env.PF_HOME_DIRECTORY, 'floor.sqlite'))
const floor = () => floorRun(floorStore, 'floor')
// The floor of pf's store layout (see storeLayoutSpanProcessor): the same spans as rows of pf's tables and indexes.
const layoutStore = await storeLayoutSpanProcessor(path.join(process.env.PF_HOME_DIRECTORY, 'layout-floor.sqlite'))
const layoutFloor = () => floorRun(layoutStore, 'layout floor')

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

await baseline()
await floor()
await layoutFloor()
await subject()
const result = {baseline: [], subject: [], floor: [], layoutFloor: [], spans: depth * iterations}
for (let i = 0; i < pairs; i++) {
  result.baseline.push(await baseline())
  result.floor.push(await floor())
  result.layoutFloor.push(await layoutFloor())
  result.subject.push(await subject())
}
floorStore.close()
layoutStore.close()
process.stdout.write(JSON.stringify(result))
