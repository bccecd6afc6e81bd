import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {migrations} from '../../src/store/schema.js'
import {TraceStore, storePath} from '../../src/store/store.js'
import {type RunningViewer, startViewerServer} from '../../src/service/server.js'
import {tempDir} from '../helpers/cli.js'
import {hex, insertRun, makeSpan, runLineTrace, runRow} from '../helpers/seed.js'

/** A GET over real HTTP on 127.0.0.1; `bytes` is the size of the body as sent. */
const get = (port: number, pathname: string): Promise<{status: number; bytes: number; body: any}> =>
  new Promise((resolve, reject) => {
    http
      .get({host: '127.0.0.1', port, path: pathname}, res => {
        const chunks: Buffer[] = []
        res.on('data', d => chunks.push(d))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // Not JSON: the body stays text.
          }
          resolve({status: res.statusCode!, bytes: Buffer.concat(chunks).length, body})
        })
      })
      .on('error', reject)
  })

/** Seeds a run folder the way `pf run create` writes it. */
const runFolder = (home: string, name: string, lines: Array<{inputs: object; outputs?: object; error?: string}>) => {
  const dir = path.join(home, '.runs', name)
  mkdirSync(dir, {recursive: true})
  const jsonl = (rows: object[]) => rows.map(r => JSON.stringify(r) + '\n').join('')
  writeFileSync(path.join(dir, 'inputs.jsonl'), jsonl(lines.map((l, i) => ({line_number: i, ...l.inputs}))))
  writeFileSync(path.join(dir, 'outputs.jsonl'), jsonl(lines.flatMap((l, i) => (l.outputs ? [{line_number: i, ...l.outputs}] : []))))
  writeFileSync(
    path.join(dir, 'errors.jsonl'),
    jsonl(lines.flatMap((l, i) => (l.error ? [{line_number: i, error: {type: 'RangeError', message: l.error}}] : []))),
  )
  return dir
}

