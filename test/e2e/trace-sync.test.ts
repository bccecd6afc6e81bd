import {expect} from 'chai'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readStore} from '../helpers/store.js'

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'flows', name)
const plugin = path.join(repoRoot, 'test', 'fixtures', 'plugins', 'pf-file-destination')

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [])

describe('pf trace sync through a destination plugin (built CLI)', () => {
  let home: string
  let env: NodeJS.ProcessEnv
  let spansFile: string
  const pf = (args: string[]) => runPf(args, {home, env})

  beforeEach(async () => {
    home = tempDir('pf-home-')
    env = {PF_DATA_DIR: tempDir('pf-data-')}
    spansFile = path.join(tempDir('pf-dest-'), 'spans.jsonl')
    const link = await pf(['plugins', 'link', '--no-install', plugin])
    expect(link.code, link.stderr).to.equal(0)
    const set = await pf(['config', 'set', `trace.destination=local,filetest://${spansFile}`])
    expect(set.code, set.stderr).to.equal(0)
  })

  const storedSpanIds = () =>
    readStore(home, db => (db.prepare('SELECT span_id FROM spans').all() as Array<{span_id: string}>).map(r => r.span_id))

  it('destination down: flow test says how many spans are pending and exits 0; list --pending shows them; sync fails until it is back, then delivers each span once', async () => {
    writeFileSync(spansFile + '.down', '')
    const first = await pf(['flow', 'test', '--flow', fixture('flex-basic'), '--export-wait', '1'])
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stderr).to.contain(
      `Warning: 3 span(s) pending for filetest://${spansFile}; \`pf trace sync\` sends them (last error: destination down (test)).`,
    )
    const second = await pf(['flow', 'test', '--flow', fixture('flex-js'), '--export-wait', '0', '--json'])
    expect(second.code, second.stderr).to.equal(0)
    // Pending counts everything still waiting for that destination (this run's spans and the earlier run's).
    expect(second.json().export).to.deep.equal([
      {destination: `filetest://${spansFile}`, delivered: 0, parked: 0, pending: 6, lastError: 'destination down (test)'},
    ])

    const pending = await pf(['trace', 'list', '--pending', '--json'])
    expect(pending.code, pending.stderr).to.equal(0)
    expect(pending.json()).to.deep.equal([
      {
        destination: `filetest://${spansFile}`,
        key: `filetest:${spansFile}`,
        pending: 6,
        parked: 0,
        delivered: 0,
        lastError: 'destination down (test)',
        parkedSpans: [],
      },
    ])
    const table = (await pf(['trace', 'list', '--pending'])).stdout.split('\n')
    expect(table[0].split(/\s{2,}/)).to.deep.equal(['DESTINATION', 'PENDING', 'PARKED', 'DELIVERED', 'LAST ERROR'])
    expect(table[1].split(/\s{2,}/)).to.deep.equal([`filetest://${spansFile}`, '6', '0', '0', 'destination down (test)'])

    const down = await pf(['trace', 'sync', '--timeout', '1', '--json'])
    expect(down.code).to.equal(3)
    expect(down.json().error).to.include({code: 'sync_incomplete'})
    expect(lines(spansFile)).to.deep.equal([])

    rmSync(spansFile + '.down')
    const up = await pf(['trace', 'sync', '--json'])
    expect(up.code, up.stderr).to.equal(0)
    expect(up.json().destinations).to.deep.equal([
      {destination: `filetest://${spansFile}`, configured: true, delivered: 6, parked: 0, pending: 0},
    ])
    const local = storedSpanIds()
    expect(local).to.have.length(6)
    // Every local span arrived, and pf handed each to the destination exactly once.
    expect(lines(spansFile).map(l => JSON.parse(l).context.span_id)).to.have.members(local)
    expect(lines(spansFile + '.received')).to.have.members(local)

    const again = await pf(['trace', 'sync'])
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.equal('Nothing pending.\n')
    expect(lines(spansFile + '.received')).to.have.length(6)
    expect((await pf(['trace', 'list', '--pending', '--json'])).json()).to.deep.equal([])
  })

  it('delivers at once when the destination is up; a refusal parks spans with the reason, shown by list --pending, never resent', async () => {
    const ok = await pf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'])
    expect(ok.code, ok.stderr).to.equal(0)
    expect(ok.json().export).to.deep.equal([{destination: `filetest://${spansFile}`, delivered: 3, parked: 0, pending: 0}])
    expect(ok.json().links.portal).to.deep.equal([`file://${spansFile}#flex-basic`])
    expect(lines(spansFile + '.received')).to.have.members(storedSpanIds())

    writeFileSync(spansFile + '.reject', '')
    const refused = await pf(['flow', 'test', '--flow', fixture('flex-js')])
    expect(refused.code, refused.stderr).to.equal(0)
    expect(refused.stderr).to.contain(
      `Warning: 3 span(s) rejected by filetest://${spansFile}; see \`pf trace list --pending\` (last error: rejected (test)).`,
    )
    const refusedIds = readStore(home, db =>
      (db.prepare("SELECT span_id FROM spans WHERE collection = 'flex-js'").all() as Array<{span_id: string}>).map(r => r.span_id),
    )
    const pending = (await pf(['trace', 'list', '--pending', '--json'])).json()
    expect(pending).to.have.length(1)
    expect(pending[0]).to.include({pending: 0, parked: 3, delivered: 3})
    expect(pending[0].parkedSpans.map((s: any) => s.spanId)).to.have.members(refusedIds)
    for (const s of pending[0].parkedSpans) expect(s).to.include({reason: 'rejected (test)', attempts: 1})
    const human = (await pf(['trace', 'list', '--pending'])).stdout
    expect(human).to.contain('Parked (refused; never retried):')
    for (const id of refusedIds) expect(human).to.match(new RegExp(`${id}\\s+rejected \\(test\\)`))

    rmSync(spansFile + '.reject')
    const sync = await pf(['trace', 'sync'])
    expect(sync.code, sync.stderr).to.equal(0)
    expect(sync.stdout).to.equal('Nothing pending.\n')
    expect(lines(spansFile + '.received')).to.have.length(3)
  })
})
