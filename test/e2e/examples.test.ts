import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readLineRuns, readSpans} from '../helpers/store.js'

const hello = path.join(repoRoot, 'examples', 'hello')

describe('README examples (built CLI)', () => {
  it('runs examples/hello as the README set-up command does, and as a batch run over its data', async () => {
    const home = tempDir('pf-home-')
    const test = await runPf(['flow', 'test', '--flow', hello, '--inputs', 'question=What does pf trace?'], {home})
    expect(test.code, test.stderr).to.equal(0)
    expect(JSON.parse(test.stdout)).to.deep.equal({
      topic: 'tracing',
      answer: 'Hello! pf records every function and LLM call of a flow as a span, locally and in the cloud.',
    })
    expect(test.stderr).to.match(/^Trace: http:\/\/127\.0\.0\.1:\d+\/v1\.0\/ui\/traces\/\?#collection=hello&uiTraceId=[0-9a-f]{32}/m)
    expect(
      readSpans(home)
        .map(s => s.name)
        .sort(),
    ).to.deep.equal(['answer', 'compose', 'detectTopic'])

    const run = await runPf(['run', 'create', '--flow', hello, '--data', path.join(hello, 'data.jsonl'), '--name', 'hello_run'], {home})
    expect(run.code, run.stderr).to.equal(0)
    const lines = readLineRuns(home).filter(l => l.run === 'hello_run')
    expect(lines).to.have.length(3)
    expect(lines.every(l => l.status === 'Ok')).to.equal(true)
  })

  it('startTrace() traces a plain Node script into the configured store', () => {
    const home = tempDir('pf-home-')
    const script = spawnSync(process.execPath, [path.join(repoRoot, 'test', 'fixtures', 'scripts', 'traced-script.mjs')], {
      cwd: tempDir(),
      env: {...process.env, PF_HOME_DIRECTORY: home, NODE_OPTIONS: ''},
      encoding: 'utf8',
    })
    expect(script.status, script.stderr).to.equal(0)
    expect(script.stdout.trim()).to.equal('6')
    const spans = readSpans(home)
    expect(spans.map(s => s.name).sort()).to.deep.equal(['add', 'add', 'add', 'total'])
    const root = spans.find(s => s.name === 'total')!
    expect(root.parent_id).to.equal(null)
    expect(spans.filter(s => s.name === 'add').every(s => s.parent_id === root.span_id)).to.equal(true)
    expect(root.record.resource.attributes.collection).to.equal('plain-script')
    expect(JSON.parse(root.attributes.output)).to.equal(6)
  })

  it('startTrace() sends to an installed plugin destination without loading oclif', async () => {
    const home = tempDir('pf-home-')
    const plugin = path.join(repoRoot, 'test', 'fixtures', 'plugins', 'pf-file-destination')
    expect((await runPf(['plugins', 'link', plugin, '--no-install'], {home})).code).to.equal(0)
    const file = path.join(tempDir(), 'spans.jsonl')
    expect((await runPf(['config', 'set', `trace.destination=filetest://${file}`], {home})).code).to.equal(0)
    const log = path.join(tempDir(), 'imports.log')
    const script = spawnSync(
      process.execPath,
      [
        '--require',
        path.join(repoRoot, 'test/helpers/import-recorder.cjs'),
        path.join(repoRoot, 'test', 'fixtures', 'scripts', 'traced-script.mjs'),
      ],
      {cwd: tempDir(), env: {...process.env, PF_HOME_DIRECTORY: home, PF_IMPORT_LOG: log, NODE_OPTIONS: ''}, encoding: 'utf8'},
    )
    expect(script.status, script.stderr).to.equal(0)
    const delivered = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l).name)
    expect(delivered.sort()).to.deep.equal(['add', 'add', 'add', 'total'])
    const imports = readFileSync(log, 'utf8')
    expect(imports).to.match(/dist\/tracing\/otel-sdk\.js/) // the recorder saw the process's modules…
    expect(imports).not.to.match(/@oclif[\\/]core/) // …and oclif was not one of them
  })
})
