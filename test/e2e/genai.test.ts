/**
 * OpenTelemetry GenAI conventions in and out, through the built CLI: a flex flow using the Vercel AI SDK (its own
 * telemetry, no pf set-up) against the fake OpenAI server; pf's own openai spans carrying gen_ai.* in an OTLP
 * export; a plain Node script whose openai calls are traced by startTrace(), which also points OTel SDKs at pf.
 */
import {expect} from 'chai'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {runScript} from '../helpers/collector.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'
import {readLineRuns, readSpans} from '../helpers/store.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures')
const vercelFlow = path.join(fixtures, 'flows', 'flex-vercel-ai')
const apiKey = 'sk-fake-genai-0123456789abcdefghijklmn'

describe('GenAI conventions in and out (built CLI, fake OpenAI)', function () {
  this.timeout(120_000)
  let fake: FakeOpenAI
  let home: string
  const env = () => ({OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: apiKey})

  before(async () => {
    fake = await startFakeOpenAI()
  })
  after(() => fake.stop())
  beforeEach(() => {
    home = tempDir('pf-home-genai-')
    fake.requests.length = 0
  })

  it('a flex flow using the Vercel AI SDK with telemetry: its spans nest under the flow, tokens counted once, chat recorded', async () => {
    const result = await runPf(['flow', 'test', '--flow', vercelFlow, '--inputs', 'question=What is pf?', '--json'], {home, env: env()})
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    const out = result.json()
    expect(out.output).to.deep.equal({answer: 'Echo: What is pf?'})
    expect(fake.requests).to.have.length(1)

    const spans = readSpans(home)
    const byName = Object.fromEntries(spans.map(s => [s.name, s]))
    expect(Object.keys(byName).sort()).to.deep.equal(['ai.generateText', 'ai.generateText.doGenerate', 'answer'])
    expect(byName['ai.generateText'].parent_id).to.equal(byName.answer.span_id)
    expect(byName['ai.generateText.doGenerate'].parent_id).to.equal(byName['ai.generateText'].span_id)
    const call = byName['ai.generateText.doGenerate']
    expect(call.span_type).to.equal('LLM')
    // "You answer briefly. What is pf?" = 6 words, "Echo: What is pf?" = 4 (the fake counts words).
    expect(call.attributes).to.include({'llm.usage.prompt_tokens': 6, 'llm.usage.completion_tokens': 4, 'llm.usage.total_tokens': 10})
    expect(JSON.parse(call.attributes.inputs).messages).to.deep.equal([
      {role: 'system', content: 'You answer briefly.'},
      {role: 'user', content: [{type: 'text', text: 'What is pf?'}]},
    ])
    expect(JSON.parse(call.attributes.output)).to.equal('Echo: What is pf?')
    // The wrapper repeats its call's usage; it is not an LLM call itself, so the line counts 10, not 20.
    expect(byName['ai.generateText'].span_type).to.equal(null)
    expect(byName.answer.attributes['__computed__.cumulative_token_count.total']).to.equal(10)
    expect(readLineRuns(home)[0]).to.include({trace_id: out.traceId, prompt_tokens: 6, completion_tokens: 4, total_tokens: 10})

    const shown = await runPf(['trace', 'show', out.traceId], {home})
    expect(shown.stdout).to.match(/^answer\s+Flow\s.*cumulative tokens 10 \(prompt 6, completion 4\)$/m)
    expect(shown.stdout).to.match(/^ {4}ai\.generateText\.doGenerate\s+LLM\s.*tokens 10 \(prompt 6, completion 4\)$/m)
    const list = (await runPf(['trace', 'list', '--json'], {home})).json()
    expect(list[0].tokens).to.deep.equal({prompt: 6, completion: 4, total: 10})
  })

  it("pf's own openai spans carry the GenAI attributes beside prompt flow's, in an OTLP export", async () => {
    const {OtlpReceiver} = await import('../../plugins/pf-trace-otlp/test/receiver.js')
    const receiver = await OtlpReceiver.start()
    try {
      expect((await runPf(['plugins', 'link', path.join(repoRoot, 'plugins', 'pf-trace-otlp'), '--no-install'], {home})).code).to.equal(0)
      expect((await runPf(['config', 'set', `trace.destination=otlp://${receiver.url}`], {home})).code).to.equal(0)
      const result = await runPf(
        ['flow', 'test', '--flow', path.join(fixtures, 'flows', 'flex-llm'), '--inputs', 'question=What is pf?', '--json'],
        {home, env: env()},
      )
      expect(result.code, result.stderr + result.stdout).to.equal(0)
      const llm = receiver.spans.find(s => s.name === 'openai_chat')!
      expect(llm, 'the exported openai span').to.not.equal(undefined)
      expect(llm.attributes).to.include({
        'gen_ai.system': 'openai',
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-fake',
        'gen_ai.response.model': 'gpt-fake',
        'gen_ai.usage.input_tokens': 6,
        'gen_ai.usage.output_tokens': 4,
        // prompt flow's names stay.
        span_type: 'LLM',
        'llm.usage.total_tokens': 10,
      })
    } finally {
      await receiver.close()
    }
  })

  it('startTrace() in a plain Node script traces its openai calls and points OpenTelemetry SDKs at a running pf service', async () => {
    // Run as a user would, not by pf (async: the fake OpenAI server lives in this process).
    const run = (extra: NodeJS.ProcessEnv = {}) =>
      runScript(
        [path.join(fixtures, 'scripts', 'openai-script.mjs'), '5'],
        {PF_HOME_DIRECTORY: home, CI: 'true', ...env(), ...extra},
        tempDir(),
      )
    // No service running, not interactive: no endpoint is made up.
    const first = await run()
    expect(first.code, first.stderr).to.equal(0)
    expect(JSON.parse(first.stdout)).to.deep.equal({endpoint: null, handle: null, resource: null})
    const spans = readSpans(home).filter(s => s.name === 'openai_chat')
    expect(spans).to.have.length(5)
    expect(spans.every(s => s.span_type === 'LLM' && s.attributes['gen_ai.operation.name'] === 'chat')).to.equal(true)
    expect(spans[0].record.resource.attributes.collection).to.equal('openai-script')

    const start = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(start.code, start.stderr).to.equal(0)
    try {
      const endpoint = `http://127.0.0.1:${start.json().port}/v1/traces`
      const second = await run()
      expect(second.code, second.stderr).to.equal(0)
      expect(JSON.parse(second.stdout)).to.deep.equal({endpoint, handle: endpoint, resource: 'collection=openai-script'})
      // An endpoint the user set is kept.
      const third = await run({OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector.example:4318/v1/traces'})
      expect(JSON.parse(third.stdout).endpoint).to.equal('http://collector.example:4318/v1/traces')
    } finally {
      await runPf(['service', 'stop'], {home})
    }
  })
})
