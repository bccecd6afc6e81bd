import {expect} from 'chai'
import {readFileSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

// The compiled package, as pf loads it (pf never transpiles plugins).
import traceDestination from '../dist/hook.js'
import {configReader} from '../../../src/config/files.js'
import type {DestinationContext, SpanExporter, SpanRecord, TraceDestinationProvider} from '../../../src/contract/destination.js'
import {OtlpReceiver} from './receiver.js'

const pluginRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const record = (overrides: Partial<SpanRecord> = {}): SpanRecord => ({
  name: 'my_flow',
  context: {trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', trace_state: ''},
  kind: 'SpanKind.INTERNAL',
  parent_id: null,
  start_time: '2026-11-26T05:30:30.123456Z',
  end_time: '2026-11-26T05:30:31.000789Z',
  status: {status_code: 'Ok'},
  attributes: {span_type: 'Flow', 'llm.usage.total_tokens': 42, ratio: 0.5, ok: true, inputs: '{"q":"hi"}'},
  events: [{name: 'promptflow.function.inputs', timestamp: '2026-11-26T05:30:30.200000Z', attributes: {payload: '{"q":"hi"}'}}],
  links: [],
  resource: {attributes: {'service.name': 'promptflow', collection: 'flex-basic'}, schema_url: ''},
  ...overrides,
})

// Expected times computed apart from the plugin's parser: 2026-11-26T05:30:30Z in ns, plus the fraction.
const at = (seconds: number, nanos: number): bigint => BigInt(Date.UTC(2026, 10, 26, 5, 30, seconds)) * 1_000_000n + BigInt(nanos)

const child = record({
  name: 'llm_call',
  kind: 'SpanKind.CLIENT',
  context: {trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: '00f067aa0ba902b7', trace_state: ''},
  parent_id: 'b7ad6b7169203331',
  status: {status_code: 'Error', description: 'boom'},
  attributes: {span_type: 'LLM'},
  events: [],
})

const firstTry = {attempts: {}}

describe('pf-trace-otlp (plugin package)', () => {
  let providers: TraceDestinationProvider[]
  let receiver: OtlpReceiver
  const ctx = (config: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): DestinationContext => ({
    cwd: process.cwd(),
    config: configReader(config),
    env,
  })
  const exporterFor = async (value: string, config?: Record<string, unknown>, env?: NodeJS.ProcessEnv): Promise<SpanExporter> => {
    const provider = providers.find(p => value.startsWith(p.scheme + '://'))!
    const c = ctx(config, env)
    return provider.exporter(await provider.resolve(value, c), c)
  }

  before(async () => {
    providers = (await traceDestination()) as TraceDestinationProvider[]
  })
  beforeEach(async () => {
    receiver = await OtlpReceiver.start()
  })
  afterEach(() => receiver.close())

  it('claims otlp://, otlp+json://, otlp+https:// and otlp+json+https:// and checks the form only', async () => {
    expect(providers.map(p => p.scheme)).to.deep.equal(['otlp', 'otlp+json', 'otlp+https', 'otlp+json+https'])
    const [otlp, json, secure, secureJson] = providers
    // https forms: https's own port unless one is given.
    expect(await secure.resolve('otlp+https://api.honeycomb.example', ctx())).to.include({
      url: 'https://api.honeycomb.example/v1/traces',
      encoding: 'protobuf',
    })
    expect(await secureJson.resolve('otlp+json+https://cloud.langfuse.example/api/public/otel/v1/traces', ctx())).to.include({
      url: 'https://cloud.langfuse.example/api/public/otel/v1/traces',
      encoding: 'json',
    })
    expect(await secure.resolve('otlp+https://127.0.0.1:8443', ctx())).to.include({url: 'https://127.0.0.1:8443/v1/traces'})
    const resolved = await otlp.resolve('otlp://collector.example:4318', ctx())
    expect(resolved).to.include({
      scheme: 'otlp',
      url: 'http://collector.example:4318/v1/traces',
      key: 'otlp:http://collector.example:4318/v1/traces',
    })
    expect(await otlp.resolve('otlp://collector', ctx())).to.include({url: 'http://collector:4318/v1/traces'})
    expect(await json.resolve('otlp+json://10.0.0.1:9999/custom/path', ctx())).to.include({
      url: 'http://10.0.0.1:9999/custom/path',
      encoding: 'json',
    })
    await otlp.validate('otlp://127.0.0.1:4318', ctx())
    for (const [bad, why] of [
      ['otlp://user:secret@h:4318', /credentials/],
      ['otlp://h:4318/v1/traces?x=1', /query/],
      ['otlp://', /not a URL|no host/],
    ] as const) {
      const error = await otlp.validate(bad, ctx()).then(
        () => undefined,
        (e: Error) => e,
      )
      expect(error?.message, bad).to.match(why)
      expect(error?.message).not.to.contain('secret')
    }
  })

  it('declares trace.otlp.headers and parses it without reading the environment', () => {
    const spec = providers[0].configKeys!.find(k => k.key === 'trace.otlp.headers')!
    expect(spec.parse!(' authorization=Bearer ${env:OTLP_TOKEN} , x-team=ml ')).to.equal('authorization=Bearer ${env:OTLP_TOKEN},x-team=ml')
    expect(() => spec.parse!('novalue')).to.throw(/NAME=VALUE/)
    expect(() => spec.parse!('a=${env:BAD')).to.throw(/placeholder/)
    expect(() => spec.parse!('bad name=x')).to.throw(/header name/)
  })

  for (const [scheme, encoding] of [
    ['otlp', 'application/x-protobuf'],
    ['otlp+json', 'application/json'],
  ] as const) {
    it(`${scheme}: sends spans with their attributes, events, times, status and resource, plus headers`, async () => {
      const exporter = await exporterFor(
        `${scheme}://${receiver.url}`,
        {trace: {otlp: {headers: 'authorization=Bearer ${env:OTLP_TOKEN},x-team=ml'}}},
        {OTLP_TOKEN: 't0ken'},
      )
      expect(await exporter.export([record(), child], firstTry)).to.deep.equal({code: 'ok'})
      expect(receiver.requests).to.have.length(1)
      const [request] = receiver.requests
      expect(request).to.include({path: '/v1/traces', contentType: encoding})
      expect(request.headers).to.include({authorization: 'Bearer t0ken', 'x-team': 'ml'})
      const [root, llm] = request.spans
      expect(root).to.deep.include({
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        parentSpanId: '',
        name: 'my_flow',
        kind: 1, // SPAN_KIND_INTERNAL
        startTimeUnixNano: at(30, 123_456_000),
        endTimeUnixNano: at(31, 789_000),
        status: {code: 1, message: ''},
        scope: 'promptflow',
      })
      expect(root.attributes).to.deep.equal({span_type: 'Flow', 'llm.usage.total_tokens': 42, ratio: 0.5, ok: true, inputs: '{"q":"hi"}'})
      expect(root.events).to.deep.equal([
        {name: 'promptflow.function.inputs', timeUnixNano: at(30, 200_000_000), attributes: {payload: '{"q":"hi"}'}},
      ])
      expect(root.resource).to.deep.equal({'service.name': 'promptflow', collection: 'flex-basic'})
      expect(llm).to.deep.include({parentSpanId: 'b7ad6b7169203331', kind: 3, status: {code: 2, message: 'boom'}})
    })
  }

  it('classifies answers: 503/429 retry (honouring Retry-After), 400 is final, a dead receiver retries', async () => {
    const exporter = await exporterFor(`otlp://${receiver.url}`)
    receiver.reply = {status: 503, headers: {'retry-after': '7'}}
    expect(await exporter.export([record()], firstTry)).to.deep.include({code: 'retryable', retryAfterMs: 7000})
    receiver.reply = {status: 429}
    expect((await exporter.export([record()], firstTry)).code).to.equal('retryable')
    receiver.reply = {status: 500}
    expect((await exporter.export([record()], firstTry)).code).to.equal('retryable')
    receiver.reply = {status: 400, headers: {'content-type': 'application/json'}, body: '{"code":3,"message":"bad span\\nnext line"}'}
    const rejected = await exporter.export([record()], firstTry)
    expect(rejected).to.deep.equal({code: 'fatal', reason: `http://${receiver.url}/v1/traces answered HTTP 400: bad span next line`})
    receiver.reply = {status: 401}
    expect((await exporter.export([record()], firstTry)).code).to.equal('fatal')
    await receiver.close()
    const down = await (await exporterFor(`otlp://${receiver.url}`)).export([record()], firstTry)
    if (down.code !== 'retryable') expect.fail(`expected retryable, got ${JSON.stringify(down)}`)
    // ECONNREFUSED, or a reset when a pooled keep-alive socket to the closed receiver is picked first.
    expect(down.reason, down.reason).to.match(/^cannot reach .*(ECONNREFUSED|other side closed|ECONNRESET|socket hang up)/)
  })

  it('keeps spans pending while a header variable is unset, and never puts header values in errors', async () => {
    const exporter = await exporterFor(
      `otlp://${receiver.url}`,
      {trace: {otlp: {headers: 'authorization=${env:OTLP_TOKEN},x-key=literal-secret'}}},
      {},
    )
    const result = await exporter.export([record()], firstTry)
    expect(result).to.deep.equal({
      code: 'retryable',
      reason: 'trace.otlp.headers: environment variable OTLP_TOKEN (header authorization) is not set',
    })
    expect(receiver.requests).to.have.length(0)
    receiver.reply = {status: 403}
    const withToken = await exporterFor(
      `otlp://${receiver.url}`,
      {trace: {otlp: {headers: 'authorization=${env:OTLP_TOKEN},x-key=literal-secret'}}},
      {OTLP_TOKEN: 'tok-123'},
    )
    const forbidden = await withToken.export([record()], firstTry)
    expect(forbidden.code).to.equal('fatal')
    expect(JSON.stringify(forbidden)).not.to.match(/tok-123|literal-secret/)
  })

  it('reports a partial success as delivered, with the count the receiver dropped', async () => {
    const exporter = await exporterFor(`otlp+json://${receiver.url}`)
    receiver.reply = {status: 200, body: '{"partialSuccess":{"rejectedSpans":"1","errorMessage":"too old"}}'}
    expect(await exporter.export([record(), child], firstTry)).to.deep.equal({
      code: 'ok',
      warning: `http://${receiver.url}/v1/traces dropped 1 span(s) (partial success)`,
    })
  })

  for (const encoding of ['protobuf', 'json'] as const) {
    it(`https (${encoding}): trusts NODE_EXTRA_CA_CERTS, gzips bodies by default; an untrusted certificate is a retryable error`, async () => {
      const {testTls} = await import('../../../test/helpers/cosmos.js')
      const tls = testTls()
      const secure = await OtlpReceiver.start(0, tls)
      try {
        const scheme = encoding === 'json' ? 'otlp+json+https' : 'otlp+https'
        const untrusted = await (await exporterFor(`${scheme}://${secure.url}`, {}, {})).export([record()], firstTry)
        expect(untrusted.code).to.equal('retryable')
        expect(untrusted.code === 'retryable' && untrusted.reason).to.match(
          /^cannot reach https:\/\/127\.0\.0\.1:\d+\/v1\/traces: .*(self-signed|self signed|unable to verify)/i,
        )
        expect(secure.spans).to.have.length(0)

        const exporter = await exporterFor(`${scheme}://${secure.url}`, {}, {NODE_EXTRA_CA_CERTS: tls.certFile})
        expect(await exporter.export([record(), child], firstTry)).to.deep.equal({code: 'ok'})
        const accepted = secure.requests.filter(r => r.accepted)
        expect(accepted).to.have.length(1)
        expect(accepted[0].headers['content-encoding']).to.equal('gzip')
        expect(accepted[0].spans.map(s => s.name)).to.deep.equal(['my_flow', 'llm_call'])

        // trace.otlp.compression=none turns gzip off.
        const plain = await exporterFor(
          `${scheme}://${secure.url}`,
          {trace: {otlp: {compression: 'none'}}},
          {NODE_EXTRA_CA_CERTS: tls.certFile},
        )
        expect(await plain.export([record()], firstTry)).to.deep.equal({code: 'ok'})
        expect(secure.requests.at(-1)!.headers['content-encoding']).to.equal(undefined)
      } finally {
        await secure.close()
      }
    })
  }

  it('gzips plain-HTTP bodies when trace.otlp.compression=gzip, and rejects other compression values', async () => {
    const spec = providers[0].configKeys!.find(k => k.key === 'trace.otlp.compression')!
    expect(spec.parse!(' GZIP ')).to.equal('gzip')
    expect(() => spec.parse!('br')).to.throw(/accepted: gzip, none/)
    const exporter = await exporterFor(`otlp://${receiver.url}`, {trace: {otlp: {compression: 'gzip'}}})
    expect(await exporter.export([record()], firstTry)).to.deep.equal({code: 'ok'})
    expect(receiver.requests[0].headers['content-encoding']).to.equal('gzip')
    expect(receiver.requests[0].spans[0].name).to.equal('my_flow')
  })

  it('ships compiled JavaScript that knows pf only through pf/destination types', () => {
    const pkg = JSON.parse(readFileSync(path.join(pluginRoot, 'package.json'), 'utf8'))
    expect(pkg.peerDependencies).to.have.property('pf')
    expect(pkg.oclif.hooks['trace-destination']).to.equal('./dist/hook.js')
    // Declarations (.d.ts) may name pf/destination's types; the JavaScript may not import pf at all.
    for (const file of readdirSync(path.join(pluginRoot, 'dist')).filter(f => f.endsWith('.js'))) {
      const source = readFileSync(path.join(pluginRoot, 'dist', file), 'utf8')
      const specifiers = [...source.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)].map(m => m[1])
      for (const spec of specifiers)
        expect(spec, `${file} imports ${spec}`).to.match(/^(\.\/[\w-]+\.js|@opentelemetry\/(otlp-transformer|resources)|node:[a-z]+)$/)
    }
  })
})
