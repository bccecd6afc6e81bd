// Worker of bench/cases/peer-openai.js, one variant per process. Usage: node worker.js VARIANT CALLS BASE_URL
// (BASE_URL `in-process`: no network, see inProcessFetch). Makes CALLS sequential chat completions through the openai
// client and prints {ms, cpuMs, spans}.
// Variants: plain (no tracing: the baseline), pf (pf's OpenAI tracing, spans written durably to its SQLite store),
// openinference / openllmetry (their OpenAI instrumentations, OTel SDK + in-memory exporter), langfuse (v5
// observeOpenAI over the OTel SDK + in-memory exporter), openllmetry-sqlite (OpenLLMetry writing its spans durably
// to a plain SQLite table: bench/lib.js sqliteSpanProcessor), openllmetry-layout (OpenLLMetry writing its spans as
// rows of pf's own tables, with pf's trace ids: bench/lib.js storeLayoutSpanProcessor), contract-layout (prompt
// flow's span contract recorded with the least code, written as rows of pf's tables: recordContract),
// contract-sqlite (the same, written as span JSON to a plain SQLite table), required-layout (the contract plus what
// pf must also do, with the least code, as prompt flow's span JSON in pf's tables: the requirements floor, see
// recordContract). Lives in bench/peers so the peers resolve from here.
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const [variant, callsText, baseURL] = process.argv.slice(2)

/**
 * BASE_URL `in-process`: no network. Each client gets a fetch that answers at once with a chat completion (the fake's
 * shape), so a run measures only the CPU each variant spends on the calling thread, without the loopback server's
 * share of two cores (steadier than the wall time, and what tracing itself costs per call).
 */
