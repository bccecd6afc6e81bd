import {expect} from 'chai'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {FakeRegistry, deadRegistry, npmEnv, npmPack} from '../helpers/npm-registry.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'plugins')
const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')

describe('pf plugins (built CLI)', function () {
  this.timeout(120_000)
  let home: string
  let packs: string
  const pf = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => runPf(args, {home, env, cwd})
  beforeEach(() => {
    home = tempDir('pf-home-')
    packs = tempDir('pf-packs-')
  })

  it('keeps plugins under <pf home>/plugins (PF_DATA_DIR overrides); link, list, inspect, uninstall', async () => {
    const link = await pf(['plugins', 'link', path.join(fixtures, 'pf-file-destination'), '--no-install'])
    expect(link.code, link.stderr).to.equal(0)
    const manifest = JSON.parse(readFileSync(path.join(home, 'plugins', 'package.json'), 'utf8'))
    expect(manifest.oclif.plugins).to.deep.equal([
      {name: 'pf-file-destination', root: path.join(fixtures, 'pf-file-destination'), type: 'link'},
    ])

    const list = await pf(['plugins'])
    expect(list.stdout).to.contain('pf-file-destination 1.0.0 (link)')
    // --json: a short documented shape (docs/cli.md), not oclif's internal plugin objects.
    const listJson = await pf(['plugins', '--json'])
    expect(listJson.json()).to.deep.equal([
      {name: 'pf-file-destination', version: '1.0.0', type: 'link', root: path.join(fixtures, 'pf-file-destination')},
    ])
    const inspect = await pf(['plugins', 'inspect', 'pf-file-destination'])
    expect(inspect.code, inspect.stderr).to.equal(0)
    expect(inspect.stdout).to.contain(`location ${path.join(fixtures, 'pf-file-destination')}`)

    const elsewhere = tempDir('pf-data-')
    expect((await pf(['plugins'], {PF_DATA_DIR: elsewhere})).stdout).not.to.contain('pf-file-destination')

    expect((await pf(['plugins', 'uninstall', 'pf-file-destination'])).code).to.equal(0)
    expect((await pf(['plugins'])).stdout).not.to.contain('pf-file-destination')
  })

  it('installs a destination plugin from a packed tarball (a relative path) without any registry; uninstall takes its destination away', async () => {
    npmPack(path.join(fixtures, 'pf-file-destination'), packs)
    const env = npmEnv(deadRegistry, path.join(packs, 'npm-cache'))
    const install = await pf(['plugins', 'install', './pf-file-destination-1.0.0.tgz'], env, packs)
    expect(install.code, install.stderr).to.equal(0)
    expect(existsSync(path.join(home, 'plugins', 'node_modules', 'pf-file-destination', 'hooks', 'trace-destination.js'))).to.equal(true)

    const file = path.join(tempDir(), 'spans.jsonl')
    expect((await pf(['config', 'set', `trace.destination=filetest://${file}`])).code).to.equal(0)
    const run = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(run.code, run.stderr).to.equal(0)
    const sent = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(run.json().export[0]).to.deep.include({delivered: sent.length, pending: 0})
    expect(sent.some(s => s.context.trace_id === run.json().traceId && s.parent_id === null)).to.equal(true)

    expect((await pf(['plugins', 'uninstall', 'pf-file-destination'])).code).to.equal(0)
    const after = await pf(['config', 'set', `trace.destination=filetest://${file}`, '--json'])
    expect(after.code).to.equal(2)
    expect(after.json().error.code).to.equal('unknown_destination')
  })

  it('refuses a folder or tarball that is not a pf plugin, before installing anything', async () => {
    const plain = path.join(tempDir(), 'not-oclif')
    mkdirSync(plain)
    writeFileSync(path.join(plain, 'package.json'), JSON.stringify({name: 'not-oclif', version: '1.0.0'}))
    npmPack(plain, packs)
    const env = npmEnv(deadRegistry, path.join(packs, 'npm-cache'))
    for (const [source, reason] of [
      [path.join(packs, 'not-oclif-1.0.0.tgz'), 'not-oclif is not a pf plugin: its package.json has no "oclif" section'],
      [
        path.join(fixtures, 'pf-not-a-destination'),
        'pf-not-a-destination is not a pf plugin: its package.json declares no oclif.hooks["trace-destination"]',
      ],
    ]) {
      const human = await pf(['plugins', 'install', source], env)
      expect(human.code, human.stderr).to.equal(2)
      const errors = human.stderr.split('\n').filter(l => l.includes('Error'))
      expect(errors).to.deep.equal([`Error: ${reason}; see docs/plugins.md.`])
      const json = await pf(['plugins', 'install', source, '--json'], env)
      expect(json.code).to.equal(2)
      expect(json.json()).to.deep.equal({error: {code: 'not_a_pf_plugin', message: `${reason}; see docs/plugins.md.`}})
    }
    expect(existsSync(path.join(home, 'plugins', 'node_modules'))).to.equal(false)
  })

  it('installs by name from a registry, refuses an oclif plugin without destinations and a name that does not exist', async () => {
    const registry = await FakeRegistry.start([
      npmPack(path.join(fixtures, 'pf-file-destination'), packs),
      npmPack(path.join(fixtures, 'pf-not-a-destination'), packs),
    ])
    try {
      const env = npmEnv(registry.url, path.join(packs, 'npm-cache'))
      const good = await pf(['plugins', 'install', 'pf-file-destination'], env)
      expect(good.code, good.stderr).to.equal(0)
      expect((await pf(['plugins'])).stdout).to.contain('pf-file-destination 1.0.0')

      const notDestination = await pf(['plugins', 'install', 'pf-not-a-destination'], env)
      expect(notDestination.code, notDestination.stderr).to.equal(2)
      expect(notDestination.stderr).to.contain(
        'Error: pf-not-a-destination is not a pf plugin: its package.json declares no oclif.hooks["trace-destination"]; it was uninstalled.',
      )
      const list = (await pf(['plugins'])).stdout
      expect(list).not.to.contain('pf-not-a-destination')
      expect(list).to.contain('pf-file-destination 1.0.0')
      expect(existsSync(path.join(home, 'plugins', 'node_modules', 'pf-not-a-destination'))).to.equal(false)

      const missing = await pf(['plugins', 'install', 'pf-no-such-plugin'], env)
      expect(missing.code).to.equal(2)
      expect(missing.stderr).to.match(/Error: pf-no-such-plugin does not exist in the registry\./)
      expect(registry.requests.some(r => r.startsWith('/pf-no-such-plugin'))).to.equal(true)
    } finally {
      await registry.close()
    }
  })

  it('reports a plugin whose hook returns a malformed provider by name, skips it, and keeps working', async () => {
    expect((await pf(['plugins', 'link', path.join(fixtures, 'pf-malformed-destination'), '--no-install'])).code).to.equal(0)
    const broken = await pf(['config', 'set', 'trace.destination=broken://x', '--json'])
    expect(broken.stderr).to.contain(
      'Warning: plugin pf-malformed-destination: returned provider "broken" without validate, resolve, exporter; skipped',
    )
    expect(broken.code).to.equal(2)
    expect(broken.json().error.code).to.equal('unknown_destination')
    const run = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(run.code, run.stderr).to.equal(0)
    expect(run.json().status).to.equal('Completed')
  })

  it('takes a comma-separated list (local implied) and refuses none inside a list', async () => {
    expect((await pf(['plugins', 'link', path.join(fixtures, 'pf-file-destination'), '--no-install'])).code).to.equal(0)
    const file = path.join(tempDir(), 'spans.jsonl')
    const set = await pf(['config', 'set', `trace.destination=local, filetest://${file}`])
    expect(set.code, set.stderr).to.equal(0)
    expect((await pf(['config', 'get', 'trace.destination'])).stdout.trim()).to.equal(`local,filetest://${file}`)
    const none = await pf(['config', 'set', `trace.destination=none,filetest://${file}`, '--json'])
    expect(none.code).to.equal(2)
    expect(none.json().error).to.deep.equal({
      code: 'invalid_value',
      message: '"none" turns tracing off and cannot be combined with other destinations in trace.destination.',
    })
    expect((await pf(['config', 'get', 'trace.destination'])).stdout.trim()).to.equal(`local,filetest://${file}`)
  })

  describe('plugins that break the contract cannot break pf', () => {
    const link = async (name: string) => expect((await pf(['plugins', 'link', path.join(fixtures, name), '--no-install'])).code).to.equal(0)

    it('a hook that never answers, a plugin claiming azureml or local, and a pre-v1 provider are each refused by name', async () => {
      for (const name of ['pf-hanging-hook', 'pf-claims-builtins', 'pf-file-destination']) await link(name)
      const file = path.join(tempDir(), 'spans.jsonl')
      const started = Date.now()
      const set = await pf(['config', 'set', `trace.destination=filetest://${file}`])
      expect(set.code, set.stderr).to.equal(0)
      expect(Date.now() - started).to.be.below(30_000)
      const warnings = set.stderr.split('\n').filter(l => l.startsWith('Warning: '))
      expect(warnings).to.have.members([
        'Warning: plugin pf-hanging-hook: trace-destination hook failed: Timed out after 5000 ms.; skipped',
        'Warning: plugin pf-claims-builtins: scheme "azureml" is built into pf and cannot be provided by a plugin; skipped',
        'Warning: plugin pf-claims-builtins: scheme "local" is built into pf and cannot be provided by a plugin; skipped',
        'Warning: plugin pf-claims-builtins: provider "legacy" declares no contractVersion (written before contract v1); pf needs v1: upgrade the plugin (pf plugins install <name>@latest); skipped',
      ])
      const legacy = await pf(['config', 'set', 'trace.destination=legacy://x', '--json'])
      expect(legacy.code).to.equal(2)
      expect(legacy.json().error.code).to.equal('unknown_destination')
      // azureml is still pf's own: its value is parsed by pf (a malformed id gets the reference's message).
      const azure = await pf(['config', 'set', 'trace.destination=azureml://nonsense', '--json'])
      expect(azure.json().error.message).to.match(/^Malformed trace provider string/)
      const run = await pf(['flow', 'test', '--flow', flow, '--json'])
      expect(run.code, run.stderr).to.equal(0)
      expect(run.json().export[0]).to.include({destination: `filetest://${file}`, pending: 0, parked: 0})
    })

    it('validate throwing a string, resolve returning null, export returning nothing or throwing a non-Error: named, and nothing is lost', async () => {
      await link('pf-misbehaving')
      const validate = await pf(['config', 'set', 'trace.destination=stringvalidate://x', '--json'])
      expect(validate.code).to.equal(2)
      expect(validate.json().error).to.deep.equal({
        code: 'invalid_value',
        message: 'stringvalidate://x (plugin pf-misbehaving): validate threw a plain string',
      })

      expect((await pf(['config', 'set', 'trace.destination=nullresolve://x'])).code).to.equal(0)
      const resolve = await pf(['flow', 'test', '--flow', flow, '--json'])
      expect(resolve.code).to.equal(1)
      expect(resolve.json().error.message).to.equal(
        'plugin pf-misbehaving: resolve() for scheme "nullresolve" returned null instead of a destination {scheme, value, key}; fix or uninstall the plugin.',
      )

      const reasons = {
        'noresult://x': "the exporter returned undefined instead of an ExportResult ({code: 'ok' | 'retryable' | 'fatal'})",
        'throwsobject://x': 'export threw {"weird":1}',
        'noexporter://x': 'cannot start exporting: exporter() returned undefined instead of {export(spans)}',
      }
      for (const [value, reason] of Object.entries(reasons)) {
        expect((await pf(['config', 'set', `trace.destination=${value}`])).code).to.equal(0)
        const run = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
        expect(run.code, run.stderr).to.equal(0)
        expect(run.json().status).to.equal('Completed')
        expect(run.json().export[0]).to.include({destination: value, delivered: 0, pending: 3, lastError: reason})
      }
      const pending = (await pf(['trace', 'list', '--pending', '--json'])).json()
      expect(pending.map((p: {destination: string; pending: number}) => [p.destination, p.pending])).to.have.deep.members(
        Object.keys(reasons).map(v => [v, 3]),
      )
    })
  })
})
