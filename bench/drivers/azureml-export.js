// Exports synthetic spans from a pf store to an Azure ML workspace and prints {ms, delivered, pending, parked, maxRssMb}.
// Usage: node azureml-export.js <pf home> <workspace id> <spans> <prepare|pf|pf-no-blobs|sequential|ceiling|batch-ceiling|durable-floor|contract-floor> [batch run name]
// `prepare`: records the spans in the store, queued for the workspace (run it first, in its own process, so the
// export's peak memory is the export's own). `pf`: pf's outbox drainer + azureml exporter (what `pf trace sync`
// runs: span data to the default datastore, then the Cosmos items). `pf-no-blobs`: the same exporter writing the
// Cosmos items only. `sequential`: one create request per span, one after another, same SDK and resource tokens.
// `ceiling`: cosmosdb-server's own bulk ceiling: the same Span items from a plain script, in bulk requests of 100,
// PF_BENCH_BULK_CONCURRENCY (8) at once, nothing else (no LineSummary items, no outbox bookkeeping per batch).
// `batch-ceiling`: the same items in transactional batches of 100 (one partition key each), as pf sends them.
// `durable-floor`: the batch ceiling's requests from spans read off a one-table SQLite queue, each request's rows
// deleted once answered. `contract-floor`: the same with each line's LineSummary item beside its batch's Span items.
// PF_BENCH_SPAN_EVENTS=1: each span carries its inputs and output events, as pf's function spans do.
// Needs PF_ARM_ENDPOINT (and PF_BLOB_ENDPOINT for `pf`) and an `az` on PATH (fake ones in benchmarks and tests), like pf.
import {randomBytes} from 'node:crypto'

import {repoRoot} from '../lib.js'

const [home, workspace, countText, mode, batchRun] = process.argv.slice(2)
const count = Number(countText)
const dist = path => import(`${repoRoot}/dist/${path}`)

const [{TraceStore}, {azuremlProvider}, {OutboxDrainer}, {TimeOrderedIdGenerator}] = await Promise.all([
  dist('store/store.js'),
  dist('destinations/azureml/provider.js'),
  dist('tracing/outbox.js'),
  dist('tracing/trace-ids.js'),
])

const {configReader} = await dist('config/files.js')
const ctx = {cwd: process.cwd(), config: configReader({}), env: process.env}
const dest = await azuremlProvider.resolve(workspace, ctx)
const store = TraceStore.open(home)
store.saveDestination(dest)

const withEvents = process.env.PF_BENCH_SPAN_EVENTS === '1'
const hex = bytes => randomBytes(bytes).toString('hex')
const time = offsetMs => new Date(Date.UTC(2026, 0, 1) + offsetMs).toISOString().replace('Z', '123Z')
/**
 * Lines of 10 spans (a Flow root and 9 function calls), recorded in chunks so memory does not grow with `count`.
 * Their ids are made as pf's tracer makes them (trace ids begin with the time; PF_BENCH_RANDOM_IDS=1: random ids, as
 * spans from other tracers through the collector may have).
 */
const ids = process.env.PF_BENCH_RANDOM_IDS === '1' ? {generateTraceId: () => hex(16)} : new TimeOrderedIdGenerator()
const makeSpans = function* () {
  let made = 0
  let line = 0
  while (made < count) {
    const traceId = ids.generateTraceId()
    const rootId = hex(8)
    const lineAttrs = batchRun ? {batch_run_id: batchRun, line_number: line} : {line_run_id: hex(16)}
    const size = Math.min(10, count - made)
    for (let i = size - 1; i >= 0; i--) {
      const root = i === 0
      yield {
        name: root ? 'flow' : `step_${i}`,
        context: {trace_id: traceId, span_id: root ? rootId : hex(8), trace_state: ''},
        kind: 'SpanKind.INTERNAL',
        parent_id: root ? null : rootId,
        start_time: time(line * 1000 + i),
        end_time: time(line * 1000 + i + 5),
        status: {status_code: 'Ok'},
        attributes: {
          framework: 'promptflow',
          span_type: root ? 'Flow' : 'Function',
          function: root ? 'flow' : `step_${i}`,
          inputs: JSON.stringify({question: 'What is prompt flow?'.repeat(8), index: i}),
          output: JSON.stringify({answer: 'A toolkit for LLM apps. '.repeat(12)}),
          ...lineAttrs,
        },
        events: withEvents
          ? [
              {
                name: 'promptflow.function.inputs',
                timestamp: time(line * 1000 + i),
                attributes: {payload: JSON.stringify({question: 'What is prompt flow?'.repeat(8), index: i})},
              },
              {
                name: 'promptflow.function.output',
                timestamp: time(line * 1000 + i + 5),
                attributes: {payload: JSON.stringify({answer: 'A toolkit for LLM apps. '.repeat(12)})},
              },
            ]
          : [],
        links: [],
        resource: {attributes: {'service.name': 'promptflow', collection: 'bench', ...dest.resource}, schema_url: ''},
      }
    }
    made += size
    line++
  }
}