let answered = 0
const inProcessFetch = async (_url, init) => {
  const body = JSON.parse(init.body)
  const completion = {
    id: `in-process-${answered++}`,
    object: 'chat.completion',
    created: 1795785831,
    model: body.model,
    choices: [
      {
        index: 0,
        message: {role: 'assistant', content: `Echo: ${body.messages.at(-1).content}`, refusal: null},
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: {prompt_tokens: 5, completion_tokens: 6, total_tokens: 11},
  }
  return new globalThis.Response(JSON.stringify(completion), {status: 200, headers: {'content-type': 'application/json'}})
}
const clientOptions =
  baseURL === 'in-process' ? {apiKey: 'sk-bench', baseURL: 'http://127.0.0.1:9/v1', fetch: inProcessFetch} : {apiKey: 'sk-bench', baseURL}
const calls = Number(callsText)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = file => import(path.join(repoRoot, 'dist', file))

/** An OTel SDK provider with an in-memory exporter, registered globally (how the peers are set up in their docs). */
const inMemoryProvider = async () => {
  const {InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor} = await import('@opentelemetry/sdk-trace-node')
  const exporter = new InMemorySpanExporter()
  const provider = new NodeTracerProvider({spanProcessors: [new SimpleSpanProcessor(exporter)]})
  provider.register()
  return {finish: async () => (await provider.forceFlush(), exporter.getFinishedSpans().length)}
}

/**
 * An OTel SDK provider that writes every span durably, registered globally: to a plain SQLite table (the durable
 * floor) or, `layout`, as rows of pf's own tables with pf's time-first trace ids (the floor of pf's store layout).
 */
const sqliteProvider = async (layout = false, layoutOptions = {}) => {
  const {NodeTracerProvider} = await import('@opentelemetry/sdk-trace-node')
  const {sqliteSpanProcessor, storeLayoutSpanProcessor} = await import(path.join(repoRoot, 'bench', 'lib.js'))
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pf-bench-peer-floor-')), 'spans.sqlite')
  const store = await (layout ? storeLayoutSpanProcessor(file, layoutOptions) : sqliteSpanProcessor(file))
  const {TimeOrderedIdGenerator} = await dist('tracing/trace-ids.js')
  const provider = new NodeTracerProvider({
    spanProcessors: [store.processor],
    ...(layout ? {idGenerator: new TimeOrderedIdGenerator()} : {}),
  })
  provider.register()
  return {finish: async () => (await provider.forceFlush(), store.stored()), close: store.close}
}

/**
 * The least code that records prompt flow's span contract for a chat call (promptflow-compat.md, span attributes:
 * `framework`, `span_type`, `function`, `inputs` and `output` as attributes and as events, `llm.usage.*` and their
 * cumulative counts; the reference's `llm.generated_message` attribute and event) through the OTel SDK: plain
 * JSON.stringify, no masking, no OTel GenAI names, no pf code. With sqliteProvider(true), the floor of writing that
 * contract in pf's store layout.
 * `required`: the least code for what pf must do besides (the requirements floor): secrets masked as the JSON is
 * written (pf's masking rules, tracing/masking.js, the only pf code it runs), the OTel GenAI names OTLP backends read,
 * openai's `APIPromise` kept for the caller (`withResponse()`, `_thenUnwrap`) and a failed call's span ended; with
 * sqliteProvider(true, {promptflowShape: true}) each span is stored as prompt flow's span JSON, which pf's store keeps
 * and its destinations export.
 */
const recordContract = async (client, required = false) => {
  const {maskingReplacer} = required ? await dist('tracing/masking.js') : {}
  const json = required ? value => JSON.stringify(value, maskingReplacer) : value => JSON.stringify(value)
  const {trace} = await import('@opentelemetry/api')
  const tracer = trace.getTracer('promptflow')
  const completions = client.chat.completions
  const create = completions.create.bind(completions)
  completions.create = (body, options) => {
    const span = tracer.startSpan('openai_chat')
    const inputs = json(body)
    if (required) span.setAttributes({'gen_ai.system': 'openai', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': body.model})
    span.setAttributes({
      framework: 'promptflow',
      span_type: 'LLM',
      function: 'openai.resources.chat.completions.Completions.create',
      inputs,
      'llm.request.model': body.model,
    })
    span.addEvent('promptflow.function.inputs', {payload: inputs})
    const response = create(body, options)
    if (required)
      // A failed call ends its span too (an error span), as any tracer's must.
      response.responsePromise.then(undefined, error => {
        span.setStatus({code: 2, message: String(error)})
        span.end()
      })
    const whenAnswered = required ? record => response._thenUnwrap(record) : record => response.then(record)
    return whenAnswered(data => {
      const usage = data.usage ?? {}
      if (required)
        span.setAttributes({
          'gen_ai.response.model': data.model,
          'gen_ai.usage.input_tokens': usage.prompt_tokens,
          'gen_ai.usage.output_tokens': usage.completion_tokens,
        })
      span.setAttributes({
        'llm.response.model': data.model,
        'llm.usage.completion_tokens': usage.completion_tokens,
        'llm.usage.prompt_tokens': usage.prompt_tokens,
        'llm.usage.total_tokens': usage.total_tokens,
        '__computed__.cumulative_token_count.completion': usage.completion_tokens,
        '__computed__.cumulative_token_count.prompt': usage.prompt_tokens,
        '__computed__.cumulative_token_count.total': usage.total_tokens,
      })
      const message = json(data.choices[0].message)
      span.setAttribute('llm.generated_message', message)
      span.addEvent('promptflow.llm.generated_message', {payload: message})
      const output = json(data)
      span.setAttribute('output', output)
      span.addEvent('promptflow.function.output', {payload: output})
      span.setStatus({code: 1})
      span.end()
      return data
    })
  }
}

let client
let finish = async () => Math.min(50, calls) + calls
/** After the clock: what ends a variant's store (pf: the session's end, with the store's final checkpoint). */
let close = async () => {}
if (variant === 'pf') {
  process.env.PF_HOME_DIRECTORY = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-peer-home-'))
  const [{TracingSession}, {configReader}, {registryLoader}, {instrumentOpenAI}] = await Promise.all([
    dist('tracing/session.js'),
    dist('config/files.js'),
    dist('tracing/registry.js'),
    dist('tracing/openai-instrument.js'),
  ])
  const registry = registryLoader(async () => ({successes: [], failures: []}))
  const session = await TracingSession.start({registry, config: configReader({trace: {destination: 'local'}}), collection: 'bench'})
  // pf patches the openai copy pf itself resolves (as for a flow without its own openai).
  await instrumentOpenAI(repoRoot, ['esm'])
  const {default: OpenAI} = await import(path.join(repoRoot, 'node_modules', 'openai', 'index.mjs'))
  client = new OpenAI(clientOptions)
  // Inside the clock, as for the durable floors: every span committed to the store. Closing it (the session's end:
  // the WAL's last checkpoint, which no other variant's clock holds) comes after.
  finish = async () => {
    session.recordSpansNow()
    return session.store.db.prepare('SELECT COUNT(*) FROM spans').pluck().get()
  }
  close = () => session.finish(0)
} else {
  const OpenAIModule = await import('openai')
  const OpenAI = OpenAIModule.default
  if (variant === 'openinference') {
    const {finish: done} = await inMemoryProvider()
    const {OpenAIInstrumentation} = await import('@arizeai/openinference-instrumentation-openai')
    new OpenAIInstrumentation().manuallyInstrument(OpenAIModule)
    finish = done
    client = new OpenAI(clientOptions)
  } else if (variant === 'openllmetry' || variant === 'openllmetry-sqlite' || variant === 'openllmetry-layout') {
    const provider = variant === 'openllmetry' ? await inMemoryProvider() : await sqliteProvider(variant === 'openllmetry-layout')
    const {OpenAIInstrumentation} = await import('@traceloop/instrumentation-openai')
    // OpenLLMetry patches the client class's static Chat/Completions (the default export).
    new OpenAIInstrumentation().manuallyInstrument(OpenAI)
    finish = provider.finish
    close = provider.close ?? close
    client = new OpenAI(clientOptions)
  } else if (variant === 'contract-layout' || variant === 'contract-sqlite' || variant === 'required-layout') {
    const provider = await sqliteProvider(variant !== 'contract-sqlite', {promptflowShape: variant === 'required-layout'})
    finish = provider.finish
    close = provider.close
    client = new OpenAI(clientOptions)
    await recordContract(client, variant === 'required-layout')
  } else if (variant === 'langfuse') {
    const {finish: done} = await inMemoryProvider()
    const {observeOpenAI} = await import('@langfuse/openai')
    finish = done
    client = observeOpenAI(new OpenAI(clientOptions))
  } else if (variant === 'plain') {
    client = new OpenAI(clientOptions)
  } else {
    throw new Error(`unknown variant ${variant}`)
  }
}

const call = i => client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: `What is prompt flow? (${i})`}]})
// Warm-up: connections, lazy imports, JIT.
for (let i = 0; i < Math.min(50, calls); i++) await call(i)
const warm = Math.min(50, calls)
const start = process.hrtime.bigint()
const cpuStart = process.cpuUsage()
for (let i = 0; i < calls; i++) await call(i)
// Inside the timing: every span recorded (pf and the durable floors: committed to SQLite; the in-memory peers: exported
// to memory). Closing a store comes after, for every variant alike.
const spans = (await finish()) - warm
const ms = Number(process.hrtime.bigint() - start) / 1e6
const cpu = process.cpuUsage(cpuStart)
if (spans !== calls) throw new Error(`${variant}: ${spans} spans recorded for ${calls} calls`)
await close()
// CPU time (user + system) of this process over the same span: what tracing costs the caller's process, steadier
// than the wall time on a busy machine (the fake answers from another process).
process.stdout.write(JSON.stringify({ms, cpuMs: (cpu.user + cpu.system) / 1000, spans}))
