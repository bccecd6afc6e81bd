import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'

import {TraceReader} from '../../src/store/reader.js'
import {TraceStore} from '../../src/store/store.js'
import {type RunningViewer, startViewerServer} from '../../src/service/server.js'
import {tempDir} from '../helpers/cli.js'
import {insertRun, llmTrace, makeSpan, runLineTrace, runRow, hex} from '../helpers/seed.js'

/** A GET over real HTTP on 127.0.0.1 (optionally with a forged Host header). */
const get = (
  port: number,
  pathname: string,
  host = `127.0.0.1:${port}`,
): Promise<{status: number; headers: http.IncomingHttpHeaders; body: any}> =>
  new Promise((resolve, reject) => {
    http
      .get({host: '127.0.0.1', port, path: pathname, headers: {host}}, res => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', d => (text += d))
        res.on('end', () => {
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // Not JSON: the test reads the raw text.
          }
          resolve({status: res.statusCode!, headers: res.headers, body})
        })
      })
      .on('error', reject)
  })

describe('trace viewer API (HTTP over a seeded store)', () => {
  let home: string
  let viewer: RunningViewer
  let llmId: string
  const t0 = Date.parse('2026-11-20T10:00:00Z')
  const port = () => viewer.port

  before(async () => {
    home = tempDir('pf-home-api-')
    const store = TraceStore.open(home)
    // 120 traces in two collections, several sharing a start time (keyset ties break on trace id).
    for (let i = 0; i < 120; i++) {
      const traceId = hex(16)
      store.recordSpans([
        makeSpan({
          traceId,
          name: i % 10 === 0 ? 'needle_finder' : 'answer',
          type: 'Flow',
          startMs: t0 + Math.floor(i / 3) * 1000,
          endMs: t0 + Math.floor(i / 3) * 1000 + 50,
          collection: i % 2 === 0 ? 'even' : 'odd',
          status: i % 7 === 0 ? 'Error' : 'Ok',
          description: i % 7 === 0 ? 'boom' : undefined,
          inputs: {question: `question ${i}`, literal: i === 33 ? '100%_sure' : 'x'},
          output: {answer: i === 51 ? 'the haystack' : `answer ${i}`},
        }),
      ])
    }
    const chat = llmTrace({collection: 'chat', startMs: t0 - 3_600_000, question: 'Capital of France?', answer: 'Paris.'})
    llmId = chat[0].context.trace_id
    store.recordSpans(chat)
    const outputDir = path.join(home, '.runs', 'run_a')
    mkdirSync(outputDir, {recursive: true})
    writeFileSync(path.join(outputDir, 'outputs.jsonl'), '{"line_number":0,"answer":"from file"}\n{"line_number":1,"answer":"x"}\n')
    insertRun(store.db, runRow('run_a', {output_path: outputDir, tags: JSON.stringify({team: 'qa'})}))
    for (let line = 0; line < 7; line++)
      store.recordSpans(
        runLineTrace({
          run: 'run_a',
          line,
          startMs: t0 - 7_200_000 + line,
          input: `q${line}`,
          output: line === 0 ? undefined : {answer: `a${line}`},
          error: line === 3 ? 'bad' : undefined,
        }),
      )
    store.close()
    viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
  })

  after(async () => viewer?.close())

  it('pages all traces newest first with a keyset cursor: no duplicates, no gaps', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    const starts: string[] = []
    do {
      const res = await get(port(), `/v1.0/api/traces?limit=25${cursor ? `&cursor=${cursor}` : ''}`)
      expect(res.status).to.equal(200)
      expect(res.headers['content-type']).to.contain('application/json')
      seen.push(...res.body.traces.map((t: any) => t.traceId))
      starts.push(...res.body.traces.map((t: any) => t.startTime))
      cursor = res.body.nextCursor
      pages++
    } while (cursor)
    expect(pages).to.equal(6) // 120 + 1 + 7 = 128 traces
    expect(new Set(seen).size).to.equal(128)
    expect(starts).to.deep.equal([...starts].sort().reverse())
  })

  it('filters by collection, run, status, time range and text (literal, case-insensitive)', async () => {
    const ids = async (query: string) => (await get(port(), `/v1.0/api/traces?limit=200&${query}`)).body.traces as any[]
    expect((await ids('collection=even')).length).to.equal(60)
    expect((await ids('collection=even')).every(t => t.collection === 'even')).to.equal(true)
    const run = await ids('run=run_a')
    expect(run.map(t => t.lineNumber).sort()).to.deep.equal([0, 1, 2, 3, 4, 5, 6])
    expect((await ids('status=Error')).length).to.equal(18 + 1) // i % 7 === 0 for i < 120, plus run_a line 3
    expect((await ids('status=Error,Ok')).length).to.equal(128)
    const windowed = await ids(`from=${new Date(t0 + 10_000).toISOString()}&to=${new Date(t0 + 12_000).toISOString()}`)
    expect(windowed.length).to.equal(6)
    expect(windowed.every(t => t.startTime >= '2026-11-20T10:00:10' && t.startTime < '2026-11-20T10:00:12')).to.equal(true)
    expect((await ids('q=NEEDLE')).map(t => t.name))
      .to.have.length(12)
      .and.to.satisfy((n: string[]) => n.every(x => x === 'needle_finder'))
    expect((await ids('q=haystack')).map(t => t.outputs.answer)).to.deep.equal(['the haystack'])
    expect((await ids('q=100%25_sure')).map(t => t.inputs.literal)).to.deep.equal(['100%_sure'])
    expect(await ids('q=100%25_surf')).to.deep.equal([]) // % and _ are not wildcards
    expect((await ids('q=Capital%20of%20France')).map(t => t.traceId)).to.deep.equal([llmId])
  })

  it('returns summaries with parsed inputs/outputs and cumulative token counts', async () => {
    const [chat] = (await get(port(), '/v1.0/api/traces?collection=chat')).body.traces
    expect(chat).to.include({traceId: llmId, name: 'chat', kind: 'Flow', status: 'Ok', collection: 'chat'})
    expect(chat.inputs).to.deep.equal({question: 'Capital of France?'})
    expect(chat.tokens).to.deep.equal({prompt: 42, completion: 17, total: 59})
  })

  it('serves one trace with all its spans, and as a download', async () => {
    const res = await get(port(), `/v1.0/api/traces/${llmId}`)
    expect(res.status).to.equal(200)
    expect(res.body.trace.traceId).to.equal(llmId)
    expect(res.body.spans.map((s: any) => s.name)).to.deep.equal(['chat', 'openai_chat'])
    expect(res.body.spans[1].attributes['llm.usage.total_tokens']).to.equal(59)
    const download = await get(port(), `/v1.0/api/traces/${llmId.toUpperCase()}?download=1`)
    expect(download.headers['content-disposition']).to.equal(`attachment; filename="trace-${llmId}.json"`)
    expect(download.body.spans).to.have.length(2)
  })

  it('serves a run: its row, line counts, lines in order with outputs (from outputs.jsonl when the trace has none)', async () => {
    const res = await get(port(), '/v1.0/api/runs/run_a?limit=5')
    expect(res.status).to.equal(200)
    expect(res.body.run).to.include({name: 'run_a', status: 'Completed', archived: false})
    expect(res.body.run.metrics).to.deep.equal({accuracy: 0.67, 'latency.p50': 0.025})
    expect(res.body.run.tags).to.deep.equal({team: 'qa'})
    expect(res.body.lineCounts).to.deep.equal({Error: 1, Ok: 6})
    expect(res.body.lines.map((l: any) => l.lineNumber)).to.deep.equal([0, 1, 2, 3, 4])
    expect(res.body.lines[1].outputs).to.deep.equal({answer: 'a1'})
    expect(res.body.outputs).to.deep.equal({'0': {answer: 'from file'}})
    expect(res.body.nextAfterLine).to.equal(4)
    const rest = await get(port(), '/v1.0/api/runs/run_a?afterLine=4')
    expect(rest.body.lines.map((l: any) => l.lineNumber)).to.deep.equal([5, 6])
    expect(rest.body.nextAfterLine).to.equal(null)
    const runs = await get(port(), '/v1.0/api/runs')
    expect(runs.body.runs.map((r: any) => r.name)).to.deep.equal(['run_a'])
  })

  it('lists collections with counts', async () => {
    const res = await get(port(), '/v1.0/api/collections')
    expect(res.body.collections.map((c: any) => [c.collection, c.traces])).to.have.deep.members([
      ['even', 60],
      ['odd', 60],
      ['chat', 1],
      ['run_a', 7],
    ])
  })

  it('answers bad input with 400/404 JSON errors', async () => {
    const cases: Array<[string, number, string]> = [
      ['/v1.0/api/traces?status=Done', 400, 'invalid_status'],
      ['/v1.0/api/traces?limit=0', 400, 'invalid_limit'],
      ['/v1.0/api/traces?limit=abc', 400, 'invalid_limit'],
      ['/v1.0/api/traces?cursor=garbage', 400, 'invalid_cursor'],
      ['/v1.0/api/traces?from=yesterday', 400, 'invalid_time'],
      ['/v1.0/api/traces?colection=even', 400, 'unknown_parameter'],
      ['/v1.0/api/traces/not-a-trace', 400, 'invalid_trace_id'],
      [`/v1.0/api/traces/${'ab'.repeat(16)}`, 404, 'trace_not_found'],
      ['/v1.0/api/runs/nope', 404, 'run_not_found'],
      ['/v1.0/api/runs/run_a?afterLine=x', 400, 'invalid_after_line'],
      ['/v1.0/api/nothing', 404, 'not_found'],
      ['/v1.0/ui/traces/../../package.json', 404, 'not_found'],
      ['/v1.0/ui/traces/%2e%2e%2fpackage.json', 404, 'not_found'],
    ]
    for (const [url, status, code] of cases) {
      const res = await get(port(), url)
      expect(res.status, url).to.equal(status)
      expect(res.body.error.code, url).to.equal(code)
      expect(res.body.error.message, url).to.be.a('string').and.not.to.contain('\n')
    }
  })

  it('refuses requests whose Host is not loopback (DNS rebinding), with any path', async () => {
    for (const host of [
      'evil.example:' + port(),
      'evil.example',
      '127.0.0.1.nip.io:' + port(),
      '127.0.0.1.evil.example',
      'localhost.evil.example:' + port(),
      `127.0.0.1:${port() + 1}`,
    ]) {
      const res = await get(port(), '/v1.0/api/traces', host)
      expect(res.status, JSON.stringify(host)).to.equal(403)
      expect(res.body.error.code).to.equal('forbidden_host')
    }
    // No Host at all (HTTP/1.0 over a raw socket): refused too.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port(), '127.0.0.1', () => socket.end('GET /v1.0/health HTTP/1.0\r\n\r\n'))
      let text = ''
      socket
        .on('data', d => (text += d))
        .on('end', () => resolve(text))
        .on('error', reject)
    })
    expect(raw).to.match(/^HTTP\/1\.[01] 403/)
    for (const host of [
      `127.0.0.1:${port()}`,
      `localhost:${port()}`,
      `LOCALHOST:${port()}`,
      `[::1]:${port()}`,
      `127.0.0.2:${port()}`,
      'localhost',
    ]) {
      expect((await get(port(), '/v1.0/health', host)).status, host).to.equal(200)
    }
  })

  it('serves the pages with a strict content security policy, read-only', async () => {
    const page = await get(port(), '/v1.0/ui/traces/')
    expect(page.status).to.equal(200)
    expect(page.headers['content-type']).to.contain('text/html')
    expect(page.body).to.contain('<script type="module" src="app.js">')
    expect(page.headers['content-security-policy']).to.contain("script-src 'self'")
    expect((await get(port(), '/v1.0/ui/traces/app.js')).headers['content-type']).to.contain('text/javascript')
    expect((await get(port(), '/')).headers.location).to.equal('/v1.0/ui/traces/')
    const post = await new Promise<number>(resolve =>
      http.request({host: '127.0.0.1', port: port(), path: '/v1.0/api/traces', method: 'POST'}, res => resolve(res.statusCode!)).end(),
    )
    expect(post).to.equal(405)
  })

  it('reads the store read-only, and list pages walk an index instead of sorting the table', () => {
    const reader = TraceReader.open(home)
    try {
      expect(() => reader.db.exec('DELETE FROM line_runs')).to.throw(/readonly/)
      for (const filter of [
        {},
        {collection: 'even'},
        {run: 'run_a'},
        {status: ['Error']},
        {sort: 'latency' as const},
        {sort: 'tokens' as const},
      ]) {
        const plan = reader.explainList(filter, {key: filter.sort ? 1 : '2026-11-20T10:00:10.000000Z', traceId: 'f'.repeat(32)}).join(' | ')
        expect(plan, JSON.stringify(filter)).to.match(/USING (COVERING )?INDEX line_runs_/)
        expect(plan, JSON.stringify(filter)).not.to.contain('TEMP B-TREE')
      }
      // Sorted by latency or tokens, a search starts from the full-text index and reads only the matching traces' rows.
      for (const filter of [
        {text: 'needle', sort: 'latency' as const},
        {attributes: [{key: 'function', value: 'answer'}], sort: 'tokens' as const},
      ]) {
        const plan = reader.explainList(filter).join(' | ')
        expect(plan, JSON.stringify(filter)).to.match(/SCAN (span_search|f) VIRTUAL TABLE INDEX/)
        expect(plan, JSON.stringify(filter)).to.match(/SEARCH line_runs USING INDEX sqlite_autoindex_line_runs_1 \(trace_id=\?\)/)
      }
    } finally {
      reader.close()
    }
  })
})
