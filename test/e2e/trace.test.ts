import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {TraceStore} from '../../src/store/store.js'
import type {SpanRecord} from '../../src/contract/destination.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readStore} from '../helpers/store.js'
import {hexId, makeSpan} from '../helpers/spans.js'

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'flows', name)

const counts = (home: string) =>
  readStore(home, db => ({
    spans: (db.prepare('SELECT COUNT(*) AS n FROM spans').get() as {n: number}).n,
    lineRuns: (db.prepare('SELECT COUNT(*) AS n FROM line_runs').get() as {n: number}).n,
    outbox: (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as {n: number}).n,
  }))

/** A batch-run line seeded straight into the store: root (Flow) → llm (LLM with usage), with outbox rows. */
const seedRunLine = (home: string, run: string, line: number, start: string, outboxTo: string[] = []): string => {
  const traceId = hexId(16)
  const rootId = hexId(8)
  const store = TraceStore.open(home)
  try {
    store.recordSpans(
      [
        makeSpan({
          traceId,
          parentId: rootId,
          name: 'chat',
          spanType: 'LLM',
          collection: 'batch',
          run,
          start,
          end: start.replace(/\.\d{6}Z$/, '.250001Z'),
          attributes: {'llm.usage.prompt_tokens': 7, 'llm.usage.completion_tokens': 5, 'llm.usage.total_tokens': 12, line_number: line},
        }),
        makeSpan({
          traceId,
          spanId: rootId,
          name: 'flow',
          spanType: 'Flow',
          collection: 'batch',
          run,
          start,
          end: start.replace(/\.\d{6}Z$/, '.900001Z'),
          attributes: {
            line_number: line,
            '__computed__.cumulative_token_count.prompt': 7,
            '__computed__.cumulative_token_count.completion': 5,
            '__computed__.cumulative_token_count.total': 12,
          },
        }),
      ],
      outboxTo,
    )
  } finally {
    store.close()
  }
  return traceId
}

