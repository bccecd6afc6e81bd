/**
 * pf-trace-otlp through the built pf CLI: linked into a temporary pf home, exporting to a real OTLP/HTTP receiver
 * on 127.0.0.1 that decodes what it gets.
 */
import {expect} from 'chai'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'

import {repoRoot, runPf, tempDir} from '../../../test/helpers/cli.js'
import {OtlpReceiver, type ReceivedSpan} from './receiver.js'

const pluginDir = path.join(repoRoot, 'plugins', 'pf-trace-otlp')
const fileDestinationPlugin = path.join(repoRoot, 'test', 'fixtures', 'plugins', 'pf-file-destination')
const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')

interface StoredSpan {
  span_id: string
  trace_id: string
  data: string
}

/** The spans pf recorded locally (the local store is always on unless trace.destination is none). */
const localSpans = (home: string) => {
  const db = new Database(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return (db.prepare('SELECT trace_id, span_id, data FROM spans').all() as StoredSpan[]).map(r => JSON.parse(r.data))
  } finally {
    db.close()
  }
}

/** Outbox items per destination and state: pending and parked are rows; delivered is the destination's count (pf's store deletes a delivered row). */
const outboxStates = (home: string): Array<{destination: string; state: string; n: number}> => {
  const db = new Database(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return db
      .prepare(
        `SELECT destination, state, n FROM (
           SELECT destination, state, COUNT(*) AS n FROM outbox GROUP BY destination, state
           UNION ALL SELECT destination, 'delivered', spans FROM outbox_delivered
         ) ORDER BY destination, state`,
      )
      .all() as any
  } finally {
    db.close()
  }
}

/** Every local span arrived exactly once, with the same attributes, name and parent. */
const expectSameSpans = (home: string, received: ReceivedSpan[]) => {
  const local = localSpans(home)
  expect(local.length).to.be.greaterThan(1)
  expect(received.map(s => s.spanId).sort()).to.deep.equal(local.map(s => s.context.span_id).sort())
  for (const span of local) {
    const got = received.find(r => r.spanId === span.context.span_id)!
    expect(got.traceId).to.equal(span.context.trace_id)
    expect(got.name).to.equal(span.name)
    expect(got.parentSpanId).to.equal(span.parent_id ?? '')
    expect(got.attributes).to.deep.equal(span.attributes)
    expect(got.resource).to.deep.equal(span.resource.attributes)
  }
}

