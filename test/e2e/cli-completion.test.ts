import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

// Shell completion: the plugin's bash script (commands, flags) plus pf's names (runs, connections), driven in bash
// as a user's <TAB> would: COMP_WORDS/COMP_CWORD set, the completion function called, COMPREPLY read.
describe('pf autocomplete (bash, built CLI)', function () {
  this.timeout(120_000)
  const home = tempDir('pf-home-')
  const cache = tempDir('pf-cache-')
  const env = {XDG_CACHE_HOME: cache}

  before(async () => {
    const hello = path.join(repoRoot, 'examples', 'hello')
    for (const name of ['base_run', 'better_run'])
      expect(
        (await runPf(['run', 'create', '--flow', hello, '--data', path.join(hello, 'data.jsonl'), '--name', name], {home})).code,
      ).to.equal(0)
    const conn = path.join(home, 'conn.yaml')
    writeFileSync(conn, 'name: my_openai\ntype: open_ai\napi_key: ${env:OPENAI_API_KEY}\n')
    expect((await runPf(['connection', 'create', '--file', conn], {home})).code).to.equal(0)
    const setup = await runPf(['autocomplete', 'bash'], {home, env})
    expect(setup.code, setup.stderr).to.equal(0)
    expect(setup.stdout).to.contain('pf autocomplete script bash')
  })

  const complete = (...words: string[]): string[] => {
    const script = [
      `pf() { '${process.execPath}' '${pfBin}' "$@"; }`,
      'eval "$(pf autocomplete script bash)"',
      'eval "$(pf autocomplete names)"',
      `COMP_WORDS=(${words.map(w => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=()`,
      '_pf_complete',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n')
    const result = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
      env: {PATH: process.env.PATH, HOME: home, PF_HOME_DIRECTORY: home, XDG_CACHE_HOME: cache, NO_COLOR: '1'},
      encoding: 'utf8',
    })
    expect(result.status, result.stderr).to.equal(0)
    return [...new Set(result.stdout.split('\n').filter(Boolean))].sort()
  }

  it('completes commands in space syntax', () => {
    expect(complete('pf', 'run', 'sh')).to.deep.equal(['show', 'show-details', 'show-metrics'])
    expect(complete('pf', 'conn')).to.deep.equal(['connection'])
  })

  it("completes a command's flags", () => {
    expect(complete('pf', 'flow', 'test', '--in')).to.deep.equal(['--init', '--inputs', '--interactive'])
    expect(complete('pf', 'run', 'list', '--')).to.include.members([
      '--all-results',
      '--archived-only',
      '--include-archived',
      '--max-results',
    ])
  })

  it('completes run names (positional, --name, --run) and connection names', () => {
    expect(complete('pf', 'run', 'show', '')).to.deep.equal(['base_run', 'better_run'])
    expect(complete('pf', 'run', 'show', 'ba')).to.deep.equal(['base_run'])
    expect(complete('pf', 'run', 'update', '--name', 'be')).to.deep.equal(['better_run'])
    expect(complete('pf', 'trace', 'list', '--run', '')).to.deep.equal(['base_run', 'better_run'])
    expect(complete('pf', 'connection', 'delete', '--name', '')).to.deep.equal(['my_openai'])
    expect(complete('pf', 'connection', 'show', 'my')).to.deep.equal(['my_openai'])
  })
})
