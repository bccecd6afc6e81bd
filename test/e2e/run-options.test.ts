import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'
import {readSpans} from '../helpers/store.js'

/** prompt flow's run options: --init, --environment-variables, --connections, a class entry's __aggregate__; code prints. */

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'flows')
const webClassification = path.join(fixtures, 'pf-examples', 'web-classification')
const apiKey = 'sk-fake-options-0123456789abcdefghijkl'

const jsonl = (rows: unknown[]): string => {
  const file = path.join(tempDir(), 'data.jsonl')
  writeFileSync(file, rows.map(r => JSON.stringify(r)).join('\n') + '\n')
  return file
}

describe('run options of the reference (built CLI)', () => {
  let fake: FakeOpenAI
  let home: string
  const env = () => ({FAKE_OPENAI_KEY: apiKey})

  before(async () => {
    fake = await startFakeOpenAI()
  })
  after(() => fake.stop())
  beforeEach(async () => {
    home = tempDir('pf-home-')
    for (const name of ['open_ai_connection', 'other_connection']) {
      const conn = path.join(tempDir(), 'conn.yaml')
      writeFileSync(
        conn,
        `name: ${name}\ntype: open_ai\napi_key: \${env:FAKE_OPENAI_KEY}\nbase_url: ${fake.baseUrl}\norganization: ${name}\n`,
      )
      expect((await runPf(['connection', 'create', '--file', conn], {home})).code).to.equal(0)
    }
    fake.requests.length = 0
  })

  it('--init and --environment-variables reach a class entry; __aggregate__ gets the line outputs and its mapping is the metrics', async () => {
    const data = jsonl([{answer: 'yes'}, {answer: 'no'}, {answer: 'maybe'}, {answer: 'y'}])
    const result = await runPf(
      [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'flex-aggregate'),
        '--data',
        data,
        '--name',
        'agg',
        '--init',
        'threshold=3',
        '--environment-variables',
        'SCORER_LABEL=${env:LABEL_SOURCE}',
        '--json',
      ],
      {home, env: {LABEL_SOURCE: 'from-env'}},
    )
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    expect(result.json().run.metrics).to.deep.equal({pass_rate: 0.5, lines: 4})
    const outputs = readFileSync(path.join(result.json().run.output_path, 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(outputs.map(o => o.label)).to.deep.equal(['from-env', 'from-env', 'from-env', 'from-env'])
    const aggregation = readSpans(home).find(s => s.name === 'aggregate')!
    expect(aggregation.attributes.is_aggregation).to.equal(true)
    expect(aggregation.attributes.execution_target).to.equal('flex')

    // The same from a run file (init:, environment_variables:).
    const runFile = path.join(tempDir(), 'run.yaml')
    writeFileSync(
      runFile,
      `flow: ${path.join(fixtures, 'flex-aggregate')}\ndata: ${data}\ninit:\n  threshold: 5\nenvironment_variables:\n  SCORER_LABEL: literal\n`,
    )
    const fromFile = await runPf(['run', 'create', '--file', runFile, '--name', 'agg2', '--json'], {home})
    expect(fromFile.code, fromFile.stderr + fromFile.stdout).to.equal(0)
    expect(fromFile.json().run.metrics).to.deep.equal({pass_rate: 0.25, lines: 4})

    const unset = await runPf(
      [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'flex-aggregate'),
        '--data',
        data,
        '--init',
        'threshold=3',
        '--environment-variables',
        'SCORER_LABEL=${env:PF_TEST_UNSET_VARIABLE}',
        '--json',
      ],
      {home},
    )
    expect(unset.code).to.equal(2)
    expect(unset.json().error.message).to.contain('SCORER_LABEL is ${env:PF_TEST_UNSET_VARIABLE} but PF_TEST_UNSET_VARIABLE is not set')
  })

  it("--connections overrides an llm node's connection and model; bad overrides are refused before the run", async () => {
    const data = jsonl([{url: 'http://127.0.0.1:9/unreachable'}])
    const result = await runPf(
      [
        'run',
        'create',
        '--flow',
        webClassification,
        '--data',
        data,
        '--name',
        'conn',
        '--connections',
        'classify_with_llm.connection=other_connection',
        'classify_with_llm.model=gpt-4o-mini',
        '--json',
      ],
      {home, env: env()},
    )
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    expect(JSON.parse(result.stdout).run.status).to.equal('Completed')
    const [summarize, classify] = fake.requests
    expect(summarize.body.model).to.equal('gpt-3.5-turbo')
    expect(summarize.headers['openai-organization']).to.equal('open_ai_connection')
    expect(classify.body.model).to.equal('gpt-4o-mini')
    expect(classify.headers['openai-organization']).to.equal('other_connection')
    // The unreachable URL made the code node print: the run's logs have it, stdout stayed JSON (parsed above).
    const logs = readFileSync(path.join(result.json().run.output_path, 'logs.txt'), 'utf8')
    expect(logs).to.match(/Line 0: Get url failed with error: /)

    for (const [override, message] of [
      ['nope.connection=x', 'names node "nope", which is not in'],
      ['prepare_examples.connection=x', 'node "prepare_examples" is a python node; connections are set on llm nodes'],
      ['garbage', 'is not NODE.KEY=VALUE'],
    ]) {
      const bad = await runPf(['run', 'create', '--flow', webClassification, '--data', data, '--connections', override, '--json'], {
        home,
        env: env(),
      })
      expect(bad.code, override).to.equal(2)
      expect(bad.json().error.message, override).to.contain(message)
    }
    const flex = await runPf(
      ['run', 'create', '--flow', path.join(fixtures, 'flex-aggregate'), '--data', data, '--connections', 'a.connection=x', '--json'],
      {home},
    )
    expect(flex.code).to.equal(2)
    expect(flex.json().error.message).to.contain('--connections overrides llm nodes of a DAG flow')
  })

  it("pf flow test: a code node's console.log goes to stderr, --json stdout stays valid JSON", async () => {
    const result = await runPf(['flow', 'test', '--flow', webClassification, '--inputs', 'url=http://127.0.0.1:9/unreachable', '--json'], {
      home,
      env: env(),
    })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.json().output).to.deep.equal({category: 'None', evidence: 'None'})
    expect(result.stderr).to.contain('Get url failed with error: ')
    expect(result.stderr).to.contain('The input is not valid, error: ')
  })
})
