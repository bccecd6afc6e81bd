import {expect} from 'chai'

import {runPf, tempDir} from '../helpers/cli.js'

// Argument errors and mistyped commands: one full line (what, which flag, an example), exit 2, --json alike.
describe('pf argument errors and did-you-mean (built CLI)', () => {
  let home: string
  before(() => {
    home = tempDir('pf-home-')
  })

  const cases: Array<[string[], string]> = [
    [
      ['trace', 'export'],
      'pf trace export needs --format (Output format; one of jsonl, otlp-json). Example: pf trace export --format jsonl > spans.jsonl',
    ],
    [
      ['trace', 'export', '--format', 'xml'],
      'Invalid value for --format: "xml" is not one of: jsonl, otlp-json. Example: pf trace export --format jsonl > spans.jsonl',
    ],
    [
      ['config', 'get'],
      'pf config get needs the argument KEY (Config key, e.g. trace.destination). Example: pf config get trace.destination',
    ],
    [['config', 'get', 'a', 'b'], 'Unexpected argument b: pf config get takes KEY. Example: pf config get trace.destination'],
    [
      ['service', 'start', '--port', 'abc'],
      'Invalid value for --port: expected an integer but received: abc. Example: pf service start --port 8080 --json',
    ],
    [
      ['run', 'create', '--workers', '0'],
      'Invalid value for --workers: expected an integer greater than or equal to 1 but received: 0. Example: pf run create --flow ./my_flow --data data.jsonl',
    ],
    [
      ['trace', 'list', '--pending', '--run', 'x'],
      '--run cannot be used together with --pending. Example: pf trace list --run my_run --json',
    ],
    [
      ['flow', 'test', '--input', 'a=1'],
      'pf flow test has no flag --input; did you mean --inputs? Example: pf flow test --flow ./my_flow --inputs question="What is prompt flow?"',
    ],
  ]

  for (const [args, message] of cases) {
    it(`pf ${args.join(' ')}: the whole message, exit 2, and the same under --json`, async () => {
      const human = await runPf(args, {home})
      expect(human.code).to.equal(2)
      expect(human.stderr).to.equal(`Error: ${message}\n`)
      expect(human.stdout).to.equal('')
      const json = await runPf([...args, '--json'], {home})
      expect(json.code).to.equal(2)
      const error = json.json().error
      expect(error.code).to.equal('invalid_arguments')
      expect(error.message).to.equal(message)
      expect(message).to.contain(`Example: ${error.example}`)
    })
  }

  it('suggests the nearest command in space syntax, exit 2, and honours --json', async () => {
    const typo = await runPf(['flow', 'tset', '--flow', '.'], {home})
    expect(typo.code).to.equal(2)
    expect(typo.stderr).to.equal(
      'Error: `pf flow tset` is not a pf command. Did you mean `pf flow test`? Run `pf flow --help` for the list of commands.\n',
    )
    const topicTypo = await runPf(['tarce', 'list'], {home})
    expect(topicTypo.stderr).to.contain('Did you mean `pf trace list`?')
    const json = await runPf(['run', 'lst', '--json'], {home})
    expect(json.code).to.equal(2)
    expect(json.json()).to.deep.equal({
      error: {
        code: 'command_not_found',
        message: '`pf run lst` is not a pf command. Did you mean `pf run list`? Run `pf run --help` for the list of commands.',
        suggestion: 'pf run list',
      },
    })
    const nothingNear = await runPf(['xyzzy'], {home})
    expect(nothingNear.code).to.equal(2)
    expect(nothingNear.stderr).to.equal('Error: `pf xyzzy` is not a pf command. Run `pf --help` for the list of commands.\n')
  })
})
