import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import type {SpanRecord} from '../../src/contract/destination.js'
import type {SpanWriter as SpanWriterClass} from '../../src/tracing/span-writer.js'
import type {TraceStore as TraceStoreClass} from '../../src/store/store.js'

import {cleanEnv, repoRoot, tempDir} from '../helpers/cli.js'

// The built modules: the writer's thread runs dist/tracing/span-writer-worker.js, as in a pf command.
const dist = (file: string) => pathToFileURL(path.join(repoRoot, 'dist', file)).href
const {SpanWriter} = (await import(dist('tracing/span-writer.js'))) as {SpanWriter: typeof SpanWriterClass}
const {TraceStore} = (await import(dist('store/store.js'))) as {TraceStore: typeof TraceStoreClass}
const fixture = (name: string) => pathToFileURL(path.join(repoRoot, 'test', 'fixtures', 'span-writer', name))

/** `count` spans of one trace (the first its root), as the span processor hands them to the writer. */
const spans = (count: number, name = 'step'): SpanRecord[] => {
  const traceId = randomBytes(16).toString('hex')
  const rootId = randomBytes(8).toString('hex')
  return Array.from({length: count}, (_, i) => ({
    name: i === 0 ? 'flow' : name,
    context: {trace_id: traceId, span_id: i === 0 ? rootId : randomBytes(8).toString('hex'), trace_state: ''},
    kind: 'SpanKind.INTERNAL',
    parent_id: i === 0 ? null : rootId,
    start_time: '2026-11-27T01:00:00.000001Z',
    end_time: '2026-11-27T01:00:00.250001Z',
    status: {status_code: 'Ok'},
    attributes: {span_type: i === 0 ? 'Flow' : 'Function', inputs: `{"i":${i}}`, output: '"ok"'},
    events: [],
    links: [],
    resource: {attributes: {'service.name': 'promptflow', collection: 'writer-test'}, schema_url: ''},
  }))
}

