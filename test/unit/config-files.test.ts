import {expect} from 'chai'
import {mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {findProjectConfig, mergeConfig, readConfigFile, writeConfigFile} from '../../src/config/files.js'
import {PfError} from '../../src/errors.js'
import {tempDir} from '../helpers/cli.js'

describe('config files', () => {
  it('merges project over user key by key', () => {
    const merged = mergeConfig({trace: {destination: 'local'}, user_agent: 'a'}, {trace: {destination: 'none'}, run: {output_path: 'x'}})
    expect(merged).to.deep.equal({trace: {destination: 'none'}, user_agent: 'a', run: {output_path: 'x'}})
  })

  it('finds the nearest project pf.yaml walking up, skipping the user file', () => {
    const root = tempDir()
    const home = path.join(root, 'home')
    mkdirSync(path.join(root, 'a', 'b', 'c'), {recursive: true})
    mkdirSync(home)
    writeFileSync(path.join(root, 'a', 'pf.yaml'), 'user_agent: x\n')
    expect(findProjectConfig(path.join(root, 'a', 'b', 'c'), {PF_HOME_DIRECTORY: home})).to.equal(path.join(root, 'a', 'pf.yaml'))
    writeFileSync(path.join(home, 'pf.yaml'), 'user_agent: y\n')
    expect(findProjectConfig(home, {PF_HOME_DIRECTORY: home})).to.equal(undefined)
  })

  it('reports a malformed file with its path and line', async () => {
    const file = path.join(tempDir(), 'pf.yaml')
    writeFileSync(file, 'trace:\n  destination: local\n bad: [\n')
    const error = await readConfigFile(file).catch(e => e)
    expect(error).to.be.instanceOf(PfError)
    expect(error.code).to.equal('config_malformed')
    expect(error.message).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:\\d+: not valid YAML`))
  })

  it('rejects a YAML file that is not a mapping', async () => {
    const file = path.join(tempDir(), 'pf.yaml')
    writeFileSync(file, '- a\n- b\n')
    const error = await readConfigFile(file).catch(e => e)
    expect(error.code).to.equal('config_malformed')
  })

  it('writes nested YAML as prompt flow does, user-only, and never overwrites a malformed file', async () => {
    const dir = path.join(tempDir(), 'home')
    const file = path.join(dir, 'pf.yaml')
    await writeConfigFile(file, {'trace.destination': 'local', 'telemetry.enabled': false})
    expect(readFileSync(file, 'utf8')).to.equal('trace:\n  destination: local\ntelemetry:\n  enabled: false\n')
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    expect(statSync(dir).mode & 0o777).to.equal(0o700)
    await writeConfigFile(file, {}, ['trace.destination'])
    expect(readFileSync(file, 'utf8')).to.equal('telemetry:\n  enabled: false\n')
    writeFileSync(file, 'trace: [\n')
    const error = await writeConfigFile(file, {'trace.destination': 'none'}).catch(e => e)
    expect(error.code).to.equal('config_malformed')
    expect(readFileSync(file, 'utf8')).to.equal('trace: [\n')
  })

  it('tightens an existing world-readable pf.yaml to 0600 on write', async () => {
    const file = path.join(tempDir(), 'pf.yaml')
    writeFileSync(file, 'user_agent: a\n', {mode: 0o644})
    await writeConfigFile(file, {user_agent: 'b'})
    expect(statSync(file).mode & 0o777).to.equal(0o600)
  })
})
