/**
 * `pf service` as an OTLP/HTTP collector (POST /v1/traces), through the built CLI: a plain Node script with the
 * OpenTelemetry SDK and both OTLP exporters sends to it; bad bodies, limits and refusals are checked with raw HTTP.
 */
import {expect} from 'chai'
import http from 'node:http'
import path from 'node:path'
import zlib from 'node:zlib'

import {openDatabase} from '../../src/store/sqlite.js'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {type RawResponse, jsonRequest, jsonSpan, post, runScript} from '../helpers/collector.js'
import {outboxStates} from '../helpers/store.js'

const exportScript = path.join(repoRoot, 'test', 'fixtures', 'scripts', 'otel-sdk-export.mjs')

const spanCount = (home: string): number => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return db.prepare('SELECT COUNT(*) FROM spans').pluck().get() as number
  } finally {
    db.close()
  }
}

/** Starts `pf service` in `home`; returns its port. */
const startService = async (home: string, env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<number> => {
  const start = await runPf(['service', 'start', '--port', '0', '--json'], {home, env, cwd})
  expect(start.code, start.stderr).to.equal(0)
  return start.json().port
}

describe('pf service as an OTLP collector (built CLI, OpenTelemetry SDK exporters)', function () {
  this.timeout(120_000)
  let home: string
  let port: number

  beforeEach(async () => {
    home = tempDir('pf-home-collector-')
    port = await startService(home)
  })
  afterEach(async () => {
    await runPf(['service', 'stop'], {home})
  })

  for (const [encoding, compression] of [
    ['protobuf', 'none'],
    ['json', 'none'],
    ['protobuf', 'gzip'],
    ['json', 'gzip'],
  ] as const) {
    it(`takes an OpenTelemetry SDK's spans (${encoding}, compression ${compression}): stored, masked, GenAI calls as LLM spans with tokens rolled up`, async () => {
      const sent = await runScript([exportScript, encoding], {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: compression,
        OTEL_SERVICE_NAME: 'my-agent',
      })
      expect(sent.code, sent.stderr).to.equal(0)
      const {traceId} = JSON.parse(sent.stdout)

      const list = (await runPf(['trace', 'list', '--json'], {home})).json()
      expect(list).to.have.length(1)
      // service.name names the collection; tokens: 10+5 (GenAI) and 7+3 (OpenInference), the agent wrapper not counted again.
      expect(list[0]).to.include({traceId, name: 'agent', collection: 'my-agent', status: 'Ok'})
      expect(list[0].tokens).to.deep.equal({prompt: 17, completion: 8, total: 25})

      const shown = await runPf(['trace', 'show', traceId, '--json'], {home})
      const spans: any[] = shown.json().spans
      expect(spans.map(s => s.name).sort()).to.deep.equal(['agent', 'chat gpt-4o', 'invoke_agent helper', 'llm'])
      const agent = spans.find(s => s.name === 'agent')
      const chat = spans.find(s => s.name === 'chat gpt-4o')
      const openInference = spans.find(s => s.name === 'llm')
      const wrapper = spans.find(s => s.name === 'invoke_agent helper')
      expect(agent.parent_id).to.equal(null)
      // OTLP numbers kinds from 1 (internal); the API from 0: SERVER and CLIENT as the SDK set them.
      expect(agent.kind).to.equal('SpanKind.SERVER')
      expect(chat.parent_id).to.equal(agent.context.span_id)
      expect(chat.kind).to.equal('SpanKind.CLIENT')
      expect(agent.resource.attributes).to.include({'service.name': 'my-agent', collection: 'my-agent', 'deployment.environment': 'test'})
      expect(chat.attributes).to.include({
        span_type: 'LLM',
        'llm.usage.prompt_tokens': 10,
        'llm.usage.completion_tokens': 5,
        'llm.usage.total_tokens': 15,
      })
      expect(chat.attributes['gen_ai.usage.input_tokens']).to.equal(10)
      expect(JSON.parse(chat.attributes.inputs)).to.deep.equal({model: 'gpt-4o', messages: [{role: 'user', content: 'What is 2+2?'}]})
      expect(JSON.parse(chat.attributes.output)).to.equal('It is 4.')
      // Secrets are masked as in pf's own spans.
      expect(chat.attributes['openai.api_key']).to.equal('***')
      expect(shown.stdout).not.to.contain('sk-this-is-a-secret')
      expect(openInference.attributes).to.include({span_type: 'LLM', 'llm.usage.total_tokens': 10})
      expect(JSON.parse(openInference.attributes.inputs).messages).to.deep.equal([{role: 'user', content: 'Say hi'}])
      expect(wrapper.attributes.span_type).to.equal(undefined)
      expect(agent.attributes['__computed__.cumulative_token_count.total']).to.equal(25)
      // Times keep microseconds; the start is before the end.
      expect(agent.start_time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      expect(agent.start_time <= agent.end_time).to.equal(true)

      // The same tokens through the viewer's API.
      const viewer = await new Promise<any>((resolve, reject) =>
        http
          .get({host: '127.0.0.1', port, path: `/v1.0/api/traces/${traceId}`}, res => {
            let body = ''
            res.on('data', d => (body += d)).on('end', () => resolve(JSON.parse(body)))
          })
          .on('error', reject),
      )
      expect(JSON.stringify(viewer)).to.contain('"llm.usage.total_tokens":15')
    })
  }

  it('answers with an ExportTraceServiceResponse; partial success names the rejected spans', async () => {
    const good = jsonSpan('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'good')
    const badTrace = jsonSpan('0af7651916', 'b7ad6b7169203332', 'short trace id')
    const zeroSpan = jsonSpan('0af7651916cd43dd8448eb211c80319c', '0000000000000000', 'zero span id')
    const res = await post(port, jsonRequest([good, badTrace, zeroSpan]), {'content-type': 'application/json'})
    expect(res.status).to.equal(200)
    expect(res.headers['content-type']).to.equal('application/json')
    const body = JSON.parse(res.body.toString())
    expect(body.partialSuccess.rejectedSpans).to.equal('2')
    expect(body.partialSuccess.errorMessage)
      .to.match(/traceId/)
      .and.match(/spanId/)
    expect(spanCount(home)).to.equal(1)

    const clean = await post(port, jsonRequest([jsonSpan('1af7651916cd43dd8448eb211c80319c', 'c7ad6b7169203331', 'fine')]), {
      'content-type': 'application/json',
    })
    expect(JSON.parse(clean.body.toString())).to.deep.equal({})
    // Odd shapes inside a span (not lists, not objects) are read as absent, never a server error.
    const odd = {
      ...jsonSpan('5af7651916cd43dd8448eb211c80319c', 'a7ad6b7169203331', 'odd'),
      attributes: 'x',
      events: 5,
      links: [null],
      status: 'weird',
    }
    const oddRes = await post(port, jsonRequest([odd]), {'content-type': 'application/json'})
    expect(oddRes.status).to.equal(200)
    expect(spanCount(home)).to.equal(3)
    // protobuf: an empty ExportTraceServiceResponse is an empty body.
    const empty = await post(port, Buffer.alloc(0), {'content-type': 'application/x-protobuf'})
    expect(empty.status).to.equal(200)
    expect(empty.headers['content-type']).to.equal('application/x-protobuf')
    expect(empty.body.length).to.equal(0)
  })

  it('rejects malformed bodies (400), oversized ones (413), wrong types (415), other methods (405) and foreign Host headers (403), storing nothing', async () => {
    const json = {'content-type': 'application/json'}
    const proto = {'content-type': 'application/x-protobuf'}
    const cases: Array<[string, Promise<RawResponse>, number, RegExp]> = [
      ['invalid JSON', post(port, '{"resourceSpans": [', json), 400, /not JSON/],
      ['JSON that is not an object', post(port, '[1, 2]', json), 400, /not an OTLP\/JSON/],
      ['resourceSpans not a list', post(port, '{"resourceSpans": 5}', json), 400, /resourceSpans is not a list/],
      ['garbage protobuf', post(port, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), proto), 400, /not an OTLP protobuf/],
      ['bad gzip', post(port, Buffer.from('not gzip at all'), {...json, 'content-encoding': 'gzip'}), 400, /not valid gzip/],
      ['an unknown encoding', post(port, '{}', {...json, 'content-encoding': 'br'}), 415, /Content-Encoding "br"/],
      ['text/plain', post(port, 'hello', {'content-type': 'text/plain'}), 415, /application\/x-protobuf or application\/json/],
      ['GET', post(port, '', json, {method: 'GET'}), 405, /takes POST/],
    ]
    for (const [name, pending, status, message] of cases) {
      const res = await pending
      expect(res.status, name).to.equal(status)
      if (res.headers['content-type'] === 'application/json') expect(JSON.parse(res.body.toString()).message, name).to.match(message)
      else expect(res.body.toString('latin1'), name).to.match(message)
    }
    // google.rpc.Status in protobuf for a protobuf request: field 1 (code 3), field 2 (message).
    const protoError = await post(port, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), proto)
    expect(protoError.body[0]).to.equal(0x08)
    expect(protoError.body[1]).to.equal(3)

    // 413: a declared length over 32 MiB is refused before reading; so is a small gzip body that inflates past it.
    const big = await post(port, Buffer.alloc(33 * 2 ** 20, 0x20), json)
    expect(big.status).to.equal(413)
    expect(JSON.parse(big.body.toString()).message).to.match(/over the collector's limit of 32 MiB/)
    const bomb = zlib.gzipSync(Buffer.alloc(40 * 2 ** 20, 0x20))
    expect(bomb.length).to.be.lessThan(100_000)
    const inflated = await post(port, bomb, {...json, 'content-encoding': 'gzip'})
    expect(inflated.status).to.equal(413)
    expect(JSON.parse(inflated.body.toString()).message).to.match(/decompressed body is over/)

    const foreign = await post(port, jsonRequest([jsonSpan('2af7651916cd43dd8448eb211c80319c', 'd7ad6b7169203331', 'x')]), {
      ...json,
      host: 'evil.example:80',
    })
    expect(foreign.status).to.equal(403)
    // A web page on another site posting to the loopback address (its browser sends an Origin).
    const fromPage = await post(port, jsonRequest([jsonSpan('2af7651916cd43dd8448eb211c80319c', 'd7ad6b7169203331', 'x')]), {
      ...json,
      origin: 'https://evil.example',
    })
    expect(fromPage.status).to.equal(403)
    expect(JSON.parse(fromPage.body.toString()).message).to.match(/Origin/)

    // Nothing was stored, and the service still works.
    const list = await runPf(['trace', 'list', '--json'], {home})
    expect(list.json()).to.deep.equal([])
    const ok = await post(port, jsonRequest([jsonSpan('3af7651916cd43dd8448eb211c80319c', 'e7ad6b7169203331', 'after')]), json)
    expect(ok.status).to.equal(200)
    expect(spanCount(home)).to.equal(1)
  })

  it('refuses with 404 while trace.destination is none, and takes spans again once tracing is back on', async () => {
    expect((await runPf(['config', 'set', 'trace.destination=none'], {home})).code).to.equal(0)
    await new Promise(r => setTimeout(r, 1100))
    const body = jsonRequest([jsonSpan('4af7651916cd43dd8448eb211c80319c', 'f7ad6b7169203331', 'off')])
    const off = await post(port, body, {'content-type': 'application/json'})
    expect(off.status).to.equal(404)
    expect(JSON.parse(off.body.toString()).message).to.match(/^Tracing is off \(trace.destination is "none"\)/)
    expect((await runPf(['trace', 'list', '--json'], {home})).json()).to.deep.equal([])

    expect((await runPf(['config', 'set', 'trace.destination=local'], {home})).code).to.equal(0)
    await new Promise(r => setTimeout(r, 1100))
    const on = await post(port, body, {'content-type': 'application/json'})
    expect(on.status).to.equal(200)
    expect((await runPf(['trace', 'list', '--json'], {home})).json()).to.have.length(1)
  })
})

/** Polls `check` until it returns something truthy, or fails after `ms`. */
const eventually = async <T>(check: () => Promise<T | undefined> | T | undefined, ms = 20_000, what = 'condition'): Promise<T> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 200))
  }
}

