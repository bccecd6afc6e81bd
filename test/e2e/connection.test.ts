import {expect} from 'chai'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {runPf, tempDir} from '../helpers/cli.js'

const secret = 'sk-literal-0123456789abcdefghijklmnop'

describe('pf connection (built CLI)', () => {
  let home: string
  let dir: string
  const file = (name: string, text: string) => {
    const p = path.join(dir, name)
    writeFileSync(p, text)
    return p
  }
  beforeEach(() => {
    home = tempDir('pf-home-')
    dir = tempDir('pf-conn-')
  })

  it('creates, lists, shows (secrets masked), updates and deletes; stored user-only', async () => {
    const openai = file(
      'openai.yaml',
      `$schema: https://azuremlschemas.azureedge.net/promptflow/latest/OpenAIConnection.schema.json\nname: my_openai\ntype: open_ai\napi_key: ${secret}\nbase_url: http://127.0.0.1:9/v1\n`,
    )
    const azure = file(
      'azure.yaml',
      'name: my_azure\ntype: azure_open_ai\napi_key: ${env:AZURE_KEY}\napi_base: https://example.openai.azure.com\napi_type: azure\n',
    )
    const created = await runPf(['connection', 'create', '--file', openai, '--json'], {home})
    expect(created.code, created.stderr).to.equal(0)
    expect(created.json()).to.deep.include({created: true, path: path.join(home, 'connections.json')})
    expect(created.json().connection).to.deep.include({
      name: 'my_openai',
      type: 'open_ai',
      api_key: '******',
      base_url: 'http://127.0.0.1:9/v1',
    })
    expect((await runPf(['connection', 'create', '--file', azure, '--name', 'renamed'], {home})).stdout).to.contain(
      'Created connection "renamed" (azure_open_ai).',
    )

    const stored = path.join(home, 'connections.json')
    expect(statSync(stored).mode & 0o777).to.equal(0o600)

    const list = await runPf(['connection', 'list', '--json'], {home})
    expect(list.json().map((c: any) => [c.name, c.type, c.api_key])).to.deep.equal([
      ['my_openai', 'open_ai', '******'],
      ['renamed', 'azure_open_ai', '${env:AZURE_KEY}'],
    ])
    expect(list.json()[1]).to.include({api_base: 'https://example.openai.azure.com', api_version: '2024-10-21'})
    const human = await runPf(['connection', 'list'], {home})
    expect(human.stdout.split('\n')[0]).to.match(/^NAME\s+TYPE\s+ENDPOINT$/)
    expect(human.stdout).to.match(/\nrenamed\s+azure_open_ai\s+https:\/\/example\.openai\.azure\.com\n/)
    const show = await runPf(['connection', 'show', 'my_openai'], {home})
    expect(show.stdout).to.contain('api_key: ******')
    for (const r of [created, list, human, show]) expect(r.stdout + r.stderr).to.not.contain(secret)

    const update = await runPf(['connection', 'create', '--file', openai, '--json'], {home})
    expect(update.json().created).to.equal(false)

    const noYes = await runPf(['connection', 'delete', 'my_openai', '--json'], {home})
    expect(noYes.code).to.equal(2)
    expect(noYes.json().error.code).to.equal('confirmation_required')
    const deleted = await runPf(['connection', 'delete', 'my_openai', '--yes', '--json'], {home})
    expect(deleted.json()).to.deep.equal({name: 'my_openai', deleted: true})
    expect((await runPf(['connection', 'list', '--json'], {home})).json().map((c: any) => c.name)).to.deep.equal(['renamed'])
    expect(readFileSync(stored, 'utf8')).to.not.contain('my_openai')
  })

  describe('bad input: exit 2, one-line JSON error, nothing stored', () => {
    const expectError = async (args: string[], code: string, message: string | RegExp) => {
      const result = await runPf([...args, '--json'], {home})
      expect(result.code, result.stdout + result.stderr).to.equal(2)
      const error = result.json().error
      expect(error.code).to.equal(code)
      if (typeof message === 'string') expect(error.message).to.contain(message)
      else expect(error.message).to.match(message)
      expect(existsSync(path.join(home, 'connections.json'))).to.equal(false)
    }

    it('missing file', () =>
      expectError(['connection', 'create', '--file', path.join(dir, 'nope.yaml')], 'connection_file_not_found', 'nope.yaml does not exist'))
    it('malformed YAML names file and line', () =>
      expectError(
        ['connection', 'create', '--file', file('bad.yaml', 'name: x\ntype: open_ai\n  api_key: [\n')],
        'connection_invalid',
        /bad\.yaml:3:\d+: not valid YAML/,
      ))
    it('unknown type', () =>
      expectError(
        ['connection', 'create', '--file', file('t.yaml', 'name: x\ntype: anthropic\napi_key: k\n')],
        'connection_invalid',
        'unknown connection type "anthropic"; use one of open_ai, azure_open_ai',
      ))
    it('missing required field', () =>
      expectError(
        ['connection', 'create', '--file', file('m.yaml', 'name: x\ntype: azure_open_ai\napi_key: k\n')],
        'connection_invalid',
        'type azure_open_ai requires "api_base"',
      ))
    it('unknown field', () =>
      expectError(
        ['connection', 'create', '--file', file('u.yaml', 'name: x\ntype: open_ai\napi_key: k\nbase_uri: http://x\n')],
        'connection_invalid',
        'unknown field "base_uri" for type open_ai; did you mean "base_url"?',
      ))
    it('missing name', () =>
      expectError(
        ['connection', 'create', '--file', file('n.yaml', 'type: open_ai\napi_key: k\n')],
        'connection_invalid',
        '"name" is missing',
      ))
    it('unknown name for show and delete', async () => {
      await expectError(['connection', 'show', 'ghost'], 'connection_not_found', 'No connection named "ghost"')
      await expectError(['connection', 'delete', 'ghost', '--yes'], 'connection_not_found', 'No connection named "ghost"')
    })
  })
})