describe('viewer API round 2: runs, comparison, charts, bounded values, live events', function () {
  this.timeout(240_000)
  let home: string
  let viewer: RunningViewer
  let bigTraceId: string
  let bigRootId: string
  const big = 'x'.repeat(5 * 1024 * 1024)
  const port = () => viewer.port
  const t0 = Date.parse('2026-11-20T10:00:00Z')

  before(async () => {
    home = tempDir('pf-home-runs-api-')
    const store = TraceStore.open(home)
    // Two runs of one flow and an evaluation of each; run b fixes line 1 and changes line 2's answer.
    const questions = ['hi', 'fail now', 'ok']
    const a = runFolder(home, 'run_a', [
      {inputs: {q: 'hi'}, outputs: {answer: 'HI'}},
      {inputs: {q: 'fail now'}, error: 'cannot answer'},
      {inputs: {q: 'ok'}, outputs: {answer: 'OK'}},
    ])
    const b = runFolder(home, 'run_b', [
      {inputs: {q: 'hi'}, outputs: {answer: 'HI'}},
      {inputs: {q: 'fail now'}, outputs: {answer: 'FAIL NOW'}},
      {inputs: {q: 'ok'}, outputs: {answer: 'OK OK'}},
    ])
    const ea = runFolder(home, 'eval_a', [
      {inputs: {}, outputs: {correct: true}},
      {inputs: {}, error: 'no answer'},
      {inputs: {}, outputs: {correct: false}},
    ])
    const eb = runFolder(home, 'eval_b', [
      {inputs: {}, outputs: {correct: true}},
      {inputs: {}, outputs: {correct: true}},
      {inputs: {}, outputs: {correct: false}},
    ])
    insertRun(
      store.db,
      runRow('run_a', {
        flow: '/flows/qa',
        output_path: a,
        status: 'Failed',
        completed_lines: 2,
        failed_lines: 1,
        metrics: null,
        created_at: '2026-11-20T10:00:00.000Z',
        started_at: '2026-11-20T10:00:00.000Z',
        ended_at: '2026-11-20T10:00:04.000Z',
        tags: JSON.stringify({team: 'qa'}),
      }),
    )
    insertRun(
      store.db,
      runRow('run_b', {
        flow: '/flows/qa',
        output_path: b,
        completed_lines: 3,
        failed_lines: 0,
        metrics: null,
        created_at: '2026-11-20T11:00:00.000Z',
        started_at: '2026-11-20T11:00:00.000Z',
        ended_at: '2026-11-20T11:00:01.000Z',
      }),
    )
    insertRun(
      store.db,
      runRow('eval_a', {
        flow: '/flows/grade/flow.flex.yaml',
        base_run: 'run_a',
        output_path: ea,
        metrics: JSON.stringify({accuracy: 0.5}),
        created_at: '2026-11-20T10:10:00.000Z',
      }),
    )
    insertRun(
      store.db,
      runRow('eval_b', {
        flow: '/flows/grade/flow.flex.yaml',
        base_run: 'run_b',
        output_path: eb,
        metrics: JSON.stringify({accuracy: 0.67}),
        created_at: '2026-11-20T11:10:00.000Z',
      }),
    )
    insertRun(store.db, runRow('old_archived', {archived: 1, created_at: '2026-11-19T10:00:00.000Z'}))
    for (const [run, offset] of [
      ['run_a', 0],
      ['run_b', 3_600_000],
    ] as const)
      questions.forEach((q, line) =>
        store.recordSpans(
          runLineTrace({
            run,
            line,
            startMs: t0 + offset + line * 100,
            input: q,
            error: run === 'run_a' && line === 1 ? 'cannot answer' : undefined,
            output: {answer: q},
          }).map(s =>
            s.parent_id === null
              ? {
                  ...s,
                  attributes: {
                    ...s.attributes,
                    '__computed__.cumulative_token_count.total': 10 * (line + 1),
                    '__computed__.cumulative_token_count.prompt': 8 * (line + 1),
                    '__computed__.cumulative_token_count.completion': 2 * (line + 1),
                  },
                }
              : s,
          ),
        ),
      )
    // A trace with a 5 MB input: on the root (the list's summary), and on a child as an attribute and its payload event.
    bigTraceId = hex(16)
    bigRootId = hex(8)
    store.recordSpans([
      makeSpan({
        traceId: bigTraceId,
        parentId: bigRootId,
        name: 'reader',
        startMs: t0 + 9_000_001,
        endMs: t0 + 9_000_002,
        collection: 'big',
        inputs: {text: big},
        output: 'short',
        attributes: {'user.note': big},
      }),
      makeSpan({
        traceId: bigTraceId,
        spanId: bigRootId,
        name: 'big_flow',
        type: 'Flow',
        startMs: t0 + 9_000_000,
        endMs: t0 + 9_000_005,
        collection: 'big',
        inputs: {text: big},
        output: {answer: big},
      }),
    ])
    store.close()
    viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
  })

  after(async () => viewer?.close())

  it('lists runs with line totals, tokens, metrics, tags and evaluation links; filters and sorts', async () => {
    const {body} = await get(port(), '/v1.0/api/runs')
    expect(body.runs.map((r: any) => r.name)).to.deep.equal(['eval_b', 'run_b', 'eval_a', 'run_a'])
    const runA = body.runs.find((r: any) => r.name === 'run_a')
    expect(runA).to.deep.include({
      status: 'Failed',
      completed_lines: 2,
      failed_lines: 1,
      duration: 4,
      base_run: null,
      evaluation_runs: ['eval_a'],
      tags: {team: 'qa'},
    })
    expect(runA.tokens).to.deep.equal({prompt: 48, completion: 12, total: 60})
    expect(body.runs.find((r: any) => r.name === 'eval_b')).to.deep.include({base_run: 'run_b', metrics: {accuracy: 0.67}})

    const names = async (query: string) => (await get(port(), `/v1.0/api/runs?${query}`)).body.runs.map((r: any) => r.name)
    expect(await names('status=Failed')).to.deep.equal(['run_a'])
    expect(await names('q=EVAL')).to.deep.equal(['eval_b', 'eval_a'])
    expect(await names('q=team')).to.deep.equal(['run_a'])
    expect(await names('flow=/flows/qa&sort=name')).to.deep.equal(['run_a', 'run_b'])
    expect(await names('sort=-duration&flow=/flows/qa')).to.deep.equal(['run_a', 'run_b'])
    expect((await names('archived=1')).includes('old_archived')).to.equal(true)
    expect(await names('flow=/flows/qa&sort=-failed&limit=1')).to.deep.equal(['run_a'])
    for (const [query, code] of [
      ['sort=speed', 'invalid_sort'],
      ['status=Done', 'invalid_status'],
      ['archived=yes', 'invalid_archived'],
      ['color=red', 'unknown_parameter'],
    ]) {
      const res = await get(port(), `/v1.0/api/runs?${query}`)
      expect(res.status, query).to.equal(400)
      expect(res.body.error.code, query).to.equal(code)
    }
  })

  it('compares runs line by line: metrics with evaluations, outputs side by side, differences and failures marked', async () => {
    const {status, body} = await get(port(), '/v1.0/api/compare?runs=run_a,run_b')
    expect(status).to.equal(200)
    expect(body.runs.map((r: any) => r.name)).to.deep.equal(['run_a', 'run_b'])
    expect(body.metricNames).to.deep.equal(['grade/accuracy'])
    expect(body.metrics).to.deep.equal([{'grade/accuracy': 0.5}, {'grade/accuracy': 0.67}])
    expect(body.lineCount).to.equal(3)
    const [l0, l1, l2] = body.lines
    expect(l0).to.deep.include({lineNumber: 0, inputs: {q: 'hi'}, differs: false, failed: false})
    expect(l0.cells.map((c: any) => c.output)).to.deep.equal([{answer: 'HI'}, {answer: 'HI'}])
    expect(l0.cells[0].scores).to.deep.equal({'grade/correct': true})
    expect(l0.cells[0].traceId).to.match(/^[0-9a-f]{32}$/)
    expect(l1).to.deep.include({differs: true, failed: true})
    expect(l1.cells[0]).to.deep.include({status: 'Failed', error: 'RangeError: cannot answer'})
    expect(l1.cells[1]).to.deep.include({status: 'Completed', output: {answer: 'FAIL NOW'}})
    expect(l2).to.deep.include({differs: true, failed: false})
    for (const [query, statusCode, code] of [
      ['runs=run_a,nope', 404, 'run_not_found'],
      ['runs=', 400, 'missing_runs'],
      ['runs=run_a,run_a', 400, 'duplicate_run'],
      ['runs=a,b,c,d,e,f', 400, 'too_many_runs'],
    ] as const) {
      const res = await get(port(), `/v1.0/api/compare?${query}`)
      expect(res.status, query).to.equal(statusCode)
      expect(res.body.error.code, query).to.equal(code)
    }
  })

  it('serves chart data: latency distribution, tokens per line, metrics over runs of the flow', async () => {
    const {body} = await get(port(), '/v1.0/api/runs/run_b/charts')
    expect(body.latency.count).to.equal(3)
    expect(body.latency.bins.reduce((n: number, b: any) => n + b.count, 0)).to.equal(3)
    expect(body.tokens.map((t: any) => t.mean)).to.deep.equal([10, 20, 30])
    expect(body.flowRuns.map((r: any) => [r.name, r.metrics])).to.deep.equal([
      ['run_a', {'grade/accuracy': 0.5}],
      ['run_b', {'grade/accuracy': 0.67}],
    ])
    const detail = await get(port(), '/v1.0/api/runs/run_b')
    expect(detail.body.summary.evaluation_runs).to.deep.equal(['eval_b'])
    expect(detail.body.evaluations).to.deep.equal([
      {name: 'eval_b', flow: '/flows/grade/flow.flex.yaml', status: 'Completed', metrics: {accuracy: 0.67}},
    ])
    expect((await get(port(), '/v1.0/api/runs/nope/charts')).status).to.equal(404)
  })

  it('caps large values in lists and traces (a 5 MB input costs a few KB) and serves the full value on demand', async function () {
    // Generous: parsing and sending the full values takes seconds on a loaded machine.
    this.timeout(240_000)
    const list = await get(port(), '/v1.0/api/traces?collection=big')
    expect(list.bytes).to.be.below(20_000)
    const [summary] = list.body.traces
    expect(summary.inputs).to.deep.include({$pfTruncated: true, length: big.length + '{"text":""}'.length})
    expect(summary.inputs.preview).to.have.length(2000)
    expect(summary.outputs.$pfTruncated).to.equal(true)

    const trace = await get(port(), `/v1.0/api/traces/${bigTraceId}`)
    expect(trace.bytes).to.be.below(300_000)
    const reader = trace.body.spans.find((s: any) => s.name === 'reader')
    expect(reader.attributes['user.note']).to.deep.include({$pfTruncated: true, length: big.length})
    expect(reader.attributes.output).to.equal('"short"')
    expect(reader.events[0].attributes.payload.$pfTruncated).to.equal(true)

    // The full value, on demand: the attribute, an event's attribute, and the summary's link to the root's inputs.
    const note = await get(port(), reader.attributes['user.note'].href)
    expect(note.body.value).to.equal(big)
    const payload = await get(port(), reader.events[0].attributes.payload.href)
    expect(JSON.parse(payload.body.value)).to.deep.equal({text: big})
    const rootInputs = await get(port(), summary.inputs.href)
    expect(JSON.parse(rootInputs.body.value)).to.deep.equal({text: big})
    // The JSON export stays whole.
    const download = await get(port(), `/v1.0/api/traces/${bigTraceId}?download=1`)
    expect(download.bytes).to.be.above(4 * big.length)

    for (const [url, code] of [
      [`/v1.0/api/traces/${bigTraceId}/spans/${bigRootId}/value`, 'missing_attribute'],
      [`/v1.0/api/traces/${bigTraceId}/spans/${bigRootId}/value?attribute=nope`, 'value_not_found'],
      [`/v1.0/api/traces/${bigTraceId}/spans/${'0'.repeat(16)}/value?attribute=inputs`, 'span_not_found'],
      [`/v1.0/api/traces/${bigTraceId}/spans/xyz/value?attribute=inputs`, 'invalid_span_id'],
      [`/v1.0/api/traces/${bigTraceId}/spans/${bigRootId}/value?attribute=inputs&event=-1`, 'invalid_event'],
    ]) {
      const res = await get(port(), url)
      expect(res.body.error?.code, url).to.equal(code)
    }
  })

  it('pushes a change event within a second of spans and run updates being stored by another process', async () => {
    const events: any[] = []
    const req = http.get({host: '127.0.0.1', port: port(), path: '/v1.0/api/events'})
    const response = await new Promise<http.IncomingMessage>(resolve => req.on('response', resolve))
    expect(response.headers['content-type']).to.contain('text/event-stream')
    let buffer = ''
    response.setEncoding('utf8')
    response.on('data', (d: string) => {
      buffer += d
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = /^data: (.*)$/m.exec(block)
        if (/^event: change$/m.test(block) && data) events.push({at: Date.now(), ...JSON.parse(data[1])})
      }
    })
    try {
      await new Promise(r => setTimeout(r, 300))
      const store = TraceStore.open(home)
      const spans = runLineTrace({run: 'run_b', line: 3, startMs: Date.now(), input: 'live', output: 'yes'})
      const storedAt = Date.now()
      store.recordSpans(spans)
      const deadline = storedAt + 1000
      while (Date.now() < deadline && events.length === 0) await new Promise(r => setTimeout(r, 20))
      expect(events, 'no change event within 1 s').to.have.length.greaterThan(0)
      expect(events[0].traces).to.deep.equal([spans[0].context.trace_id])
      expect(events[0].roots).to.deep.equal([spans[0].context.trace_id])
      expect(events[0].runs).to.deep.equal(['run_b'])

      const before = events.length
      store.db.prepare("UPDATE runs SET completed_lines = 4 WHERE name = 'run_a'").run()
      store.close()
      const until = Date.now() + 1000
      while (Date.now() < until && events.length === before) await new Promise(r => setTimeout(r, 20))
      expect(events.slice(before).map(e => e.runs)).to.deep.equal([['run_a']])
    } finally {
      req.destroy()
    }
  })
})

