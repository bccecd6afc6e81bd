import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'

/** Values from flags, files and other processes that pf must not trust. */
describe('untrusted values and concurrent writers (built CLI)', () => {
  let home: string
  let dir: string
  beforeEach(() => {
    home = tempDir('pf-home-')
    dir = tempDir('pf-input-')
  })
  const connectionFile = (name: string, fileName = `${name}.yaml`) => {
    const file = path.join(dir, fileName.replace(/[^A-Za-z0-9_.-]/g, '_'))
    writeFileSync(file, `name: ${JSON.stringify(name)}\ntype: open_ai\napi_key: \${env:OPENAI_API_KEY}\n`)
    return file
  }

  it('pf trace ui --trace-id takes only a trace id (32 hex), before any viewer starts or opener runs', async () => {
    for (const id of ['abc', '0123456789abcdef0123456789abcdef&calc', '"; rm -rf ~; "', '0123456789abcdef0123456789abcdeg']) {
      const result = await runPf(['trace', 'ui', '--trace-id', id, '--open', '--json'], {home})
      expect(result.code, id).to.equal(2)
      expect(result.json().error.code).to.equal('invalid_arguments')
      expect(result.json().error.message).to.contain('is not a trace id (32 hexadecimal digits')
    }
    expect(existsSync(path.join(home, 'service.json')), 'no viewer was started').to.equal(false)
  })

  it('connection names that mean something to JavaScript or to paths are refused; lookups of them find nothing', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype', '../escape', 'a/b', '.hidden']) {
      const result = await runPf(['connection', 'create', '--file', connectionFile(name, `c-${name}.yaml`), '--json'], {home})
      expect(result.code, name).to.equal(2)
      expect(result.json().error.code).to.equal('connection_invalid')
    }
    for (const name of ['constructor', '__proto__', 'toString']) {
      const show = await runPf(['connection', 'show', name, '--json'], {home})
      expect(show.code, name + show.stdout).to.equal(2)
      expect(show.json().error.code).to.equal('connection_not_found')
    }
    // A hand-edited connections.json with such a key: ignored, never used.
    writeFileSync(
      path.join(home, 'connections.json'),
      JSON.stringify({version: 1, connections: {constructor: {name: 'constructor', type: 'open_ai', values: {api_key: 'x'}}}}),
    )
    expect((await runPf(['connection', 'list', '--json'], {home})).json()).to.deep.equal([])
  })

  it('8 parallel `pf config set` of different keys and 8 parallel `pf connection create` all persist', async () => {
    const sets = [
      'trace.destination=local',
      'trace.export_wait=2',
      'connection.provider=local',
      'run.output_path=/tmp/pf-out',
      'telemetry.enabled=false',
      'service.host=127.0.0.1',
      'user_agent=pf-test',
      'azureml.credential=default',
    ]
    const results = await Promise.all(sets.map(pair => runPf(['config', 'set', pair], {home})))
    for (const r of results) expect(r.code, r.stderr).to.equal(0)
    const shown = (await runPf(['config', 'show'], {home})).json()
    expect(shown).to.deep.equal({
      trace: {destination: 'local', export_wait: 2},
      connection: {provider: 'local'},
      run: {output_path: '/tmp/pf-out'},
      telemetry: {enabled: false},
      service: {host: '127.0.0.1'},
      user_agent: 'pf-test',
      azureml: {credential: 'default'},
    })
    expect(existsSync(path.join(home, 'pf.yaml.lock')), 'the lock is released').to.equal(false)

    const names = Array.from({length: 8}, (_, i) => `conn_${i}`)
    const created = await Promise.all(names.map(name => runPf(['connection', 'create', '--file', connectionFile(name)], {home})))
    for (const r of created) expect(r.code, r.stderr).to.equal(0)
    expect((await runPf(['connection', 'list', '--json'], {home})).json().map((c: any) => c.name)).to.deep.equal(names)
  })

  it('header values with CR/LF or outside Latin-1 are refused at set and when read from pf.yaml', async () => {
    for (const value of ['pf\r\nX-Injected: 1', 'pf ☃']) {
      const set = await runPf(['config', 'set', `user_agent=${value}`, '--json'], {home})
      expect(set.code, value).to.equal(2)
      expect(set.json().error.message).to.match(/user_agent: it contains (a line break|characters outside Latin-1)/)
    }
    expect(existsSync(path.join(home, 'pf.yaml'))).to.equal(false)

    // The OTLP plugin's headers key: checked with the plugin's own parser, from the command line and from the file.
    const env = {PF_DATA_DIR: tempDir('pf-data-')}
    const link = await runPf(['plugins', 'link', path.join(repoRoot, 'plugins', 'pf-trace-otlp'), '--no-install'], {home, env})
    expect(link.code, link.stderr).to.equal(0)
    const set = await runPf(['config', 'set', 'trace.otlp.headers=x-team=a\r\nX-Injected: 1', '--json'], {home, env})
    expect(set.code).to.equal(2)
    expect(set.json().error.message).to.contain('line break')
    writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  otlp:\n    headers: "x-team=caf\\u00e9\\u2603"\n')
    const read = await runPf(['config', 'show', '--json'], {home, env})
    expect(read.code).to.equal(2)
    expect(read.json().error.code).to.equal('config_invalid')
    expect(read.json().error.message)
      .to.contain(`${path.join(home, 'pf.yaml')}: trace.otlp.headers:`)
      .and.contain('outside Latin-1')
    expect(readFileSync(path.join(home, 'pf.yaml'), 'utf8')).to.contain('headers')
  })
})