describe('pf-trace-otlp with the pf CLI', function () {
  this.timeout(120_000)
  let home: string
  let receiver: OtlpReceiver | undefined
  const pf = (args: string[], env: NodeJS.ProcessEnv = {}) => runPf(args, {home, env})

  beforeEach(async () => {
    home = tempDir('pf-home-')
    const link = await pf(['plugins', 'link', pluginDir, '--no-install'])
    expect(link.code, link.stderr).to.equal(0)
  })
  afterEach(async () => {
    await receiver?.close()
    receiver = undefined
  })

  it('validates through the plugin once linked, exports every span once, and is an unknown destination after uninstall', async () => {
    receiver = await OtlpReceiver.start()
    const value = `otlp://${receiver.url}`
    const set = await pf(['config', 'set', `trace.destination=${value}`])
    expect(set.code, set.stderr).to.equal(0)
    const bad = await pf(['config', 'set', 'trace.destination=otlp://user:pw@127.0.0.1:1', '--json'])
    expect(bad.code).to.equal(2)
    expect(bad.json().error).to.deep.include({code: 'invalid_value'})
    expect(bad.json().error.message).to.match(/plugin pf-trace-otlp.*credentials/)
    expect(bad.json().error.message).not.to.contain('pw')

    const run = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(run.code, run.stderr).to.equal(0)
    const result = run.json()
    const local = localSpans(home)
    expect(result.export).to.deep.equal([{destination: value, delivered: local.length, parked: 0, pending: 0}])
    expect(receiver.requests.every(r => r.contentType === 'application/x-protobuf' && r.path === '/v1/traces')).to.equal(true)
    expectSameSpans(home, receiver.spans)
    expect(receiver.spans.find(s => s.parentSpanId === '')!.traceId).to.equal(result.traceId)

    const uninstall = await pf(['plugins', 'uninstall', 'pf-trace-otlp'])
    expect(uninstall.code, uninstall.stderr).to.equal(0)
    const again = await pf(['config', 'set', `trace.destination=${value}`, '--json'])
    expect(again.code).to.equal(2)
    expect(again.json().error.code).to.equal('unknown_destination')
  })

  it('keeps spans while the receiver is down and delivers them with `pf trace sync` once it is up', async () => {
    receiver = await OtlpReceiver.start()
    const port = receiver.port
    await receiver.close()
    expect((await pf(['config', 'set', `trace.destination=otlp+json://127.0.0.1:${port}`])).code).to.equal(0)

    const run = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
    expect(run.code, run.stderr).to.equal(0)
    const [report] = run.json().export
    const total = localSpans(home).length
    expect(report).to.deep.include({delivered: 0, parked: 0, pending: total})
    expect(report.lastError).to.match(/cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/traces/)
    const human = await pf(['trace', 'sync', '--timeout', '1'])
    expect(human.code).to.equal(3) // delivery still pending
    expect(human.stdout).to.contain(`${total} pending`)

    await receiver.listen()
    const sync = await pf(['trace', 'sync', '--json'])
    expect(sync.code, sync.stdout + sync.stderr).to.equal(0)
    expect(sync.json().destinations).to.deep.equal([
      {destination: `otlp+json://127.0.0.1:${port}`, delivered: total, parked: 0, pending: 0, configured: true},
    ])
    expect(receiver.requests.every(r => r.contentType === 'application/json')).to.equal(true)
    expectSameSpans(home, receiver.spans)
    expect((await pf(['trace', 'sync'])).stdout).to.contain('Nothing pending.')
  })

  it('sends headers from trace.otlp.headers, reading ${env:VAR} at export time and storing no secret', async () => {
    receiver = await OtlpReceiver.start()
    const set = await pf([
      'config',
      'set',
      `trace.destination=otlp://${receiver.url}`,
      'trace.otlp.headers=authorization=Bearer ${env:OTLP_TOKEN},x-team=ml',
    ])
    expect(set.code, set.stderr).to.equal(0)
    const badKey = await pf(['config', 'set', 'trace.otlp.headers=not a header', '--json'])
    expect(badKey.code).to.equal(2)
    expect(badKey.json().error.code).to.equal('invalid_value')
    const typo = await pf(['config', 'set', 'trace.otlp.header=x=1', '--json'])
    expect(typo.json().error.message).to.contain('Did you mean "trace.otlp.headers"?')
    expect(typo.json().error.message.match(/trace\.otlp\.headers/g)).to.have.length(2) // the suggestion and the list, once

    const run = await pf(['flow', 'test', '--flow', flow, '--json'], {OTLP_TOKEN: 'sekrit-token-123'})
    expect(run.code, run.stderr).to.equal(0)
    expect(receiver.requests.length).to.be.greaterThan(0)
    for (const request of receiver.requests) expect(request.headers).to.include({authorization: 'Bearer sekrit-token-123', 'x-team': 'ml'})
    expect(readFileSync(path.join(home, 'pf.yaml'), 'utf8'))
      .to.contain('${env:OTLP_TOKEN}')
      .and.not.contain('sekrit')
    for (const file of ['pf.sqlite', 'pf.sqlite-wal'].map(f => path.join(home, f)).filter(existsSync))
      expect(readFileSync(file).includes('sekrit-token-123'), file).to.equal(false)

    // Without the variable nothing is sent and nothing is lost; the error names the variable only.
    const before = receiver.requests.length
    const unset = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
    expect(unset.code, unset.stderr).to.equal(0)
    expect(unset.json().export[0]).to.deep.include({
      delivered: 0,
      lastError: 'trace.otlp.headers: environment variable OTLP_TOKEN (header authorization) is not set',
    })
    expect(receiver.requests.length).to.equal(before)
    const sync = await pf(['trace', 'sync', '--json'], {OTLP_TOKEN: 'sekrit-token-123'})
    expect(sync.code, sync.stdout).to.equal(0)
    expect(sync.json().destinations[0].pending).to.equal(0)
  })

  it('parks spans a receiver refuses with 400 and says so', async () => {
    receiver = await OtlpReceiver.start()
    receiver.reply = {status: 400, headers: {'content-type': 'application/json'}, body: '{"code":3,"message":"invalid trace payload"}'}
    expect((await pf(['config', 'set', `trace.destination=otlp://${receiver.url}`])).code).to.equal(0)
    const run = await pf(['flow', 'test', '--flow', flow, '--json'])
    expect(run.code, run.stderr).to.equal(0)
    const total = localSpans(home).length
    expect(run.json().export[0]).to.deep.include({
      delivered: 0,
      parked: total,
      pending: 0,
      lastError: `http://${receiver.url}/v1/traces answered HTTP 400: invalid trace payload`,
    })
    const human = await pf(['flow', 'test', '--flow', flow])
    expect(human.stderr).to.match(/Warning: \d+ span\(s\) rejected by otlp:\/\/127\.0\.0\.1:\d+.*HTTP 400: invalid trace payload/)
    const parked = outboxStates(home).filter(s => s.state === 'parked')
    expect(parked.reduce((n, s) => n + s.n, 0)).to.equal(localSpans(home).length)
    expect((await pf(['trace', 'sync'])).stdout).to.contain('Nothing pending.')
  })

  it('keeps one outbox and status per destination: OTLP and the file plugin together, one down and one up', async () => {
    expect((await pf(['plugins', 'link', fileDestinationPlugin, '--no-install'])).code).to.equal(0)
    receiver = await OtlpReceiver.start()
    const file = path.join(tempDir(), 'spans.jsonl')
    const otlp = `otlp://${receiver.url}`
    const filetest = `filetest://${file}`
    expect((await pf(['config', 'set', `trace.destination=${otlp}, ${filetest}`])).code).to.equal(0)

    // The file destination is down, OTLP is up.
    writeFileSync(file + '.down', '')
    const first = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
    expect(first.code, first.stderr).to.equal(0)
    const n = localSpans(home).length
    const byDestination = (reports: any[]) => Object.fromEntries(reports.map(r => [r.destination, r]))
    expect(byDestination(first.json().export)[otlp]).to.deep.include({delivered: n, pending: 0})
    expect(byDestination(first.json().export)[filetest]).to.deep.include({delivered: 0, pending: n, lastError: 'destination down (test)'})

    // Now OTLP is down and the file destination is up: the second line's spans wait for OTLP only.
    rmSync(file + '.down')
    await receiver.close()
    const second = await pf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'])
    const m = localSpans(home).length - n
    expect(byDestination(second.json().export)[otlp]).to.deep.include({delivered: 0, pending: m})
    // The file destination's report counts what this command sent: the new line, and the backlog it drained.
    expect(byDestination(second.json().export)[filetest]).to.deep.include({delivered: n + m, pending: 0})
    expect(outboxStates(home)).to.deep.equal([
      {destination: `filetest:${file}`, state: 'delivered', n: n + m},
      {destination: `otlp:http://${receiver.url}/v1/traces`, state: 'delivered', n},
      {destination: `otlp:http://${receiver.url}/v1/traces`, state: 'pending', n: m},
    ])

    await receiver.listen()
    const sync = await pf(['trace', 'sync', '--json'])
    expect(sync.code, sync.stdout).to.equal(0)
    expect(sync.json().destinations).to.deep.equal([{destination: otlp, delivered: m, parked: 0, pending: 0, configured: true}])
    expectSameSpans(home, receiver.spans)
    const written = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l).context.span_id)
    expect(written.sort()).to.deep.equal(
      localSpans(home)
        .map(s => s.context.span_id)
        .sort(),
    )
  })
})
