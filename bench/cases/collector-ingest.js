import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {median, pfBin, repoRoot, tempDir} from '../lib.js'

const batchSize = 512
let batches = 196 // 100,352 spans a round (8 in quick mode)
const target = 30_000

/** One batch of a line's spans as pf span records (a Flow root, Function and LLM children with inputs/output). */
const makeRecords = serial => {
  const traceId = randomBytes(16).toString('hex')
  const rootId = randomBytes(8).toString('hex')
  const time = new Date(Date.UTC(2026, 0, 1) + serial).toISOString().slice(0, 23)
  return Array.from({length: batchSize}, (_, i) => {
    const inputs = JSON.stringify({
      question: `What is prompt flow? (${serial + i})`,
      context: 'Prompt flow is a suite of development tools.',
    })
    const output = JSON.stringify({answer: 'It is a suite of development tools for LLM apps.', score: 0.87})
    const llm = i % 4 === 1
    return {
      name: i === 0 ? 'agent' : llm ? 'chat gpt-4o' : 'retrieve',
      context: {trace_id: traceId, span_id: i === 0 ? rootId : randomBytes(8).toString('hex'), trace_state: ''},
      kind: 'SpanKind.INTERNAL',
      parent_id: i === 0 ? null : rootId,
      start_time: time + '001Z',
      end_time: time + '902Z',
      status: {status_code: 'Ok'},
      attributes: llm
        ? {
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': 'gpt-4o',
            'gen_ai.usage.input_tokens': 12,
            'gen_ai.usage.output_tokens': 7,
            inputs,
            output,
          }
        : {'app.function': 'retrieve', inputs, output},
      events: [{name: 'retrieved', timestamp: time + '500Z', attributes: {count: 3}}],
      links: [],
      resource: {attributes: {'service.name': 'bench-app', collection: 'bench'}, schema_url: ''},
    }
  })
}

/** Protobuf ExportTraceServiceRequests as an OpenTelemetry SDK sends them (OpenTelemetry's own serializer). */
const encodeBodies = async () => {
  const [{ProtobufTraceSerializer}, {resourceFromAttributes}, {toReadableSpans}] = await Promise.all([
    import('@opentelemetry/otlp-transformer'),
    import('@opentelemetry/resources'),
    import(path.join(repoRoot, 'plugins', 'pf-trace-otlp', 'dist', 'readable-span.js')),
  ])
  return Array.from({length: batches}, (_, b) =>
    Buffer.from(ProtobufTraceSerializer.serializeRequest(toReadableSpans(makeRecords(b * batchSize), resourceFromAttributes))),
  )
}

/** In-process: the same batches, decoded, written with TraceStore.recordSpans (decoding not timed). */
const ingestInProcess = async bodies => {
  const [{TraceStore}, {decodeProtobuf}] = await Promise.all([
    import(path.join(repoRoot, 'dist', 'store', 'store.js')),
    import(path.join(repoRoot, 'dist', 'service', 'otlp.js')),
  ])
  const records = bodies.map(body => decodeProtobuf(body).spans)
  const store = TraceStore.open(tempDir('pf-bench-collector-base-'))
  const start = process.hrtime.bigint()
  for (const batch of records) store.recordSpans(batch)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  store.close()
  return (batches * batchSize) / (ms / 1000)
}

const waitForService = async home => {
  const file = path.join(home, 'service.json')
  for (let i = 0; i < 150; i++) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).port
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error('pf service run did not start')
}

/** Over HTTP: `pf service run` (a real service process) takes the batches one after another, as an SDK exports them. */
const ingestOverHttp = async bodies => {
  const home = tempDir('pf-bench-collector-')
  const child = spawn(process.execPath, [pfBin, 'service', 'run', '--port', '0'], {
    env: {...process.env, PF_HOME_DIRECTORY: home},
    stdio: 'ignore',
  })
  try {
    const port = await waitForService(home)
    const agent = new http.Agent({keepAlive: true, maxSockets: 1})
    const send = body =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/traces',
            method: 'POST',
            agent,
            headers: {'content-type': 'application/x-protobuf', 'content-length': body.length},
          },
          res => {
            res.resume()
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`collector answered ${res.statusCode}`))))
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    // Warm-up: the first request loads the decoder and opens the store.
    await send(bodies[0])
    const start = process.hrtime.bigint()
    for (const body of bodies) await send(body)
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    agent.destroy()
    return (batches * batchSize) / (ms / 1000)
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
  }
}

const fmt = n => Math.round(n).toLocaleString('en-US')

/**
 * Collector ingest: protobuf ExportTraceServiceRequests of 512 spans POSTed one after another to a real
 * `pf service` process (decode, GenAI mapping, masking, token roll-up, store) against the same spans written
 * in-process with TraceStore.recordSpans; and the HTTP rate against 30,000 spans/s.
 */
export default async function collectorIngest({pairs, quick}) {
  if (quick) batches = 8
  const bodies = await encodeBodies()
  const rounds = Math.max(1, Math.min(3, pairs))
  const base = []
  const http = []
  for (let i = 0; i < rounds; i++) {
    base.push(await ingestInProcess(bodies))
    http.push(await ingestOverHttp(bodies))
  }
  const baseRate = median(base)
  const httpRate = median(http)
  return [
    {
      name: `Collector ingest: protobuf batches of ${batchSize} spans over HTTP to \`pf service\` vs TraceStore.recordSpans in-process (${fmt(batches * batchSize)} spans)`,
      baseline: `in-process: ${fmt(baseRate)} spans/s`,
      measured: `collector: ${fmt(httpRate)} spans/s`,
      ratio: httpRate / baseRate,
      target: '≥ 0.5×',
      met: httpRate / baseRate >= 0.5,
    },
    {
      name: 'Collector ingest rate (protobuf over HTTP, one batch at a time) vs the target rate',
      baseline: `target: ${fmt(target)} spans/s`,
      measured: `${fmt(httpRate)} spans/s`,
      ratio: httpRate / target,
      target: '≥ 1×',
      met: httpRate >= target,
    },
  ]
}