describe('span writer: the store written from a thread of its own (built modules)', () => {
  let store: TraceStoreClass
  /** Batches the calling thread wrote itself (the thread writes through its own connection). */
  let inline: number
  const count = (sql: string) => store.db.prepare(sql).pluck().get() as number

  beforeEach(() => {
    store = TraceStore.open(tempDir('pf-writer-'))
    inline = 0
    const recordRows = store.recordRows.bind(store)
    store.recordRows = (...args) => {
      inline++
      recordRows(...args)
    }
  })
  afterEach(() => store.close())

  it('writes on the calling thread until threadAfterSpans, then on its thread: every span, line run and outbox row', async () => {
    const writer = new SpanWriter(store, ['dest-a'], {threadAfterSpans: 100})
    await writer.write(spans(60))
    await writer.write(spans(60))
    expect(inline, 'the first 120 spans, before the threshold was passed').to.equal(2)
    // Not awaited one by one: batches queue while the thread starts and are written in order.
    await Promise.all([writer.write(spans(200)), writer.write(spans(300)), writer.write(spans(40))])
    expect(inline, 'batches after the threshold').to.equal(2)
    await writer.close()
    expect(count('SELECT COUNT(*) FROM spans')).to.equal(660)
    expect(count('SELECT COUNT(*) FROM line_runs')).to.equal(5)
    expect(count(`SELECT COUNT(*) FROM outbox WHERE destination = 'dest-a'`)).to.equal(660)
    expect(count(`SELECT COUNT(*) FROM line_runs WHERE collection = 'writer-test' AND inputs = '{"i":0}'`)).to.equal(5)
  })

  it("rejects a batch its thread's transaction refused, with SQLite's code, and writes the next ones", async () => {
    const writer = new SpanWriter(store, [], {threadAfterSpans: 0})
    const bad = spans(5)
    ;(bad[2] as {name: unknown}).name = null // spans.name is NOT NULL
    const failed = await writer.write(bad).then(
      () => undefined,
      (error: Error & {code?: string}) => error,
    )
    expect(failed?.code).to.equal('SQLITE_CONSTRAINT_NOTNULL')
    await writer.write(spans(7))
    // Batches queued together share a transaction; a refused one fails alone.
    const outcomes = await Promise.allSettled([writer.write(spans(3)), writer.write(bad), writer.write(spans(4))])
    expect(outcomes.map(o => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled'])
    await writer.close()
    expect(inline).to.equal(0)
    expect(count('SELECT COUNT(*) FROM spans'), 'the refused batches left nothing behind').to.equal(14)
  })

  it('holds the caller while its queue is over maxQueuedRows (backpressure), and not for a thread that died', async () => {
    const writer = new SpanWriter(store, [], {threadAfterSpans: 0, maxQueuedRows: 0})
    const writes: Array<Promise<void>> = []
    for (let batch = 1; batch <= 4; batch++) {
      writes.push(writer.write(spans(150)))
      // Returned only once the thread has committed everything sent (a queue of at most 0 rows).
      expect(count('SELECT COUNT(*) FROM spans')).to.equal(150 * batch)
    }
    await Promise.all(writes)
    await writer.close()

    const dying = new SpanWriter(store, [], {threadAfterSpans: 0, maxQueuedRows: 0, workerUrl: fixture('dies-on-first-batch.mjs')})
    const started = Date.now()
    const first = dying.write(spans(20))
    expect(Date.now() - started, 'not held by a dead thread').to.be.below(2000)
    await first
    await dying.close()
    expect(count('SELECT COUNT(*) FROM spans')).to.equal(620)
  })

  it('writes on the calling thread when its thread cannot start: nothing is lost', async () => {
    const writer = new SpanWriter(store, [], {threadAfterSpans: 0, workerUrl: fixture('fails-at-start.mjs')})
    await Promise.all([writer.write(spans(10)), writer.write(spans(20))])
    await writer.write(spans(30))
    await writer.close()
    expect(count('SELECT COUNT(*) FROM spans')).to.equal(60)
    expect(inline).to.equal(3)
  })

  it('writes again, on the calling thread, what a thread that died had not committed', async () => {
    const writer = new SpanWriter(store, [], {threadAfterSpans: 0, workerUrl: fixture('dies-on-first-batch.mjs')})
    await Promise.all([writer.write(spans(10)), writer.write(spans(20))])
    await writer.write(spans(5))
    await writer.close()
    expect(count('SELECT COUNT(*) FROM spans')).to.equal(35)
  })

  it('keeps a process alive until its batches are written, and not after', () => {
    const home = tempDir('pf-writer-exit-')
    const script = path.join(home, 'write-and-leave.mjs')
    // Writes without awaiting and never closes the writer: the process ends by itself once the thread is idle.
    writeFileSync(
      script,
      `import {readFileSync} from 'node:fs'
const {SpanWriter} = await import(${JSON.stringify(dist('tracing/span-writer.js'))})
const {TraceStore} = await import(${JSON.stringify(dist('store/store.js'))})
const spans = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const writer = new SpanWriter(TraceStore.open(${JSON.stringify(home)}), [], {threadAfterSpans: 0})
for (const batch of spans) void writer.write(batch)
`,
    )
    const batches = path.join(home, 'batches.json')
    writeFileSync(batches, JSON.stringify([spans(300), spans(300), spans(300)]))
    const started = Date.now()
    const result = spawnSync(process.execPath, [script, batches], {env: cleanEnv(), encoding: 'utf8', timeout: 20_000})
    expect(result.status, `${result.error} ${result.stderr}`).to.equal(0)
    expect(Date.now() - started, 'the idle thread does not hold the process').to.be.below(10_000)
    const written = TraceStore.open(home)
    try {
      expect(written.db.prepare('SELECT COUNT(*) FROM spans').pluck().get()).to.equal(900)
    } finally {
      written.close()
    }
  })
})