if (mode === 'prepare') {
  let chunk = []
  for (const span of makeSpans()) {
    chunk.push(span)
    if (chunk.length === 500) {
      store.recordSpans(chunk, [dest.key])
      chunk = []
    }
  }
  store.recordSpans(chunk, [dest.key])
  store.close()
  process.stdout.write(JSON.stringify({ms: 0, delivered: 0, pending: 0, parked: 0, maxRssMb: 0}) + '\n')
  process.exit(0)
}

const started = performance.now()
const cpuAtStart = process.cpuUsage()
const cpuMsSince = since => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1000
}
let result
if (mode === 'pf' || mode === 'pf-no-blobs') {
  let sink = () => azuremlProvider.exporter(dest, ctx)
  if (mode === 'pf-no-blobs') {
    const [{signInFor}, {ControlPlane}, {CosmosSpanExporter}] = await Promise.all([
      dist('destinations/azureml/credential.js'),
      dist('destinations/azureml/control-plane.js'),
      dist('destinations/azureml/cosmos-writer.js'),
    ])
    const signIn = signInFor(configReader({}), process.env)
    const plane = new ControlPlane(signIn, process.env)
    const cosmosOnly = new CosmosSpanExporter(dest.workspace, () => plane.workspace(dest.workspace), signIn, process.env)
    sink = () => cosmosOnly
  }
  const drainer = new OutboxDrainer(store, dest, sink)
  const report = await drainer.drainUntil(Date.now() + 600_000)
  result = {delivered: report.delivered, pending: report.pending, parked: report.parked}
} else {
  // The baseline: the same items, each sent by its own create request, waiting for each answer.
  const [{signInFor}, {ControlPlane}, {spanItem, collectionIdOf, referenceSpan, finishedSummaryItem}, {CosmosClient}] = await Promise.all([
    dist('destinations/azureml/credential.js'),
    dist('destinations/azureml/control-plane.js'),
    dist('destinations/azureml/cosmos-items.js'),
    import('@azure/cosmos'),
  ])
  const signIn = signInFor(configReader({}), process.env)
  const plane = new ControlPlane(signIn, process.env)
  const info = await plane.workspace(dest.workspace)
  const token = await plane.containerToken(dest.workspace, info, 'Span')
  const createdBy = await signIn.createdBy()
  // Only the contract floor writes LineSummary items (the sequential baseline's clock is running here).
  const summaryToken = mode === 'contract-floor' ? await plane.containerToken(dest.workspace, info, 'LineSummary') : token
  const client = new CosmosClient({
    endpoint: token.accountEndpoint,
    tokenProvider: async ({path}) => (path.includes('/colls/LineSummary') ? summaryToken : token).resourceToken,
  })
  const container = client.database(token.databaseName).container('Span')
  const summaries = client.database(token.databaseName).container('LineSummary')
  /** Items → transactional batches of one partition key each (at most 100 items here), as pf sends them. */
  const sendBatches = async (target, operations) => {
    const byKey = new Map()
    for (const op of operations) {
      const key = op.resourceBody.partition_key
      byKey.set(key, [...(byKey.get(key) ?? []), op])
    }
    const answers = await Promise.all([...byKey].map(async ([key, ops]) => (await target.items.batch(ops, key)).result))
    return answers.flat()
  }
  let delivered = 0
  if (mode === 'durable-floor' || mode === 'contract-floor') {
    // The least a durable exporter does per span, on the clock: read its JSON from a one-table SQLite queue, parse
    // it, build its item, send it in a transactional batch (as the batch ceiling, and pf), and record the outcome (the
    // delivered rows deleted, one transaction per request). Nothing else: no LineSummary items, claims, retries or
    // parking.
    // `contract-floor` adds what the reference's contract asks of every exporter besides: a LineSummary item for each
    // line's root span, sent in a bulk request beside its batch's Span items (as pf does).
    const withSummaries = mode === 'contract-floor'
    const {default: Database} = await import('better-sqlite3')
    const queue = new Database(`${home}/floor-queue.db`)
    queue.pragma('journal_mode = WAL')
    queue.pragma('synchronous = NORMAL')
    queue.exec('CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, data TEXT NOT NULL)')
    const enqueue = queue.prepare('INSERT INTO queue (data) VALUES (?)')
    for (;;) {
      const items = store.claimOutbox(dest.key, 5000, 600_000)
      if (items.length === 0) break
      queue.transaction(() => items.forEach(item => enqueue.run(JSON.stringify(item.span))))()
    }
    const read = queue.prepare('SELECT id, data FROM queue WHERE id > ? ORDER BY id LIMIT 100')
    const remove = queue.prepare('DELETE FROM queue WHERE id >= ? AND id <= ?')
    const concurrency = Number(process.env.PF_BENCH_BULK_CONCURRENCY ?? 8)
    const floorStarted = performance.now()
    const floorCpu = process.cpuUsage()
    let cursor = 0
    await Promise.all(
      Array.from({length: concurrency}, async () => {
        for (;;) {
          const rows = read.all(cursor)
          if (rows.length === 0) return
          cursor = rows.at(-1).id
          const lines = []
          const batch = rows.map(row => {
            const span = JSON.parse(row.data)
            const collectionId = collectionIdOf(span, createdBy.object_id)
            if (withSummaries && span.parent_id === null)
              lines.push({operationType: 'Create', resourceBody: finishedSummaryItem(span, collectionId, createdBy)})
            return {operationType: 'Create', resourceBody: spanItem(referenceSpan(span, collectionId), collectionId, createdBy)}
          })
          const [responses, summaryResponses] = await Promise.all([
            sendBatches(container, batch),
            lines.length > 0 ? sendBatches(summaries, lines) : [],
          ])
          const created = responses.filter(r => r.statusCode === 201).length
          if (created !== rows.length) throw new Error(`bulk: ${created} of ${rows.length} created`)
          const linesCreated = summaryResponses.filter(r => r.statusCode === 201).length
          if (linesCreated !== lines.length) throw new Error(`bulk: ${linesCreated} of ${lines.length} LineSummary items created`)
          queue.transaction(() => remove.run(rows[0].id, rows.at(-1).id)).immediate()
          delivered += created
        }
      }),
    )
    client.dispose()
    const floorMs = performance.now() - floorStarted
    const left = queue.prepare('SELECT COUNT(*) FROM queue').pluck().get()
    queue.close()
    store.close()
    process.stdout.write(
      JSON.stringify({ms: floorMs, cpuMs: cpuMsSince(floorCpu), delivered, pending: left, parked: 0, maxRssMb: 0}) + '\n',
    )
    process.exit(0)
  }
  if (mode === 'ceiling' || mode === 'batch-ceiling') {
    // Items built before the clock that matters: only the requests are the ceiling.
    const operations = []
    for (;;) {
      const items = store.claimOutbox(dest.key, 5000, 600_000)
      if (items.length === 0) break
      for (const item of items) {
        const collectionId = collectionIdOf(item.span, createdBy.object_id)
        operations.push({operationType: 'Create', resourceBody: spanItem(referenceSpan(item.span, collectionId), collectionId, createdBy)})
      }
    }
    const concurrency = Number(process.env.PF_BENCH_BULK_CONCURRENCY ?? 8)
    const bulkStarted = performance.now()
    const bulkCpu = process.cpuUsage()
    let next = 0
    await Promise.all(
      Array.from({length: concurrency}, async () => {
        while (next < operations.length) {
          const batch = operations.slice(next, next + 100)
          next += 100
          const responses = mode === 'batch-ceiling' ? await sendBatches(container, batch) : await container.items.bulk(batch)
          delivered += responses.filter(r => r.statusCode === 201).length
        }
      }),
    )
    client.dispose()
    const bulkMs = performance.now() - bulkStarted
    store.close()
    process.stdout.write(
      JSON.stringify({ms: bulkMs, cpuMs: cpuMsSince(bulkCpu), delivered, pending: operations.length - delivered, parked: 0, maxRssMb: 0}) +
        '\n',
    )
    process.exit(0)
  }
  for (;;) {
    const items = store.claimOutbox(dest.key, 500, 600_000)
    if (items.length === 0) break
    for (const item of items) {
      const collectionId = collectionIdOf(item.span, createdBy.object_id)
      await container.items.create(spanItem(referenceSpan(item.span, collectionId), collectionId, createdBy))
      delivered++
    }
    store.settleOutbox(
      dest.key,
      items.map(i => ({traceId: i.traceId, spanId: i.spanId, outcome: 'delivered'})),
    )
  }
  client.dispose()
  result = {delivered, pending: 0, parked: 0}
}
const ms = performance.now() - started
store.close()
globalThis.gc?.()
process.stdout.write(
  JSON.stringify({
    ms,
    ...result,
    cpuMs: cpuMsSince(cpuAtStart),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapAfterGcMb: process.memoryUsage().heapUsed / 2 ** 20,
    ext: process.memoryUsage().external / 2 ** 20,
  }) + '\n',
)
process.exit(0)