describe('pf service collector forwards to remote destinations (OTLP plugin, Azure ML workspace)', function () {
  this.timeout(120_000)
  let home: string

  beforeEach(() => {
    home = tempDir('pf-home-collector-fwd-')
  })
  afterEach(async () => {
    await runPf(['service', 'stop'], {home})
  })

  for (const secure of [false, true]) {
    it(`sends collected spans on to the configured OTLP destination (${secure ? 'https with a generated certificate, gzip' : 'plain http'})`, async () => {
      const {OtlpReceiver} = await import('../../plugins/pf-trace-otlp/test/receiver.js')
      const {testTls} = await import('../helpers/cosmos.js')
      const tls = testTls()
      const receiver = await OtlpReceiver.start(0, secure ? tls : undefined)
      try {
        const link = await runPf(['plugins', 'link', path.join(repoRoot, 'plugins', 'pf-trace-otlp'), '--no-install'], {home})
        expect(link.code, link.stderr).to.equal(0)
        const value = `${secure ? 'otlp+https' : 'otlp'}://${receiver.url}`
        expect((await runPf(['config', 'set', `trace.destination=${value}`], {home})).code).to.equal(0)
        const port = await startService(home, {NODE_EXTRA_CA_CERTS: tls.certFile})

        const sent = await runScript([exportScript, 'protobuf'], {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
          OTEL_SERVICE_NAME: 'fwd-app',
        })
        expect(sent.code, sent.stderr).to.equal(0)
        const {traceId} = JSON.parse(sent.stdout)
        const spans = await eventually(
          () => (receiver.spans.length >= 4 ? receiver.spans : undefined),
          20_000,
          'the OTLP receiver to get 4 spans',
        )
        expect(spans.map(s => s.name).sort()).to.deep.equal(['agent', 'chat gpt-4o', 'invoke_agent helper', 'llm'])
        expect(new Set(spans.map(s => s.traceId))).to.deep.equal(new Set([traceId]))
        const chat = spans.find(s => s.name === 'chat gpt-4o')!
        // Forwarded as pf stored it: masked, with prompt flow's LLM names beside the GenAI ones.
        expect(chat.attributes).to.include({
          'gen_ai.request.model': 'gpt-4o',
          span_type: 'LLM',
          'llm.usage.total_tokens': 15,
          'openai.api_key': '***',
        })
        expect(chat.resource).to.include({'service.name': 'fwd-app', collection: 'fwd-app'})
        const accepted = receiver.requests.filter(r => r.accepted)
        if (secure) expect(accepted.every(r => r.headers['content-encoding'] === 'gzip')).to.equal(true)
        // The outbox records the delivery (right after the receiver answers, so it may lag the receiver a moment).
        const states = () => outboxStates(home)
        await eventually(
          () => (JSON.stringify(states()) === JSON.stringify({delivered: 4}) ? true : undefined),
          10_000,
          'the outbox to record 4 deliveries',
        ).catch(() => undefined)
        expect(states()).to.deep.equal({delivered: 4})
      } finally {
        await receiver.close()
      }
    })
  }

  it('sends spans whose resource names a workspace to that workspace (fake control plane, real cosmosdb-server), tokens in the line summary', async () => {
    const {CosmosAccount} = await import('../helpers/cosmos.js')
    const {FakeAzure, azureEnv, fakeAzCli, resourceGroup, subscription, user} = await import('../helpers/fake-azure.js')
    const {Azurite} = await import('../helpers/azurite.js')
    const cosmos = await new CosmosAccount().start()
    const azure = await new FakeAzure().start()
    const azurite = await new Azurite().start()
    try {
      azure.cosmosEndpoint = cosmos.endpoint
      // The workspace's trace store (Cosmos) and its default blob datastore (span data) on Azurite.
      azure.workspaces.set('ws-otel', {
        traceCosmosStatus: 'Initialized',
        databaseName: 'db-ws-otel',
        datastores: [azurite.datastore({containerName: 'c-ws-otel'})],
      })
      await cosmos.createTraceStore('db-ws-otel')
      await azurite.createContainer('c-ws-otel')
      const port = await startService(home, azureEnv(azure, azurite.blobEndpoint, fakeAzCli()))

      const sent = await runScript([exportScript, 'json'], {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
        OTEL_RESOURCE_ATTRIBUTES: `collection=otel-app,subscription.id=${subscription},resource_group.name=${resourceGroup},workspace.name=ws-otel`,
      })
      expect(sent.code, sent.stderr).to.equal(0)
      const {traceId} = JSON.parse(sent.stdout)
      const collectionId = `otel-app_${user.oid}`
      const items = await eventually(
        async () => {
          const found = await cosmos.items('db-ws-otel', 'Span')
          return found.length >= 4 ? found : undefined
        },
        30_000,
        'the workspace to get 4 spans',
      )
      expect(items.map(i => i.name).sort()).to.deep.equal(['agent', 'chat gpt-4o', 'invoke_agent helper', 'llm'])
      // The cloud copies carry prompt flow's 0x ids.
      expect(items.every(i => i.collection_id === collectionId && i.context.trace_id === `0x${traceId}`)).to.equal(true)
      const summaries = await eventually(
        async () => {
          const found = await cosmos.items('db-ws-otel', 'LineSummary')
          return found.some(s => s.status === 'Ok') ? found : undefined
        },
        30_000,
        'the line summary',
      )
      const summary = summaries.find(s => s.trace_id === `0x${traceId}`)
      expect(summary).to.include({name: 'agent', collection_id: collectionId, session_id: 'otel-app'})
      expect(summary.cumulative_token_count).to.deep.equal({completion: 8, prompt: 17, total: 25})
      // Locally too.
      const list = (await runPf(['trace', 'list', '--json'], {home})).json()
      expect(list.map((t: any) => t.traceId)).to.deep.equal([traceId])
    } finally {
      await azure.stop()
      await cosmos.stop()
      await azurite.stop()
    }
  })
})
