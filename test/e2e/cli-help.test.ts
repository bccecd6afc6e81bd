import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'

interface ManifestCommand {
  id: string
  hidden?: boolean
  summary?: string
  description?: string
  examples?: unknown[]
  pluginName?: string
}

const commands = (): ManifestCommand[] =>
  Object.values(
    JSON.parse(readFileSync(path.join(repoRoot, 'oclif.manifest.json'), 'utf8')).commands as Record<string, ManifestCommand>,
  ).filter(c => !c.hidden)

// A hard line break in a description must end a sentence (or start a list item / an indented block), else the help
// shows a sentence cut in two once oclif wraps it.
const brokenLines = (text: string): string[] =>
  text
    .split('\n')
    .map((line, i, lines) => ({line: line.trimEnd(), next: lines[i + 1]}))
    .filter(
      ({line, next}) =>
        next !== undefined && line !== '' && next.trim() !== '' && !/[.:!?)]$/.test(line) && !/^\s*(-|\$|\d+\.)\s/.test(next),
    )
    .map(({line, next}) => `${line} ⏎ ${next}`)

describe('pf help (built CLI): every command reads well', () => {
  const home = tempDir('pf-home-')

  it('has pf commands in the manifest', () => {
    expect(commands().map(c => c.id)).to.include.members(['flow:test', 'run:create', 'trace:list', 'config:get', 'connection:list'])
  })

  it("pf help shows the root help and a command's help", async () => {
    const root = await runPf(['help'], {home})
    expect(root.code, root.stderr).to.equal(0)
    expect(root.stdout).to.match(/\nTOPICS\n/)
    const command = await runPf(['help', 'plugins', 'install'], {home})
    expect(command.code, command.stderr).to.equal(0)
    expect(command.stdout).to.match(/\$ pf plugins install PLUGIN/)
  })

  it('no description breaks a sentence across lines', () => {
    const broken = commands().flatMap(c => brokenLines(`${c.summary ?? ''}\n\n${c.description ?? ''}`).map(b => `${c.id}: ${b}`))
    expect(broken).to.deep.equal([])
  })

  it('every command has examples; usage lines have no empty alternatives', async function () {
    this.timeout(240_000)
    const problems: string[] = []
    // oclif answers `pf help --help` with the root help (its help subject skips the word "help"), as it did when
    // the command was @oclif/plugin-help's.
    for (const command of commands().filter(c => c.id !== 'help')) {
      const help = await runPf([...command.id.split(':'), '--help'], {home})
      if (help.code !== 0) problems.push(`${command.id}: --help exited ${help.code}: ${help.stderr}`)
      if (!/\nEXAMPLES\n/.test(help.stdout)) problems.push(`${command.id}: no EXAMPLES`)
      const usage = help.stdout.slice(help.stdout.indexOf('USAGE'), help.stdout.indexOf('\n\n', help.stdout.indexOf('USAGE')))
      if (/\|\s*\]|\[\s*\|/.test(usage)) problems.push(`${command.id}: empty alternative in usage: ${usage}`)
      if (/^.*<%=/m.test(help.stdout)) problems.push(`${command.id}: unrendered template`)
    }
    expect(problems).to.deep.equal([])
  })
})
