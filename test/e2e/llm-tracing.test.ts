import {expect} from 'chai'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'
import {readLineRuns, readSpans, storeText} from '../helpers/store.js'

const flexLlm = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-llm')
const apiKey = 'sk-fake-flex-0123456789abcdefghijklmn'

describe('LLM calls through the openai package are traced (built CLI)', () => {
  let fake: FakeOpenAI
  let home: string
  const env = () => ({OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: apiKey})

  before(async () => {
    fake = await startFakeOpenAI()
  })
  after(() => fake.stop())
  beforeEach(() => {
    home = tempDir('pf-home-')
    fake.requests.length = 0
  })

  const tokens = (attributes: Record<string, any>) => ({
    prompt: attributes['__computed__.cumulative_token_count.prompt'],
    completion: attributes['__computed__.cumulative_token_count.completion'],
    total: attributes['__computed__.cumulative_token_count.total'],
  })

  it('records an LLM span with model, messages, response and usage under the nested traced function', async () => {
    const result = await runPf(['flow', 'test', '--flow', flexLlm, '--inputs', 'question=What is pf?', '--json'], {home, env: env()})
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    const out = result.json()
    expect(out.output).to.deep.equal({answer: 'Echo: What is pf?'})
    expect(fake.requests[0].apiKey).to.equal(apiKey)

    const spans = readSpans(home)
    const byName = Object.fromEntries(spans.map(s => [s.name, s]))
    const llm = byName.openai_chat
    expect(llm.span_type).to.equal('LLM')
    expect(llm.parent_id).to.equal(byName.ask.span_id)
    expect(byName.ask.parent_id).to.equal(byName.chat.span_id)
    expect(llm.attributes.function).to.equal('openai.resources.chat.completions.Completions.create')
    expect(llm.attributes['llm.response.model']).to.equal('gpt-fake')
    const inputs = JSON.parse(llm.attributes.inputs)
    expect(inputs).to.deep.include({model: 'gpt-fake', temperature: 0})
    expect(inputs.messages).to.deep.equal([
      {role: 'system', content: 'You answer briefly.'},
      {role: 'user', content: 'What is pf?'},
    ])
    expect(JSON.parse(llm.attributes.output).choices[0].message.content).to.equal('Echo: What is pf?')
    // "You answer briefly. What is pf?" = 6 words, "Echo: What is pf?" = 4.
    expect(llm.attributes).to.include({'llm.usage.prompt_tokens': 6, 'llm.usage.completion_tokens': 4, 'llm.usage.total_tokens': 10})
    expect(llm.record.events.map((e: any) => e.name)).to.deep.equal([
      'promptflow.function.inputs',
      'promptflow.llm.generated_message',
      'promptflow.function.output',
    ])
    expect(JSON.parse(llm.attributes['llm.generated_message'])).to.deep.include({role: 'assistant', content: 'Echo: What is pf?'})
    for (const name of ['openai_chat', 'ask', 'chat'])
      expect(tokens(byName[name].attributes), name).to.deep.equal({prompt: 6, completion: 4, total: 10})
    expect(byName.buildMessages.attributes).to.not.have.property('__computed__.cumulative_token_count.total')
    const line = readLineRuns(home)[0]
    expect(line).to.include({trace_id: out.traceId, prompt_tokens: 6, completion_tokens: 4, total_tokens: 10})
    expect(await storeText(home)).to.not.contain(apiKey)
  })

  it('records a stream when it ends: joined content and usage (asked for, hidden from the caller)', async () => {
    const result = await runPf(['flow', 'test', '--flow', flexLlm, '--inputs', 'question=Stream this please', 'stream=true', '--json'], {
      home,
      env: env(),
    })
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    expect(result.json().output).to.deep.equal({answer: 'Echo: Stream this please'})
    // pf asked for the usage chunk; the flow's `chunk.choices[0]` did not see it (it would have thrown).
    expect(fake.requests[0].body.stream_options).to.deep.equal({include_usage: true})
    const llm = readSpans(home).find(s => s.name === 'openai_chat')!
    expect(JSON.parse(llm.attributes.output)).to.equal('Echo: Stream this please')
    // prompt flow's llm.generated_message: the message the stream built.
    expect(JSON.parse(llm.attributes['llm.generated_message'])).to.deep.equal({role: 'assistant', content: 'Echo: Stream this please'})
    expect(llm.attributes).to.include({'llm.usage.prompt_tokens': 6, 'llm.usage.completion_tokens': 4, 'llm.usage.total_tokens': 10})
    expect(llm.record.status.status_code).to.equal('Ok')
    expect(readLineRuns(home)[0]).to.include({total_tokens: 10})
  })

  it('a failing call: exit 1, status and message printed, span Error with HTTP status, no API key anywhere', async () => {
    const result = await runPf(['flow', 'test', '--flow', flexLlm, '--inputs', 'question=hi', 'model=error-401'], {home, env: env()})
    expect(result.code).to.equal(1)
    expect(result.stderr).to.contain('Flow failed: the model API refused the key (401): 401 Incorrect API key provided: ***')
    expect(fake.requests[0].apiKey).to.equal(apiKey)
    const llm = readSpans(home).find(s => s.name === 'openai_chat')!
    expect(llm.record.status.status_code).to.equal('Error')
    expect(llm.record.status.description).to.contain('401 Incorrect API key provided')
    expect(llm.attributes['http.response.status_code']).to.equal(401)
    for (const text of [result.stdout, result.stderr, await storeText(home)]) expect(text).to.not.contain(apiKey)

    const json = await runPf(['flow', 'test', '--flow', flexLlm, '--inputs', 'question=hi', 'model=error-401', '--json'], {
      home,
      env: env(),
    })
    expect(json.code).to.equal(1)
    expect(json.json().error.code).to.equal('flow_failed')
    expect(json.stdout).to.not.contain(apiKey)
  })

  it('trace.destination=none: the call still works, nothing is stored', async () => {
    await runPf(['config', 'set', 'trace.destination=none'], {home})
    const result = await runPf(['flow', 'test', '--flow', flexLlm, '--inputs', 'question=quiet', 'stream=true', '--json'], {
      home,
      env: env(),
    })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.json().output).to.deep.equal({answer: 'Echo: quiet'})
    expect(fake.requests[0].body).to.not.have.property('stream_options')
  })
})
