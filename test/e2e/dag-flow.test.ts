import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'
import {readLineRuns, readSpans, storeText} from '../helpers/store.js'

const dagFlow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'dag-basic')
const apiKey = 'sk-fake-dag-0123456789abcdefghijklmn'

describe('DAG flows (built CLI)', () => {
  let fake: FakeOpenAI
  let home: string
  const env = () => ({FAKE_OPENAI_KEY: apiKey})

  before(async () => {
    fake = await startFakeOpenAI()
  })
  after(() => fake.stop())
  beforeEach(async () => {
    home = tempDir('pf-home-')
    const conn = path.join(tempDir(), 'conn.yaml')
    writeFileSync(conn, `name: fake_openai\ntype: open_ai\napi_key: \${env:FAKE_OPENAI_KEY}\nbase_url: ${fake.baseUrl}\n`)
    const created = await runPf(['connection', 'create', '--file', conn], {home})
    expect(created.code, created.stderr).to.equal(0)
    fake.requests.length = 0
  })

  it('runs code, prompt and llm nodes; node spans are children of the root; tokens roll up', async () => {
    const result = await runPf(['flow', 'test', '--flow', dagFlow, '--inputs', 'question=  What is   pf? ', '--json'], {home, env: env()})
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    const out = result.json()
    expect(out.output).to.deep.equal({
      answer: 'Echo: What is pf?',
      prompt: 'Answer in a brief way.\nQuestion: What is pf?\n',
      words: 3,
      question: '  What is   pf? ',
    })
    // The llm node sent the parsed chat messages and sampling params; empty `stop: []` is dropped.
    const sent = fake.requests.at(-1)!
    expect(sent.body).to.deep.include({model: 'gpt-fake', temperature: 0.2, max_tokens: 64})
    expect(sent.body).to.not.have.property('stop')
    expect(sent.body.messages).to.deep.equal([
      {role: 'system', content: 'You answer in a brief way.'},
      {role: 'user', content: 'What is pf?'},
    ])
    expect(sent.apiKey).to.equal(apiKey)

    const spans = readSpans(home).filter(s => s.trace_id === out.traceId)
    const root = spans.find(s => s.parent_id === null)!
    expect(root.name).to.equal('dag-basic')
    expect(root.span_type).to.equal('Flow')
    const byName = Object.fromEntries(spans.map(s => [s.name, s]))
    for (const node of ['normalize', 'count_words', 'build_prompt', 'answer']) {
      expect(byName[node].parent_id, node).to.equal(root.span_id)
      expect(byName[node].span_type, node).to.equal('Function')
      expect(byName[node].attributes.line_run_id).to.equal(out.lineRunId)
    }
    expect(byName.count_words.attributes.function).to.equal('countWords')
    expect(JSON.parse(byName.count_words.attributes.inputs)).to.deep.equal({text: 'What is pf?', delay_ms: 0})
    expect(JSON.parse(byName.count_words.attributes.output)).to.deep.equal({words: 3, chars: 11})
    const llm = byName.openai_chat
    expect(llm.parent_id).to.equal(byName.answer.span_id)
    expect(llm.span_type).to.equal('LLM')
    expect(llm.attributes['llm.usage.prompt_tokens']).to.equal(9)
    expect(llm.attributes['llm.usage.completion_tokens']).to.equal(4)
    expect(llm.attributes['llm.usage.total_tokens']).to.equal(13)
    expect(JSON.parse(llm.attributes.inputs).messages).to.have.length(2)
    expect(JSON.parse(llm.attributes.output).choices[0].message.content).to.equal('Echo: What is pf?')
    for (const s of [root, byName.answer]) {
      expect(s.attributes['__computed__.cumulative_token_count.total'], s.name).to.equal(13)
      expect(s.attributes['__computed__.cumulative_token_count.prompt'], s.name).to.equal(9)
      expect(s.attributes['__computed__.cumulative_token_count.completion'], s.name).to.equal(4)
    }
    expect(byName.normalize.attributes).to.not.have.property('__computed__.cumulative_token_count.total')
    const line = readLineRuns(home).find(l => l.trace_id === out.traceId)
    expect(line).to.include({prompt_tokens: 9, completion_tokens: 4, total_tokens: 13, line_run_id: out.lineRunId})
    expect(await storeText(home)).to.not.contain(apiKey)
  })

  it('runs independent nodes concurrently', async () => {
    fake.latencyMs = 600
    try {
      const result = await runPf(['flow', 'test', '--flow', dagFlow, '--inputs', 'question=hi', 'delay_ms=600', '--json'], {
        home,
        env: env(),
      })
      expect(result.code, result.stderr).to.equal(0)
      const spans = readSpans(home)
      const times = (name: string) => {
        const s = spans.find(x => x.name === name)!
        return {start: Date.parse(s.record.start_time), end: Date.parse(s.record.end_time)}
      }
      const count = times('count_words')
      const answer = times('answer')
      expect(count.end - count.start).to.be.at.least(550)
      expect(answer.end - answer.start).to.be.at.least(550)
      // Both waited ~600 ms at the same time.
      expect(count.start).to.be.below(answer.end)
      expect(answer.start).to.be.below(count.end)
    } finally {
      fake.latencyMs = 0
    }
  })

  it('--node runs one node with its inputs', async () => {
    const result = await runPf(['flow', 'test', '--flow', dagFlow, '--node', 'build_prompt', '--inputs', 'question=Is it?', '--json'], {
      home,
      env: env(),
    })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.json().output).to.equal('Answer in a brief way.\nQuestion: Is it?\n')
    const spans = readSpans(home)
    expect(spans.map(s => s.name).sort()).to.deep.equal(['build_prompt', 'dag-basic'])
    expect(fake.requests).to.have.length(0)

    const fromOutput = await runPf(['flow', 'test', '--flow', dagFlow, '--node', 'count_words', '--inputs', 'normalize=a b c'], {
      home,
      env: env(),
    })
    expect(fromOutput.code, fromOutput.stderr).to.equal(0)
    expect(JSON.parse(fromOutput.stdout)).to.deep.equal({words: 3, chars: 5})

    const unknown = await runPf(['flow', 'test', '--flow', dagFlow, '--node', 'nope', '--json'], {home})
    expect(unknown.code).to.equal(2)
    expect(unknown.json().error.message).to.contain('No node "nope"')
  })

  it('a node that throws fails the line (exit 1) with its error and stack on the node span', async () => {
    const result = await runPf(['flow', 'test', '--flow', dagFlow, '--inputs', 'question=fail'], {home, env: env()})
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain('Error: Flow failed: RangeError: normalize was asked to fail')
    expect(result.stderr).to.contain('normalize.ts')
    const spans = readSpans(home)
    const node = spans.find(s => s.name === 'normalize')!
    expect(node.record.status).to.deep.equal({status_code: 'Error', description: 'RangeError: normalize was asked to fail'})
    const exception = node.record.events.find((e: any) => e.name === 'exception')
    expect(exception.attributes['exception.stacktrace']).to.contain('normalize.ts')
    expect(spans.find(s => s.parent_id === null)!.status).to.equal('Error')
    // Nodes after the failed one never started.
    expect(spans.map(s => s.name)).to.not.include('answer')
  })

  it('an llm node with an unset connection variable fails naming the variable', async () => {
    const result = await runPf(['flow', 'test', '--flow', dagFlow, '--inputs', 'question=hi', '--json'], {home})
    expect(result.code).to.equal(1)
    expect(result.json().error.message).to.contain('FAKE_OPENAI_KEY is not set')
  })

  for (const withBaseUrl of [false, true])
    it(`uses an azure_open_ai connection (deployment path, api-version, api-key header)${withBaseUrl ? ', even with OPENAI_BASE_URL set' : ''}`, async () => {
      const conn = path.join(tempDir(), 'azure.yaml')
      writeFileSync(
        conn,
        `name: ignored\ntype: azure_open_ai\napi_key: \${env:FAKE_OPENAI_KEY}\napi_base: ${fake.origin}/\napi_version: 2024-10-21\n`,
      )
      expect((await runPf(['connection', 'create', '--file', conn, '--name', 'fake_openai'], {home})).code).to.equal(0)
      // The environment names another endpoint: the connection's own wins for that client.
      const extra = withBaseUrl ? {OPENAI_BASE_URL: 'http://127.0.0.1:9/v1'} : {}
      const result = await runPf(['flow', 'test', '--flow', dagFlow, '--inputs', 'question=azure?', '--json'], {
        home,
        env: {...env(), ...extra},
      })
      expect(result.code, result.stdout + result.stderr).to.equal(0)
      expect(result.json().output.answer).to.equal('Echo: azure?')
      const sent = fake.requests.at(-1)!
      expect(sent.path).to.equal('/openai/deployments/gpt-fake/chat/completions')
      expect(sent.query['api-version']).to.equal('2024-10-21')
      expect(sent.headers['api-key']).to.equal(apiKey)
    })
})
