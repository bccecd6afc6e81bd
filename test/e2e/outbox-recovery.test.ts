import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {cleanEnv, pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const plugin = path.join(repoRoot, 'test', 'fixtures', 'plugins', 'pf-file-destination')
const flexFlow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')
const answerFlow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'run-answer')
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [])

/** A remote destination that is down, hangs or dies with pf: nothing waits long, nothing is lost, nothing is sent twice. */
describe('outbox: dead destinations and dead pf processes (built CLI)', () => {
  let home: string
  let env: NodeJS.ProcessEnv
  let spansFile: string
  const pf = (args: string[]) => runPf(args, {home, env})
  const timed = async (args: string[]) => {
    const started = Date.now()
    const result = await pf(args)
    return {...result, ms: Date.now() - started}
  }
  const outbox = (sql: string): any[] => {
    const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
    try {
      return db.prepare(sql).all()
    } finally {
      db.close()
    }
  }

  beforeEach(async () => {
    home = tempDir('pf-home-')
    env = {PF_DATA_DIR: tempDir('pf-data-')}
    spansFile = path.join(tempDir('pf-dest-'), 'spans.jsonl')
    const link = await pf(['plugins', 'link', '--no-install', plugin])
    expect(link.code, link.stderr).to.equal(0)
    const set = await pf(['config', 'set', `trace.destination=local,filetest://${spansFile}`])
    expect(set.code, set.stderr).to.equal(0)
  })

  for (const mode of ['down', 'hang'])
    it(`a destination that is ${mode === 'down' ? 'down' : 'never answering'} holds flow test about 1 s, then says what is pending`, async () => {
      writeFileSync(`${spansFile}.${mode}`, '')
      // The same command with the destination up: what the command costs without any wait.
      const quick = await timed(['flow', 'test', '--flow', flexFlow, '--export-wait', '0'])
      expect(quick.code, quick.stderr).to.equal(0)
      const result = await timed(['flow', 'test', '--flow', flexFlow])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.match(new RegExp(`Warning: [36] span\\(s\\) pending for filetest://.*; \`pf trace sync\` sends them`))
      console.log(`      destination ${mode}: flow test ${result.ms} ms (with --export-wait 0: ${quick.ms} ms)`)
      // About 1 s more than no wait at all (the old default waited 10 s); the margin is for a loaded machine.
      expect(result.ms - quick.ms).to.be.below(5000)
      // The wait is configurable.
      expect((await pf(['config', 'set', 'trace.export_wait=0'])).code).to.equal(0)
      expect((await pf(['config', 'set', 'trace.export_wait=-1'])).code).to.equal(2)
    })

  it("after SIGKILL, sync takes back the dead process's claims at once and delivers every span once", async () => {
    writeFileSync(`${spansFile}.hang`, '')
    const data = path.join(tempDir('pf-data-'), 'data.jsonl')
    writeFileSync(data, Array.from({length: 50}, (_, i) => JSON.stringify({question: `q${i}`})).join('\n') + '\n')
    const child = spawn(
      process.execPath,
      [pfBin, 'run', 'create', '--flow', answerFlow, '--data', data, '--name', 'doomed', '--export-wait', '60'],
      {
        cwd: home,
        env: {...cleanEnv(), PF_HOME_DIRECTORY: home, ...env},
        stdio: 'ignore',
      },
    )
    const exited = new Promise(resolve => child.on('close', resolve))
    // Wait until the run has ended and its exports hang, holding claims on the outbox.
    const deadline = Date.now() + 30_000
    const claimed = () =>
      existsSync(path.join(home, 'pf.sqlite')) ? outbox(`SELECT COUNT(*) AS n FROM outbox WHERE claimed_until > ${Date.now()}`)[0].n : 0
    while ((await pf(['run', 'show', 'doomed', '--json'])).json?.().status !== 'Completed' || claimed() === 0) {
      expect(Date.now()).to.be.below(deadline)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    child.kill('SIGKILL')
    await exited
    rmSync(`${spansFile}.hang`)

    const sync = await timed(['trace', 'sync', '--json'])
    expect(sync.code, sync.stdout + sync.stderr).to.equal(0)
    console.log(`      sync after SIGKILL: ${sync.ms} ms`)
    expect(sync.ms).to.be.below(4000)
    const local = outbox('SELECT span_id FROM spans').map(r => r.span_id)
    expect(local).to.have.length(100)
    expect(lines(spansFile).map(l => JSON.parse(l).context.span_id)).to.have.members(local)
    expect(outbox(`SELECT COUNT(*) AS n FROM outbox WHERE state != 'delivered'`)[0].n).to.equal(0)
  })

  it("sync retries at once when the destination is back, skipping pf's backoff but not a receiver's Retry-After", async () => {
    writeFileSync(`${spansFile}.down`, '')
    expect((await pf(['flow', 'test', '--flow', flexFlow])).code).to.equal(0)
    // Many failed attempts later pf's own backoff is long (up to a minute); one span's receiver asked for 10 minutes.
    const later = Date.now() + 60_000
    const db = openDatabase(path.join(home, 'pf.sqlite'))
    db.prepare('UPDATE outbox SET attempts = 8, next_attempt_at = ?').run(later)
    const [asked] = db.prepare('SELECT span_id FROM outbox LIMIT 1').pluck().all() as string[]
    db.prepare('UPDATE outbox SET next_attempt_at = ?, retry_not_before = ? WHERE span_id = ?').run(later + 540_000, later + 540_000, asked)
    db.close()
    rmSync(`${spansFile}.down`)
    const sync = await timed(['trace', 'sync', '--timeout', '3', '--json'])
    expect(sync.code, sync.stdout).to.equal(3)
    expect(sync.json().error.destinations[0]).to.include({delivered: 2, pending: 1})
    expect(lines(spansFile).map(l => JSON.parse(l).context.span_id)).to.not.include(asked)
  })

  it('spans waiting for a destination no longer configured: sync reports them and exits 0; --discard drops them after confirmation', async () => {
    writeFileSync(`${spansFile}.down`, '')
    expect((await pf(['flow', 'test', '--flow', flexFlow])).code).to.equal(0)
    // Still configured: sync exits 3 (work done, delivery pending).
    expect((await pf(['trace', 'sync', '--timeout', '1'])).code).to.equal(3)

    expect((await pf(['config', 'set', 'trace.destination=local'])).code).to.equal(0)
    const stale = await pf(['trace', 'sync', '--timeout', '1'])
    expect(stale.code, stale.stderr).to.equal(0)
    expect(stale.stderr).to.contain(
      `trace.destination no longer names filetest://${spansFile}; \`pf trace sync --discard filetest://${spansFile}\` drops its 3 waiting span(s).`,
    )

    // No terminal to ask on: refused, nothing dropped.
    const refused = await pf(['trace', 'sync', '--discard', `filetest://${spansFile}`, '--json'])
    expect(refused.code).to.equal(2)
    expect(refused.json().error.code).to.equal('confirmation_required')
    expect(outbox(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`)[0].n).to.equal(3)

    const discarded = await pf(['trace', 'sync', '--discard', `filetest://${spansFile}`, '--yes', '--json'])
    expect(discarded.code, discarded.stderr).to.equal(0)
    expect(discarded.json().discarded).to.deep.equal([
      {destination: `filetest://${spansFile}`, key: `filetest:${spansFile}`, pending: 3, parked: 0, discarded: true},
    ])
    expect(outbox('SELECT COUNT(*) AS n FROM outbox')[0].n).to.equal(0)
    expect(outbox('SELECT COUNT(*) AS n FROM spans')[0].n).to.equal(3)
    expect((await pf(['trace', 'sync'])).stdout).to.equal('Nothing pending.\n')
  })
})