describe('viewer search over the full-text index (migration 3)', () => {
  let home: string
  let viewer: RunningViewer
  const port = () => viewer.port
  const t0 = Date.parse('2026-11-21T10:00:00Z')
  const ids: Record<string, string> = {}

  const trace = (
    key: string,
    i: number,
    child: {name: string; inputs?: unknown; output?: unknown; attributes?: Record<string, unknown>},
    latencyMs: number,
    tokens?: number,
  ) => {
    const traceId = hex(16)
    const rootId = hex(8)
    ids[key] = traceId
    const start = t0 + i * 1000
    return [
      makeSpan({
        traceId,
        parentId: rootId,
        name: child.name,
        startMs: start + 1,
        endMs: start + 2,
        collection: 'search',
        inputs: child.inputs,
        output: child.output,
        attributes: child.attributes,
      }),
      makeSpan({
        traceId,
        spanId: rootId,
        name: 'root',
        type: 'Flow',
        startMs: start,
        endMs: start + latencyMs,
        collection: 'search',
        inputs: {q: key},
        output: 'done',
        attributes: tokens === undefined ? {} : {'__computed__.cumulative_token_count.total': tokens},
      }),
    ]
  }

  before(async () => {
    // Spans recorded by this pf, then copied into a store of schema 2 (before the search index), as an older pf
    // left it: opening it must build the index from the stored spans.
    const seeded = tempDir('pf-home-search-seed-')
    const store = TraceStore.open(seeded)
    store.recordSpans([
      ...trace('retrieval', 0, {name: 'retrieve_documents', inputs: {query: 'Hybrid vector search'}, output: ['doc one']}, 30, 100),
      ...trace(
        'llm',
        1,
        {
          name: 'chat',
          inputs: {messages: [{role: 'user', content: 'Bonjour, ça va?'}]},
          output: 'Très bien',
          attributes: {'llm.response.model': 'gpt-4o-mini', 'llm.usage.total_tokens': 42},
        },
        900,
        42,
      ),
      ...trace('other_model', 2, {name: 'chat', inputs: {m: 'x'}, output: 'y', attributes: {'llm.response.model': 'gpt-4o'}}, 500),
      ...trace('deleted', 3, {name: 'doomed', inputs: {secret_word: 'zanzibar'}}, 10, 5),
    ])
    store.close()
    home = tempDir('pf-home-search-')
    const old = openDatabase(storePath(home))
    old.exec(migrations[0])
    old.exec(migrations[1])
    old.pragma('user_version = 2')
    old.exec(
      `ATTACH '${storePath(seeded)}' AS seeded; INSERT INTO spans SELECT * FROM seeded.spans; INSERT INTO line_runs SELECT * FROM seeded.line_runs; DETACH seeded`,
    )
    old.close()
    const reopened = TraceStore.open(home)
    expect(reopened.db.pragma('user_version', {simple: true})).to.equal(migrations.length)
    expect(reopened.db.prepare('SELECT COUNT(*) FROM span_search').pluck().get()).to.equal(8)
    reopened.close()
    viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
  })

  after(async () => viewer?.close())

  const found = async (query: string): Promise<string[]> => {
    const res = await get(port(), `/v1.0/api/traces?collection=search&${query}`)
    expect(res.status, `${query}: ${JSON.stringify(res.body)}`).to.equal(200)
    const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]))
    return res.body.traces.map((t: any) => byId[t.traceId])
  }

  it('finds traces by any span: name, inputs, output, attribute values; words, prefixes, case and accents', async () => {
    expect(await found('q=retrieve_documents')).to.deep.equal(['retrieval'])
    expect(await found('q=hybrid%20VECTOR')).to.deep.equal(['retrieval'])
    expect(await found('q=vec')).to.deep.equal([]) // whole words…
    expect(await found('q=vec*')).to.deep.equal(['retrieval']) // …or a prefix when asked
    expect(await found('q=tres%20bien')).to.deep.equal(['llm']) // "Très bien", accents folded
    expect(await found('q=gpt-4o-mini')).to.deep.equal(['llm'])
    expect(await found('q=gpt-4o')).to.deep.equal(['other_model', 'llm'])
    expect(await found('q=zanzibar')).to.deep.equal(['deleted']) // backfilled by the migration
    expect(await found('q=%22%20OR%20*')).to.deep.equal([]) // FTS syntax is just text
    expect(await found('q=nothing_like_this')).to.deep.equal([])
  })

  it('filters by attribute key=value (exact), combined with text, status and time', async () => {
    expect(await found('attr=llm.response.model%3Dgpt-4o')).to.deep.equal(['other_model'])
    expect(await found('attr=llm.response.model%3Dgpt-4o-mini')).to.deep.equal(['llm'])
    expect(await found('attr=llm.usage.total_tokens%3D42')).to.deep.equal(['llm'])
    expect(await found('attr=llm.response.model%3Dgpt-4o-mini&q=bonjour')).to.deep.equal(['llm'])
    expect(await found('attr=llm.response.model%3Dgpt-4o-mini&q=hybrid')).to.deep.equal([])
    expect(await found('q=chat&status=Error')).to.deep.equal([])
    expect(await found(`q=chat&from=${new Date(t0 + 1500).toISOString()}`)).to.deep.equal(['other_model'])
    for (const [query, code] of [
      ['attr=novalue', 'invalid_attr'],
      ['attr=%3Dx', 'invalid_attr'],
      ['attr=a%22b%3Dc', 'invalid_attr'],
      ['sort=speed', 'invalid_sort'],
    ]) {
      const res = await get(port(), `/v1.0/api/traces?${query}`)
      expect(res.status, query).to.equal(400)
      expect(res.body.error.code, query).to.equal(code)
    }
  })

  it('pages search results newest first with a cursor', async () => {
    const pages: string[][] = []
    let cursor = ''
    do {
      const res = await get(port(), `/v1.0/api/traces?collection=search&q=root&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
      pages.push(res.body.traces.map((t: any) => t.traceId))
      cursor = res.body.nextCursor ?? ''
    } while (cursor)
    expect(pages).to.deep.equal([[ids.deleted], [ids.other_model], [ids.llm], [ids.retrieval]].slice(0, pages.length))
    expect(pages.flat()).to.have.length(4)
  })

  it('orders search results by trace start even when an older trace has later matching spans', async () => {
    // Long traces whose matching child spans start after newer traces began: the newest hits are not the newest traces.
    const store = TraceStore.open(home)
    const base = Date.parse('2026-11-22T10:00:00Z')
    const late: string[] = []
    for (const [rootAt, childAt] of [
      [0, 10_000],
      [1000, 9000],
      [5000, 5001],
      [6000, 6001],
    ]) {
      const traceId = hex(16)
      const rootId = hex(8)
      late.push(traceId)
      store.recordSpans([
        makeSpan({
          traceId,
          parentId: rootId,
          name: 'late_child',
          startMs: base + childAt,
          endMs: base + childAt + 1,
          collection: 'late',
          inputs: {w: 'kumquat'},
        }),
        makeSpan({
          traceId,
          spanId: rootId,
          name: 'long_root',
          type: 'Flow',
          startMs: base + rootAt,
          endMs: base + 11_000,
          collection: 'late',
        }),
      ])
    }
    store.close()
    const newestFirst = [late[3], late[2], late[1], late[0]]
    for (const limit of [1, 2, 3]) {
      const pages: string[] = []
      let cursor = ''
      do {
        const res = await get(port(), `/v1.0/api/traces?q=kumquat&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
        pages.push(...res.body.traces.map((t: any) => t.traceId))
        cursor = res.body.nextCursor ?? ''
      } while (cursor)
      expect(pages, `limit ${limit}`).to.deep.equal(newestFirst)
    }
  })

  it('sorts by latency and by tokens, paging with cursors of that order', async () => {
    expect(await found('sort=latency')).to.deep.equal(['llm', 'other_model', 'retrieval', 'deleted'])
    expect(await found('sort=tokens')).to.deep.equal(['retrieval', 'llm', 'deleted', 'other_model'])
    const first = await get(port(), '/v1.0/api/traces?collection=search&sort=latency&limit=3')
    const rest = await get(port(), `/v1.0/api/traces?collection=search&sort=latency&limit=3&cursor=${first.body.nextCursor}`)
    expect(rest.body.traces.map((t: any) => t.traceId)).to.deep.equal([ids.deleted])
    // A cursor of one order is refused by another.
    expect((await get(port(), `/v1.0/api/traces?collection=search&sort=tokens&cursor=${first.body.nextCursor}`)).body.error.code).to.equal(
      'invalid_cursor',
    )
  })

  it('keeps the index in step: a deleted trace is no longer found, a span stored again is found once by its new content', async () => {
    const store = TraceStore.open(home)
    const count = () => store.db.prepare('SELECT COUNT(*) FROM span_search').pluck().get() as number
    const match = (q: string) => store.db.prepare('SELECT COUNT(*) FROM span_search WHERE span_search MATCH ?').pluck().get(q)
    store.indexPendingSearch()
    const before = count()
    expect(store.deleteTraces({collection: 'other'}).traces).to.equal(0)
    store.db.prepare("UPDATE spans SET collection = 'gone' WHERE trace_id = ?").run(ids.deleted)
    store.deleteTraces({collection: 'gone'})
    expect(count()).to.equal(before - 2)
    // Stored again after its document was written: the old document goes with the write, the new one comes later.
    const [child] = trace('again', 5, {name: 'first_version', inputs: {v: 'alpha'}}, 10)
    store.recordSpans([child])
    expect(store.indexPendingSearch()).to.equal(1)
    const second = {
      ...child,
      name: 'second_version',
      attributes: {...child.attributes, function: 'second_version', inputs: JSON.stringify({v: 'omega'})},
    }
    store.recordSpans([second])
    expect(match('alpha')).to.equal(0)
    expect(store.indexPendingSearch()).to.equal(1)
    // Stored twice before any document was written: one document, of the last content.
    const [draft] = trace('twice', 6, {name: 'draft', inputs: {v: 'beta'}}, 10)
    store.recordSpans([draft])
    store.recordSpans([{...draft, attributes: {...draft.attributes, inputs: JSON.stringify({v: 'gamma'})}}])
    expect(store.indexPendingSearch()).to.equal(1)
    expect(count()).to.equal(before)
    expect([match('alpha'), match('omega'), match('second_version'), match('first_version'), match('beta'), match('gamma')]).to.deep.equal([
      0, 1, 1, 0, 0, 1,
    ])
    store.close()
    expect(await found('q=zanzibar')).to.deep.equal([])
    // The child has no root (no line run yet), so no trace lists it.
    expect((await get(port(), '/v1.0/api/traces?q=omega')).body.traces).to.have.length(0)
  })

  it('writes pending search documents in the background, with no search asking', async () => {
    const store = TraceStore.open(home)
    const match = (q: string) => store.db.prepare('SELECT COUNT(*) FROM span_search WHERE span_search MATCH ?').pluck().get(q)
    try {
      store.recordSpans(trace('background', 9, {name: 'unasked', inputs: {word: 'axolotl'}}, 10))
      expect(match('axolotl')).to.equal(0)
      const deadline = Date.now() + 10_000
      while (match('axolotl') === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
      expect(match('axolotl')).to.equal(1)
    } finally {
      store.close()
    }
  })

  it('finds spans stored just before a search, also where deleted spans had the newest rowids', async () => {
    const store = TraceStore.open(home)
    store.recordSpans(trace('newest', 7, {name: 'ephemeral', inputs: {word: 'quokka'}}, 10))
    store.indexPendingSearch()
    store.db.prepare("UPDATE spans SET collection = 'gone' WHERE trace_id = ?").run(ids.newest)
    store.deleteTraces({collection: 'gone'})
    // SQLite hands the deleted rowids out again: these spans must still count as not yet indexed.
    store.recordSpans(trace('reborn', 8, {name: 'phoenix', inputs: {word: 'wombat'}}, 10))
    store.close()
    expect(await found('q=quokka')).to.deep.equal([])
    // No indexing call here: the search itself writes what is pending first.
    expect(await found('q=wombat')).to.deep.equal(['reborn'])
    expect(await found('q=phoenix')).to.deep.equal(['reborn'])
  })
})
