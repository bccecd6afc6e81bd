import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {runPf, tempDir} from '../helpers/cli.js'

/** A pf.yaml is input like any flag: a cloned repository's project file must not change what pf exposes. */
describe('hostile pf.yaml (built CLI)', () => {
  let home: string
  let project: string
  beforeEach(() => {
    home = tempDir('pf-home-')
    project = tempDir('pf-project-')
  })

  const expectConfigError = async (args: string[], file: string, key: string) => {
    const human = await runPf(args, {home, cwd: project})
    expect(human.code, human.stderr).to.equal(2)
    const lines = human.stderr.trim().split('\n')
    expect(lines, human.stderr).to.have.length(1)
    expect(lines[0]).to.contain(file).and.contain(key)
    const json = await runPf([...args, '--json'], {home, cwd: project})
    expect(json.code).to.equal(2)
    expect(json.json().error.code).to.match(/^config_(invalid|malformed)$/)
    return lines[0]
  }

  it('refuses a project pf.yaml that binds the viewer to every interface, naming file and key', async () => {
    const file = path.join(project, 'pf.yaml')
    writeFileSync(file, 'service:\n  host: 0.0.0.0\n')
    await expectConfigError(['service', 'start'], file, 'service.host')
    await expectConfigError(['trace', 'ui'], file, 'service.host')
    await expectConfigError(['config', 'get', 'trace.destination'], file, 'service.host')
    // `pf config set` can still repair the file it names.
    const fix = await runPf(['config', 'set', 'service.host=127.0.0.1', '--path', project], {home, cwd: project})
    expect(fix.code, fix.stderr).to.equal(0)
    expect(readFileSync(file, 'utf8')).to.equal('service:\n  host: 127.0.0.1\n')
  })

  it('refuses a non-loopback bind from the command line too', async () => {
    const run = await runPf(['service', 'run', '--host', '0.0.0.0', '--port', '0'], {home})
    expect(run.code).to.not.equal(0)
    expect(run.stderr).to.contain('loopback')
  })

  for (const [name, text, key] of [
    ['a number as destination', 'trace:\n  destination: 42\n', 'trace.destination'],
    ['a list as destination', 'trace:\n  destination: [local, none]\n', 'trace.destination'],
    ['a scalar where a mapping belongs', 'trace: local\n', 'trace'],
    ['a bad boolean', 'telemetry:\n  enabled: maybe\n', 'telemetry.enabled'],
    ['a user agent with CR/LF', 'user_agent: "pf\\r\\nX-Injected: 1"\n', 'user_agent'],
    ['a user agent outside Latin-1', 'user_agent: "pf ☃"\n', 'user_agent'],
    ['an alias cycle', 'a: &a [*a]\n', 'alias'],
    [
      'a YAML bomb',
      [
        'a: &a [x,x,x,x,x,x,x,x,x,x]',
        ...'bcdefgh'.split('').map(
          (k, i) =>
            `${k}: &${k} [${Array(10)
              .fill('*' + 'abcdefgh'[i])
              .join(',')}]`,
        ),
      ].join('\n') + '\n',
      'aliases',
    ],
    ['an oversized file', 'user_agent: ' + 'x'.repeat(300 * 1024) + '\n', 'KiB'],
  ] as const)
    it(`refuses ${name} in a user pf.yaml with one line and exit 2`, async () => {
      const file = path.join(home, 'pf.yaml')
      mkdirSync(home, {recursive: true})
      writeFileSync(file, text)
      const line = await expectConfigError(['config', 'show'], file, key)
      expect(line).to.not.match(/TypeError|RangeError|stack|at /)
    })
})
