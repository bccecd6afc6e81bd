import {expect} from 'chai'
import {createServer} from 'node:net'
import path from 'node:path'

import {TraceStore} from '../../src/store/store.js'
import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {makeSpan} from '../helpers/spans.js'

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'flows', name)

/** A port nothing listens on (bound, then released). */
const closedPort = (): Promise<number> =>
  new Promise(resolve => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })

// Messages speak to the user: no pf class names, no pf or package stack frames; trace show says why a span failed.
describe('pf messages for failed work (built CLI)', function () {
  this.timeout(120_000)
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })

  it("pf's own error inside a line is its message, without the class name", async () => {
    // dag-basic's llm node names connection fake_openai, which this pf home does not have.
    const result = await runPf(['flow', 'test', '--flow', fixture('dag-basic'), '--inputs', 'question=hi'], {home})
    expect(result.code).to.equal(1)
    const first = result.stderr.split('\n')[0]
    expect(first).to.match(/^Error: Flow failed: No connection named "fake_openai"/)
    expect(result.stderr).not.to.contain('PfError')
    expect(result.stderr).not.to.match(/\bat .*dist\//)
  })

  it('a model API that cannot be reached: what it means, no openai frames', async () => {
    const port = await closedPort()
    const result = await runPf(['flow', 'test', '--flow', fixture('flex-llm'), '--inputs', 'question=hi'], {
      home,
      env: {OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, OPENAI_API_KEY: 'sk-unused', OPENAI_MAX_RETRIES: '0'},
    })
    expect(result.code).to.equal(1)
    expect(result.stderr.split('\n')[0]).to.equal('Error: Flow failed: could not reach the model API: Connection error.')
    expect(result.stderr).not.to.contain('APIConnectionError')
    expect(result.stderr).not.to.contain('node_modules')
    expect(result.stderr).not.to.contain('makeRequest')
  })

  it('trace show: a failed span with its error message, and a unique id prefix', async () => {
    const failed = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=fail', '--json'], {home})
    expect(failed.code).to.equal(1)
    const traceId: string = failed.json().error.traceId
    expect(traceId).to.match(/^[0-9a-f]{32}$/)

    const shown = await runPf(['trace', 'show', traceId.slice(0, 8)], {home})
    expect(shown.code, shown.stderr).to.equal(0)
    const lines = shown.stdout.split('\n')
    expect(lines[0]).to.match(new RegExp(`^Trace ${traceId} \\(\\d+ spans?\\)$`))
    expect(lines[1]).to.match(/^answer {2}Flow {2}\d+\.\d ms {2}Error$/)
    expect(lines[2]).to.equal('  error: TypeError: asked to fail')
    const json = (await runPf(['trace', 'show', traceId.slice(0, 8), '--json'], {home})).json()
    expect(json.traceId).to.equal(traceId)
    expect(json.tree[0]).to.include({status: 'Error', error: 'TypeError: asked to fail'})

    const tooShort = await runPf(['trace', 'show', traceId.slice(0, 3), '--json'], {home})
    expect(tooShort.code).to.equal(2)
    expect(tooShort.json().error.message).to.equal(`Trace id prefix "${traceId.slice(0, 3)}" is too short; give at least 6 hex digits.`)
    const notHex = await runPf(['trace', 'show', 'zzzzzz', '--json'], {home})
    expect(notHex.json().error.code).to.equal('invalid_arguments')
  })

  it('trace show: an ambiguous prefix names the matching traces', async () => {
    const store = TraceStore.open(home)
    try {
      store.recordSpans([makeSpan({traceId: 'abcdef01' + '0'.repeat(24)}), makeSpan({traceId: 'abcdef02' + '0'.repeat(24)})])
    } finally {
      store.close()
    }
    const ambiguous = await runPf(['trace', 'show', 'abcdef', '--json'], {home})
    expect(ambiguous.code).to.equal(2)
    expect(ambiguous.json().error).to.deep.equal({
      code: 'ambiguous_trace_id',
      message: `Trace id prefix "abcdef" matches 2 traces (abcdef01${'0'.repeat(24)}, abcdef02${'0'.repeat(24)}); give more digits.`,
    })
    expect((await runPf(['trace', 'show', 'ABCDEF02', '--json'], {home})).json().traceId).to.equal('abcdef02' + '0'.repeat(24))
    const none = await runPf(['trace', 'show', 'abcdef03', '--json'], {home})
    expect(none.json().error.code).to.equal('trace_not_found')
  })
})
