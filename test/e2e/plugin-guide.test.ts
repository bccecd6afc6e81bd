/** The example plugin in docs/plugins.md, written out as a user would copy it, linked into pf and used. */
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'

const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')

/** The fenced blocks of the guide whose info string names a file: ```js hooks/trace-destination.js */
const guideFiles = (): Record<string, string> => {
  const guide = readFileSync(path.join(repoRoot, 'docs', 'plugins.md'), 'utf8')
  return Object.fromEntries([...guide.matchAll(/^```\w+ (\S+)\n([\s\S]*?)^```$/gm)].map(m => [m[1], m[2]]))
}

describe('docs/plugins.md example plugin', function () {
  this.timeout(120_000)
  let server: Server
  let status = 200
  const batches: any[][] = []

  before(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.on('data', c => (body += c))
      req.on('end', () => {
        if (status === 200) batches.push(JSON.parse(body))
        res.writeHead(status)
        res.end()
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  })
  after(() => new Promise<void>(resolve => server.close(() => resolve())))

  it('works as written: validates, exports every span, retries a 503, parks a 400', async () => {
    const files = guideFiles()
    expect(Object.keys(files)).to.deep.equal(['package.json', 'hooks/trace-destination.js'])
    const dir = path.join(tempDir('pf-guide-'), 'pf-trace-webhook')
    mkdirSync(path.join(dir, 'hooks'), {recursive: true})
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)

    const home = tempDir('pf-home-')
    const pf = (args: string[]) => runPf(args, {home})
    expect((await pf(['plugins', 'link', dir, '--no-install'])).code).to.equal(0)
    const target = `webhook://127.0.0.1:${(server.address() as AddressInfo).port}/spans`
    const set = await pf(['config', 'set', `trace.destination=${target}`])
    expect(set.code, set.stderr).to.equal(0)

    const run = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(run.code, run.stderr).to.equal(0)
    const spans = batches.flat()
    expect(run.json().export).to.deep.equal([{destination: target, delivered: spans.length, parked: 0, pending: 0}])
    expect(spans.filter(s => s.context.trace_id === run.json().traceId && s.parent_id === null)).to.have.length(1)

    status = 503
    const down = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
    const pending = down.json().export[0].pending
    expect(pending).to.be.greaterThan(0)
    status = 200
    const sync = await pf(['trace', 'sync', '--json'])
    expect(sync.json().destinations).to.deep.equal([{destination: target, configured: true, delivered: pending, parked: 0, pending: 0}])

    status = 400
    const refused = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(refused.json().export[0]).to.deep.include({
      delivered: 0,
      pending: 0,
      lastError: `http://127.0.0.1:${(server.address() as AddressInfo).port}/spans answered HTTP 400`,
    })
    expect(refused.json().export[0].parked).to.be.greaterThan(0)
  })
})
