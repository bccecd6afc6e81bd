import {expect} from 'chai'
import {existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'

describe('pf config (built CLI)', () => {
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })
  const userFile = () => path.join(home, 'pf.yaml')

  it('prints its version and help with examples', async () => {
    const version = await runPf(['--version'], {home})
    expect(version.code).to.equal(0)
    expect(version.stdout).to.match(/^pf\/\d+\.\d+\.\d+/)
    const help = await runPf(['config', '--help'], {home})
    expect(help.code).to.equal(0)
    expect(help.stdout).to.contain('EXAMPLES')
    expect(help.stdout).to.contain('pf config set trace.destination=')
    for (const verb of ['get', 'set', 'show', 'unset']) expect(help.stdout).to.contain(`config ${verb}`)
  })

  it('sets, gets, shows and unsets keys in the user pf.yaml (0600, nested YAML)', async () => {
    const set = await runPf(['config', 'set', 'trace.destination=local', 'telemetry.enabled=false'], {home})
    expect(set.code, set.stderr).to.equal(0)
    expect(readFileSync(userFile(), 'utf8')).to.equal('trace:\n  destination: local\ntelemetry:\n  enabled: false\n')
    expect(statSync(userFile()).mode & 0o777).to.equal(0o600)
    expect(statSync(home).mode & 0o777).to.equal(0o700)

    const get = await runPf(['config', 'get', 'trace.destination'], {home})
    expect(get.stdout).to.equal('local\n')
    const getJson = await runPf(['config', 'get', 'telemetry.enabled', '--json'], {home})
    expect(getJson.json()).to.deep.equal({key: 'telemetry.enabled', value: false, source: 'user', path: userFile()})

    const show = await runPf(['config', 'show'], {home})
    expect(JSON.parse(show.stdout)).to.deep.equal({trace: {destination: 'local'}, telemetry: {enabled: false}})

    const unset = await runPf(['config', 'unset', 'trace.destination', '--json'], {home})
    expect(unset.json()).to.deep.equal({path: userFile(), removed: ['trace.destination'], shadowed: []})
    expect(readFileSync(userFile(), 'utf8')).to.equal('telemetry:\n  enabled: false\n')
    const afterUnset = await runPf(['config', 'get', 'trace.destination', '--json'], {home})
    expect(afterUnset.json()).to.include({value: 'local', source: 'default'})
  })

  // Workspace ids are checked against Azure when set: see test/e2e/azureml.test.ts (fake control plane).
  it('accepts every destination form the reference accepts', async () => {
    for (const value of ['none', 'LOCAL', 'azureml']) {
      const result = await runPf(['config', 'set', `trace.destination=${value}`], {home})
      expect(result.code, `${value}: ${result.stderr}`).to.equal(0)
    }
    expect((await runPf(['config', 'get', 'trace.destination'], {home})).stdout.trim()).to.equal('azureml')
  })

  it('merges the nearest project pf.yaml over the user file; --path writes the project file', async () => {
    const project = tempDir('pf-project-')
    const nested = path.join(project, 'src', 'deep')
    mkdirSync(nested, {recursive: true})
    await runPf(['config', 'set', 'trace.destination=local', 'user_agent=from-user'], {home})
    const set = await runPf(['config', 'set', 'trace.destination=none', '--path', project], {home, cwd: nested})
    expect(set.code, set.stderr).to.equal(0)
    expect(readFileSync(path.join(project, 'pf.yaml'), 'utf8')).to.equal('trace:\n  destination: none\n')
    expect(statSync(path.join(project, 'pf.yaml')).mode & 0o777).to.equal(0o600)

    const inProject = await runPf(['config', 'show', '--json'], {home, cwd: nested})
    expect(inProject.json()).to.deep.equal({trace: {destination: 'none'}, user_agent: 'from-user'})
    const source = await runPf(['config', 'get', 'trace.destination', '--json'], {home, cwd: nested})
    expect(source.json()).to.include({value: 'none', source: 'project', path: path.join(project, 'pf.yaml')})
    const outside = await runPf(['config', 'get', 'trace.destination'], {home, cwd: tempDir()})
    expect(outside.stdout.trim()).to.equal('local')
  })

  it("says which file wins when a project pf.yaml shadows the key just set in the user file; show --sources lists each key's source", async () => {
    const project = tempDir('pf-project-')
    const projectFile = path.join(project, 'pf.yaml')
    await runPf(['config', 'set', 'user_agent=from-project', '--path', '.'], {home, cwd: project})
    const set = await runPf(['config', 'set', 'user_agent=from-user', 'telemetry.enabled=true'], {home, cwd: project})
    expect(set.code, set.stderr).to.equal(0)
    expect(set.stdout).to.equal(`Set user_agent=from-user in ${userFile()}\nSet telemetry.enabled=true in ${userFile()}\n`)
    expect(set.stderr).to.equal(
      `Note: ${projectFile} sets user_agent=from-project and wins here (the nearest project pf.yaml wins over the user pf.yaml); to change it there: pf config set user_agent=… --path ${project}\n`,
    )
    const json = await runPf(['config', 'set', 'user_agent=from-user', '--json'], {home, cwd: project})
    expect(json.json().shadowed).to.deep.equal([{key: 'user_agent', path: projectFile, value: 'from-project', source: 'project'}])
    // Outside the project nothing shadows the user file: no note.
    const outside = await runPf(['config', 'set', 'user_agent=from-user'], {home, cwd: tempDir()})
    expect(outside.stderr).to.equal('')

    const sources = await runPf(['config', 'show', '--sources', '--json'], {home, cwd: project})
    expect(sources.json()).to.deep.include.members([
      {key: 'user_agent', value: 'from-project', source: 'project', path: projectFile},
      {key: 'telemetry.enabled', value: true, source: 'user', path: userFile()},
      {key: 'service.host', value: '127.0.0.1', source: 'default'},
    ])
    const table = await runPf(['config', 'show', '--sources'], {home, cwd: project})
    expect(table.stdout).to.match(
      new RegExp(`\\nuser_agent +from-project +project \\(${projectFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\\n`),
    )
  })

  describe('bad input: one line, exit 2, JSON error, file untouched', () => {
    const before = 'trace:\n  destination: local\n'
    beforeEach(() => {
      writeFileSync(userFile(), before, {mode: 0o600})
    })

    const cases: Array<[string, string[], string, RegExp]> = [
      [
        'malformed workspace id',
        ['config', 'set', 'trace.destination=azureml://subscriptions/x'],
        'invalid_value',
        /^Malformed trace provider string, expected azureml:\/\/subscriptions\/<subscription_id>\/resourceGroups\/<resource_group>\/providers\/Microsoft\.MachineLearningServices\/workspaces\/<workspace_name>, got azureml:\/\/subscriptions\/x$/,
      ],
      [
        'unclaimed scheme',
        ['config', 'set', 'trace.destination=otlp://127.0.0.1:4318'],
        'unknown_destination',
        /Accepted: local, none, azureml.*pf plugins install/,
      ],
      ['none in a list', ['config', 'set', 'trace.destination=none,local'], 'invalid_value', /cannot be combined/],
      ['unknown key', ['config', 'set', 'trace.destinaton=local'], 'unknown_key', /Did you mean "trace.destination"\?/],
      ['bad boolean', ['config', 'set', 'telemetry.enabled=maybe'], 'invalid_value', /accepted: true, false/],
      ['non-loopback host', ['config', 'set', 'service.host=0.0.0.0'], 'invalid_value', /loopback/],
      ['not KEY=VALUE', ['config', 'set', 'trace.destination'], 'invalid_arguments', /is not KEY=VALUE/],
      ['one bad pair among good ones', ['config', 'set', 'user_agent=x', 'telemetry.enabled=2'], 'invalid_value', /telemetry.enabled/],
      ['missing --path folder', ['config', 'set', 'user_agent=x', '--path', '/nonexistent/dir'], 'invalid_path', /not an existing folder/],
      ['unknown key on get', ['config', 'get', 'nope.key'], 'unknown_key', /Unknown config key "nope.key"/],
      [
        'unknown flag',
        ['config', 'set', 'user_agent=x', '--bogus'],
        'invalid_arguments',
        /^pf config set has no flag --bogus \(its flags: --path, --timeout, --debug, --json\)\. Example: /,
      ],
    ]
    for (const [name, args, code, message] of cases) {
      it(name, async () => {
        const human = await runPf(args, {home})
        expect(human.code).to.equal(2)
        expect(human.stdout).to.equal('')
        expect(human.stderr.trim().split('\n')).to.have.length(1)
        expect(human.stderr).to.match(/^Error: /)
        expect(human.stderr).not.to.match(/\n\s+at /)
        const json = await runPf([...args, '--json'], {home})
        expect(json.code).to.equal(2)
        const body = json.json()
        expect(body.error.code).to.equal(code)
        expect(body.error.message).to.match(message)
        expect(readFileSync(userFile(), 'utf8')).to.equal(before)
      })
    }
  })

  it('reports a malformed pf.yaml with file and line and never overwrites it', async () => {
    const broken = 'trace:\n  destination: local\n  bad: [\n'
    writeFileSync(userFile(), broken)
    for (const args of [
      ['config', 'get', 'trace.destination'],
      ['config', 'set', 'trace.destination=none'],
    ]) {
      const result = await runPf([...args, '--json'], {home})
      expect(result.code).to.equal(2)
      expect(result.json().error.code).to.equal('config_malformed')
      expect(result.json().error.message).to.match(new RegExp(`^${userFile()}:4:\\d+: not valid YAML`))
    }
    expect(readFileSync(userFile(), 'utf8')).to.equal(broken)
  })

  it('shows stack traces only with --debug', async () => {
    writeFileSync(userFile(), 'x: [\n')
    const plain = await runPf(['config', 'show'], {home})
    expect(plain.stderr).not.to.contain('    at ')
    const debug = await runPf(['config', 'show', '--debug'], {home})
    expect(debug.stderr).to.contain('    at ')
  })

  it('reports a destination plugin whose hook throws by name and keeps working', async () => {
    const dataDir = tempDir('pf-data-')
    const env = {PF_DATA_DIR: dataDir}
    const link = await runPf(['plugins', 'link', path.join(repoRoot, 'test/fixtures/plugins/pf-bad-destination')], {home, env})
    expect(link.code, link.stderr).to.equal(0)
    const set = await runPf(['config', 'set', 'trace.destination=azureml'], {home, env})
    expect(set.code, set.stderr).to.equal(0)
    expect(set.stderr).to.contain('plugin pf-bad-destination: trace-destination hook failed: this plugin is broken on purpose')
    expect((await runPf(['config', 'get', 'trace.destination'], {home, env})).stdout.trim()).to.equal('azureml')
  })

  it("keeps Node's compile cache in pf home, user-only (Node 22.1+; none on Node 20), and NODE_COMPILE_CACHE moves it", async () => {
    const cache = path.join(home, 'cache', 'compile')
    const result = await runPf(['config', 'get', 'trace.destination'], {home})
    expect(result.code, result.stderr).to.equal(0)
    const nodeHasCache = Number(process.versions.node.split('.')[0]) >= 23 || /^22\.([1-9]|\d\d)\./.test(process.versions.node)
    expect(existsSync(cache)).to.equal(nodeHasCache)
    if (!nodeHasCache) return
    expect(statSync(cache).mode & 0o777).to.equal(0o700)
    expect(readdirSync(cache, {recursive: true}).length).to.be.greaterThan(50) // V8 code of the modules loaded
    const elsewhere = tempDir('pf-compile-cache-')
    const moved = await runPf(['config', 'get', 'trace.destination'], {home: tempDir('pf-home-'), env: {NODE_COMPILE_CACHE: elsewhere}})
    expect(moved.code, moved.stderr).to.equal(0)
    expect(readdirSync(elsewhere).length).to.be.greaterThan(0)
  })

  it('loads no OpenTelemetry, Azure, Cosmos or semver module for `config get`', async () => {
    const log = path.join(tempDir(), 'imports.log')
    writeFileSync(userFile(), 'trace:\n  destination: azureml\n')
    const result = await runPf(['config', 'get', 'trace.destination'], {
      home,
      env: {PF_IMPORT_LOG: log},
      nodeArgs: ['--require', path.join(repoRoot, 'test/helpers/import-recorder.cjs')],
    })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout.trim()).to.equal('azureml')
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).to.contain('@oclif/core') // the recorder works
    expect(loaded).to.contain('/js-yaml/') // and sees lazily imported modules
    expect(loaded).not.to.match(/@opentelemetry|otel-sdk\.js|@azure|azure-sdk\.js|better-sqlite3|\/openai\//)
    // oclif's own engine check would load semver (47 modules); bin/run.js checks pf's engine itself.
    expect(loaded).not.to.contain('/semver/')
  })
})
