import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {migrations} from '../../src/store/schema.js'
import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readStore} from '../helpers/store.js'

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'flows', name)

/** A writer process: the built TraceStore, `batches` transactions of `size` spans (+ one outbox row each). */
const writerScript = `
import {randomBytes} from 'node:crypto'
const {TraceStore} = await import(process.env.STORE_MODULE)
const [home, writer, batches, size] = process.argv.slice(1)
const store = TraceStore.open(home)
for (let b = 0; b < Number(batches); b++) {
  const traceId = randomBytes(16).toString('hex')
  const spans = Array.from({length: Number(size)}, (_, i) => ({
    name: 'w' + writer + '-' + b + '-' + i,
    context: {trace_id: traceId, span_id: randomBytes(8).toString('hex'), trace_state: ''},
    kind: 'SpanKind.INTERNAL',
    parent_id: i === 0 ? null : 'parent',
    start_time: new Date().toISOString().slice(0, 23) + '000Z',
    end_time: new Date().toISOString().slice(0, 23) + '500Z',
    status: {status_code: 'Ok'},
    attributes: {span_type: 'Function', writer: Number(writer)},
    events: [],
    links: [],
    resource: {attributes: {'service.name': 'promptflow', collection: 'writer' + writer}, schema_url: ''},
  }))
  store.recordSpans(spans, ['filetest:/tmp/none'])
}
store.close()
`

const runWriter = (home: string, writer: number, batches: number, size: number) =>
  new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', writerScript, home, String(writer), String(batches), String(size)],
      {
        env: {...process.env, STORE_MODULE: pathToFileURL(path.join(repoRoot, 'dist', 'store', 'store.js')).href},
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr.on('data', d => (stderr += d))
    child.on('error', reject)
    child.on('close', code => resolve({code, stderr}))
  })

describe('local store under concurrent pf processes', () => {
  it('five `pf flow test` at once on a fresh home: every span and line run stored, schema migrated once, store intact', async function () {
    this.timeout(120_000)
    const home = tempDir('pf-home-')
    const results = await Promise.all(
      Array.from({length: 5}, (_, i) =>
        runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', `question=q${i}`, '--json'], {home, timeoutMs: 110_000}),
      ),
    )
    for (const r of results) expect(r.code, r.stderr).to.equal(0)
    const traceIds = results.map(r => r.json().traceId)
    readStore(home, db => {
      expect(db.pragma('integrity_check', {simple: true})).to.equal('ok')
      expect(db.pragma('user_version', {simple: true})).to.equal(migrations.length)
      expect(db.pragma('journal_mode', {simple: true})).to.equal('wal')
      expect((db.prepare('SELECT COUNT(*) AS n FROM spans').get() as {n: number}).n).to.equal(15)
      const lineRuns = (db.prepare('SELECT trace_id FROM line_runs').all() as Array<{trace_id: string}>).map(r => r.trace_id)
      expect(lineRuns).to.have.members(traceIds)
      const inputs = (db.prepare('SELECT inputs FROM line_runs').all() as Array<{inputs: string}>).map(r => JSON.parse(r.inputs).question)
      expect(inputs).to.have.members(['q0', 'q1', 'q2', 'q3', 'q4'])
    })
  })

  it('four processes writing 5,000 spans each in transactions at once lose no row and corrupt nothing', async function () {
    this.timeout(120_000)
    const home = tempDir('pf-home-')
    const results = await Promise.all([0, 1, 2, 3].map(w => runWriter(home, w, 100, 50)))
    for (const r of results) expect(r.code, r.stderr).to.equal(0)
    readStore(home, db => {
      expect(db.pragma('integrity_check', {simple: true})).to.equal('ok')
      expect(db.pragma('user_version', {simple: true})).to.equal(migrations.length)
      const perWriter = db.prepare('SELECT collection, COUNT(*) AS n FROM spans GROUP BY collection ORDER BY collection').all()
      expect(perWriter).to.deep.equal([0, 1, 2, 3].map(w => ({collection: `writer${w}`, n: 5000})))
      expect((db.prepare('SELECT COUNT(*) AS n FROM line_runs').get() as {n: number}).n).to.equal(400)
      expect((db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'").get() as {n: number}).n).to.equal(20_000)
      // Every span has its outbox row: written in the same transaction.
      expect(
        (
          db.prepare('SELECT COUNT(*) AS n FROM spans s LEFT JOIN outbox o USING (trace_id, span_id) WHERE o.span_id IS NULL').get() as {
            n: number
          }
        ).n,
      ).to.equal(0)
    })
  })
})