describe('pf trace list/show/delete/export (built CLI)', () => {
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })

  it('with no store: lists nothing and creates no store', async () => {
    const list = await runPf(['trace', 'list'], {home})
    expect(list.code, list.stderr).to.equal(0)
    expect(list.stdout).to.equal('No traces.\n')
    expect((await runPf(['trace', 'list', '--json'], {home})).json()).to.deep.equal([])
    expect((await runPf(['trace', 'list', '--pending', '--json'], {home})).json()).to.deep.equal([])
    expect(existsSync(path.join(home, 'pf.sqlite'))).to.equal(false)
  })

  it('lists line runs newest first, filtered by collection or run, limited, as a table or JSON', async () => {
    const first = (await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'], {home})).json()
    const failed = (await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=fail', '--json'], {home})).json()
      .error
    const js = (await runPf(['flow', 'test', '--flow', fixture('flex-js'), '--json'], {home})).json()
    const runLines = [
      seedRunLine(home, 'run_a', 0, '2026-01-01T00:00:00.000001Z'),
      seedRunLine(home, 'run_a', 1, '2026-01-01T00:00:01.000001Z'),
    ]
    seedRunLine(home, 'run_b', 0, '2026-01-01T00:00:02.000001Z')

    const all = (await runPf(['trace', 'list', '--json'], {home})).json()
    expect(all.map((r: any) => r.traceId).slice(0, 3)).to.deep.equal([js.traceId, failed.traceId, first.traceId])
    expect(all).to.have.length(6)
    expect(all[0]).to.include({name: 'summarize', collection: 'flex-js', run: null, status: 'Ok', lineRunId: js.lineRunId, tokens: null})
    expect(all[0].latency).to.be.a('number').and.be.greaterThan(0).and.lessThan(10)
    expect(all[1]).to.include({status: 'Error'})

    const byCollection = (await runPf(['trace', 'list', '--collection', 'flex-basic', '--json'], {home})).json()
    expect(byCollection.map((r: any) => r.traceId)).to.deep.equal([failed.traceId, first.traceId])
    const byRun = (await runPf(['trace', 'list', '--run', 'run_a', '--json'], {home})).json()
    expect(byRun.map((r: any) => r.traceId)).to.deep.equal([...runLines].reverse())
    expect(byRun[0]).to.include({collection: 'batch', run: 'run_a', lineNumber: 1, name: 'flow'})
    expect(byRun[0].tokens).to.deep.equal({prompt: 7, completion: 5, total: 12})
    expect(byRun[0].latency).to.be.closeTo(0.9, 1e-6)
    const limited = (await runPf(['trace', 'list', '--limit', '2', '--json'], {home})).json()
    expect(limited.map((r: any) => r.traceId)).to.deep.equal([js.traceId, failed.traceId])

    const table = (await runPf(['trace', 'list', '--run', 'run_a'], {home})).stdout.trimEnd().split('\n')
    expect(table[0].split(/\s{2,}/)).to.deep.equal(['TRACE ID', 'NAME', 'COLLECTION', 'RUN', 'STATUS', 'START (UTC)', 'LATENCY', 'TOKENS'])
    expect(table[1].split(/\s{2,}/)).to.deep.equal([runLines[1], 'flow', 'batch', 'run_a#1', 'Ok', '2026-01-01 00:00:01', '0.900s', '12'])
    expect(table).to.have.length(3)

    const bad = await runPf(['trace', 'list', '--limit', '0', '--json'], {home})
    expect(bad.code).to.equal(2)
    expect(bad.json().error.code).to.equal('invalid_arguments')
  })

  it('shows a trace as an indented span tree with durations, status and tokens; --json gives spans and tree; an unknown id exits 2', async () => {
    const flow = (await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'], {home})).json()
    const human = await runPf(['trace', 'show', flow.traceId], {home})
    expect(human.code, human.stderr).to.equal(0)
    const lines = human.stdout.trimEnd().split('\n')
    expect(lines[0]).to.equal(`Trace ${flow.traceId} (3 spans)`)
    expect(lines[1]).to.match(/^answer {2}Flow {2}\d+\.\d ms {2}Ok$/)
    expect(lines.slice(2).sort()).to.satisfy(
      (l: string[]) => /^ {2}lookup {2}Function {2}\d+\.\d ms {2}Ok$/.test(l[0]) && /^ {2}shout {2}Function/.test(l[1]),
    )

    const json = (await runPf(['trace', 'show', flow.traceId, '--json'], {home})).json()
    expect(json.traceId).to.equal(flow.traceId)
    expect(json.spans).to.have.length(3)
    expect(json.spans[0].context.trace_id).to.equal(flow.traceId)
    expect(json.tree).to.have.length(1)
    expect(json.tree[0]).to.include({name: 'answer', spanType: 'Flow', status: 'Ok'})
    expect(json.tree[0].children.map((c: any) => c.name)).to.deep.equal(['lookup', 'shout'])
    expect(json.tree[0].duration).to.be.greaterThan(0)
    // The id as the workspace's items show it (0x…, upper case too) finds the same trace, shown in pf's form.
    const cloudForm = (await runPf(['trace', 'show', `0x${flow.traceId.toUpperCase()}`, '--json'], {home})).json()
    expect(cloudForm.traceId).to.equal(flow.traceId)
    expect(cloudForm.spans).to.have.length(3)

    const run = seedRunLine(home, 'run_a', 0, '2026-01-01T00:00:00.000001Z')
    const tokens = await runPf(['trace', 'show', run], {home})
    expect(tokens.stdout, tokens.stdout).to.contain(
      'flow  Flow  900.0 ms  Ok  cumulative tokens 12 (prompt 7, completion 5)\n  chat  LLM  250.0 ms  Ok  tokens 12 (prompt 7, completion 5)',
    )
    const tree = (await runPf(['trace', 'show', run, '--json'], {home})).json().tree
    expect(tree[0].cumulative).to.deep.equal({prompt: 7, completion: 5, total: 12})
    expect(tree[0].children[0].usage).to.deep.equal({prompt: 7, completion: 5, total: 12})

    const unknown = await runPf(['trace', 'show', 'f'.repeat(32), '--json'], {home})
    expect(unknown.code).to.equal(2)
    expect(unknown.json().error.code).to.equal('trace_not_found')
    const missingArg = await runPf(['trace', 'show'], {home})
    expect(missingArg.code).to.equal(2)
  })

  it('delete: refuses without --yes when not on a terminal, needs exactly one valid selector, deletes spans, line runs and outbox rows', async () => {
    const a = seedRunLine(home, 'run_a', 0, '2025-06-01T00:00:00.000001Z', ['filetest:/x'])
    seedRunLine(home, 'run_a', 1, '2025-06-01T00:00:01.000001Z', ['filetest:/x'])
    const b = seedRunLine(home, 'run_b', 0, '2026-03-01T00:00:00.000001Z', ['filetest:/x'])
    await runPf(['flow', 'test', '--flow', fixture('flex-basic')], {home})
    expect(counts(home)).to.deep.equal({spans: 9, lineRuns: 4, outbox: 6})

    const noYes = await runPf(['trace', 'delete', '--run', 'run_a', '--json'], {home})
    expect(noYes.code).to.equal(2)
    expect(noYes.json().error.code).to.equal('confirmation_required')
    for (const args of [[], ['--run', 'run_a', '--collection', 'batch'], ['--before', '2026-13-01'], ['--before', 'yesterday']]) {
      const bad = await runPf(['trace', 'delete', ...args, '--yes', '--json'], {home})
      expect(bad.code, args.join(' ')).to.equal(2)
      expect(bad.json().error.code).to.equal('invalid_arguments')
    }
    expect(counts(home)).to.deep.equal({spans: 9, lineRuns: 4, outbox: 6})

    const byRun = await runPf(['trace', 'delete', '--run', 'run_a', '--yes', '--json'], {home})
    expect(byRun.code, byRun.stderr).to.equal(0)
    expect(byRun.json()).to.deep.equal({selector: {run: 'run_a'}, traces: 2, spans: 4, lineRuns: 2, outbox: 4, deleted: true})
    expect(counts(home)).to.deep.equal({spans: 5, lineRuns: 2, outbox: 2})
    expect(readStore(home, db => db.prepare('SELECT COUNT(*) AS n FROM spans WHERE trace_id = ?').get(a))).to.deep.equal({n: 0})

    const before = await runPf(['trace', 'delete', '--before', '2026-04-01', '--yes'], {home})
    expect(before.stdout).to.equal('Deleted 1 trace(s): 2 span(s), 1 line run(s), 2 outbox row(s).\n')
    expect(readStore(home, db => db.prepare('SELECT COUNT(*) AS n FROM spans WHERE trace_id = ?').get(b))).to.deep.equal({n: 0})

    const none = await runPf(['trace', 'delete', '--collection', 'nothing-here', '--yes'], {home})
    expect(none.stdout).to.equal('No traces match; nothing deleted.\n')
    const byCollection = await runPf(['trace', 'delete', '--collection', 'flex-basic', '--yes', '--json'], {home})
    expect(byCollection.json()).to.include({traces: 1, spans: 3, lineRuns: 1, outbox: 0, deleted: true})
    expect(counts(home)).to.deep.equal({spans: 0, lineRuns: 0, outbox: 0})
    expect(readStore(home, db => db.pragma('integrity_check', {simple: true}))).to.equal('ok')
  })

  it('delete asks on a terminal: "n" keeps everything, "y" deletes', async () => {
    seedRunLine(home, 'run_a', 0, '2025-06-01T00:00:00.000001Z')
    // `script` gives pf a real pseudo-terminal; the answer is typed into it.
    const onTty = (answer: string) =>
      new Promise<string>((resolve, reject) => {
        const command = [process.execPath, pfBin, 'trace', 'delete', '--run', 'run_a'].map(a => `'${a}'`).join(' ')
        const child = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, PF_HOME_DIRECTORY: home}})
        let out = ''
        let answered = false
        child.stdin.on('error', () => {})
        child.stdout.on('data', d => {
          out += d
          if (!answered && out.includes('[y/N]')) {
            answered = true
            child.stdin.write(answer + '\n')
          }
        })
        child.on('error', reject)
        child.on('close', () => resolve(out))
      })
    const no = await onTty('n')
    expect(no).to.contain('Delete 1 trace(s) (2 span(s))? [y/N]')
    expect(no).to.contain('Nothing deleted.')
    expect(counts(home).spans).to.equal(2)
    const yes = await onTty('y')
    expect(yes).to.contain('Deleted 1 trace(s): 2 span(s), 1 line run(s), 0 outbox row(s).')
    expect(counts(home).spans).to.equal(0)
  })

  it('exports JSON lines (one stored span each) to stdout or a 0600 file, filtered by collection or run', async () => {
    const flow = (await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'], {home})).json()
    const run = seedRunLine(home, 'run_a', 0, '2026-01-01T00:00:00.000001Z')
    const stored = readStore(home, db => (db.prepare('SELECT data FROM spans').all() as Array<{data: string}>).map(r => JSON.parse(r.data)))

    const all = await runPf(['trace', 'export', '--format', 'jsonl'], {home})
    expect(all.code, all.stderr).to.equal(0)
    const lines = all.stdout
      .trimEnd()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(lines).to.have.deep.members(stored)
    expect(all.stderr).to.equal('Exported 5 span(s).\n')

    const byCollection = await runPf(['trace', 'export', '--format', 'jsonl', '--collection', 'flex-basic'], {home})
    expect(
      byCollection.stdout
        .trimEnd()
        .split('\n')
        .map(l => JSON.parse(l).context.trace_id),
    ).to.deep.equal([flow.traceId, flow.traceId, flow.traceId])
    const file = path.join(tempDir('pf-export-'), 'run.jsonl')
    const byRun = await runPf(['trace', 'export', '--format', 'jsonl', '--run', 'run_a', '--output', file, '--json'], {home})
    expect(byRun.json()).to.deep.equal({format: 'jsonl', spans: 2, output: file})
    expect(
      readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map(l => JSON.parse(l).context.trace_id),
    ).to.deep.equal([run, run])
    expect(statSync(file).mode & 0o777).to.equal(0o600)

    const badFormat = await runPf(['trace', 'export', '--format', 'csv', '--json'], {home})
    expect(badFormat.code).to.equal(2)
    const jsonToStdout = await runPf(['trace', 'export', '--format', 'jsonl', '--json'], {home})
    expect(jsonToStdout.code).to.equal(2)
    const badDir = await runPf(
      ['trace', 'export', '--format', 'jsonl', '--output', path.join(home, 'no', 'such', 'dir', 'x.jsonl'), '--json'],
      {home},
    )
    expect(badDir.code).to.equal(2)
    expect(badDir.json().error.code).to.equal('output_unwritable')
  })

  it('exports OTLP/JSON exactly as OpenTelemetry JS serializes the same spans', async () => {
    await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=fail'], {home})
    await runPf(['flow', 'test', '--flow', fixture('flex-js')], {home})
    seedRunLine(home, 'run_a', 0, '2026-01-01T00:00:00.000001Z')
    const out = path.join(tempDir('pf-export-'), 'traces.json')
    const result = await runPf(['trace', 'export', '--format', 'otlp-json', '--output', out], {home})
    expect(result.code, result.stderr).to.equal(0)
    const ours = JSON.parse(readFileSync(out, 'utf8'))
    expect(statSync(out).mode & 0o777).to.equal(0o600)

    // The reference: OpenTelemetry's own JSON serializer over the same spans (in the export's order).
    const jsonl = (await runPf(['trace', 'export', '--format', 'jsonl'], {home})).stdout
      .trimEnd()
      .split('\n')
      .map(l => JSON.parse(l) as SpanRecord)
    const [{JsonTraceSerializer}, {resourceFromAttributes}] = await Promise.all([
      import('@opentelemetry/otlp-transformer'),
      import('@opentelemetry/resources'),
    ])
    const resources = new Map<string, ReturnType<typeof resourceFromAttributes>>()
    const hr = (t: string): [number, number] => {
      const seconds = Date.parse(t.slice(0, 19) + 'Z') / 1000
      return [seconds, Number(t.slice(20, 26)) * 1000]
    }
    const kinds = ['SpanKind.INTERNAL', 'SpanKind.SERVER', 'SpanKind.CLIENT', 'SpanKind.PRODUCER', 'SpanKind.CONSUMER']
    const readable = jsonl.map(s => {
      const key = JSON.stringify(s.resource)
      if (!resources.has(key)) resources.set(key, resourceFromAttributes(s.resource.attributes as any))
      return {
        name: s.name,
        kind: kinds.indexOf(s.kind),
        spanContext: () => ({traceId: s.context.trace_id, spanId: s.context.span_id, traceFlags: 1}),
        parentSpanContext: s.parent_id ? {traceId: s.context.trace_id, spanId: s.parent_id, traceFlags: 1} : undefined,
        startTime: hr(s.start_time),
        endTime: hr(s.end_time),
        status: {code: ['Unset', 'Ok', 'Error'].indexOf(s.status.status_code), message: s.status.description},
        attributes: s.attributes,
        links: [],
        events: s.events.map(e => ({name: e.name, time: hr(e.timestamp), attributes: e.attributes})),
        resource: resources.get(key),
        instrumentationScope: {name: 'promptflow'},
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      }
    })
    const reference = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(readable as any)))
    for (const rs of reference.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) delete span.flags
    expect(ours).to.deep.equal(reference)
    expect(
      ours.resourceSpans.map((r: any) => r.resource.attributes.find((a: any) => a.key === 'collection').value.stringValue),
    ).to.deep.equal(['batch', 'flex-basic', 'flex-js'])
    const span = ours.resourceSpans[0].scopeSpans[0].spans[0]
    expect(span.traceId).to.match(/^[0-9a-f]{32}$/)
    expect(span.startTimeUnixNano).to.match(/^\d{19}$/)
  })

  it('export streams: a store far larger than the heap limit exports in a small heap', async function () {
    this.timeout(120_000)
    // ~120 MB of span JSON; the export runs with a 48 MB old-space limit, so it must not hold the spans at once.
    const store = TraceStore.open(home)
    const big = 'x'.repeat(3000)
    for (let batch = 0; batch < 40; batch++)
      store.recordSpans(Array.from({length: 1000}, () => makeSpan({collection: 'big', attributes: {output: big}})))
    store.close()
    const out = path.join(tempDir('pf-export-'), 'big.json')
    for (const format of ['jsonl', 'otlp-json']) {
      const result = await runPf(['trace', 'export', '--format', format, '--output', out, '--json'], {
        home,
        nodeArgs: ['--max-old-space-size=48'],
        timeoutMs: 110_000,
      })
      expect(result.code, result.stderr.slice(0, 500)).to.equal(0)
      expect(result.json().spans).to.equal(40_000)
    }
    expect(JSON.parse(readFileSync(out, 'utf8')).resourceSpans[0].scopeSpans[0].spans).to.have.length(40_000)
    writeFileSync(out, '')
  })
})
