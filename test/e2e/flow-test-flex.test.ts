import {expect} from 'chai'
import {cpSync, existsSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readStore, storedSpans} from '../helpers/store.js'

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'flows', name)

describe('pf flow test: flex flows (built CLI)', () => {
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })

  it('prints the outputs and the local trace link; --json gives the result object', async () => {
    const human = await runPf(['flow', 'test', '--flow', fixture('flex-basic')], {home})
    expect(human.code, human.stderr).to.equal(0)
    expect(JSON.parse(human.stdout)).to.deep.equal({answer: 'WHAT IS PROMPT FLOW? WHAT IS PROMPT FLOW?', length: 20})
    expect(human.stderr).to.match(/Trace: http:\/\/127\.0\.0\.1:23333\/v1\.0\/ui\/traces\/\?#collection=flex-basic&uiTraceId=[0-9a-f]{32}/)

    const json = await runPf(
      ['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=hi', '--inputs', 'times=3', '--json'],
      {home},
    )
    expect(json.code, json.stderr).to.equal(0)
    const result = json.json()
    expect(result).to.include({flow: fixture('flex-basic'), status: 'Completed', collection: 'flex-basic'})
    expect(result.inputs).to.deep.equal({question: 'hi', times: 3})
    expect(result.output).to.deep.equal({answer: 'HI HI HI', length: 2})
    expect(result.traceId).to.match(/^[0-9a-f]{32}$/)
    // pf's trace ids begin with their creation time in ms (src/tracing/trace-ids.ts): the store's indexes grow at one end.
    const traceMs = Number.parseInt(result.traceId.slice(0, 12), 16)
    expect(Math.abs(traceMs - Date.now())).to.be.below(60_000)
    expect(result.lineRunId).to.match(/^[0-9a-f-]{36}$/)
    expect(result.links.local).to.contain(`uiTraceId=${result.traceId}`)
    expect(result.export).to.deep.equal([])
    // The store has this line run, with the flow folder name as its collection.
    const row = readStore(home, db => db.prepare('SELECT * FROM line_runs WHERE trace_id = ?').get(result.traceId)) as any
    expect(row).to.include({collection: 'flex-basic', status: 'Ok', name: 'answer', line_run_id: result.lineRunId})
    expect(JSON.parse(row.outputs)).to.deep.equal({answer: 'HI HI HI', length: 2})
  })

  it('takes inputs from flags, else defaults, else the sample (file or mapping), coercing declared types', async () => {
    // flex-basic: question from its sample, times from its default.
    const fromSample = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'], {home})
    expect(fromSample.json().inputs).to.deep.equal({question: 'What is prompt flow?', times: 2})
    // flex-js: `sample: sample.json` (a file next to the flow).
    const fromFile = await runPf(['flow', 'test', '--flow', fixture('flex-js'), '--json'], {home})
    expect(fromFile.code, fromFile.stderr).to.equal(0)
    expect(fromFile.json().inputs).to.deep.equal({text: 'one two three'})
    // flex-typed: int and bool from text.
    const typed = await runPf(
      ['flow', 'test', '--flow', fixture('flex-typed'), '--inputs', 'word=go', '--inputs', 'count=2', '--inputs', 'loud=true', '--json'],
      {home},
    )
    expect(typed.code, typed.stderr).to.equal(0)
    expect(typed.json().output).to.deep.equal({text: 'GO GO', countType: 'number'})
  })

  it('names a missing required input, an unknown input and a badly typed one (exit 2, JSON error)', async () => {
    const missing = await runPf(['flow', 'test', '--flow', fixture('flex-typed'), '--inputs', 'word=go', '--json'], {home})
    expect(missing.code).to.equal(2)
    expect(missing.json().error).to.include({code: 'missing_input'})
    expect(missing.json().error.message).to.contain('"count"')

    const unknown = await runPf(['flow', 'test', '--flow', fixture('flex-typed'), '--inputs', 'word=go', '--inputs', 'cout=2'], {home})
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.match(/^Error: Unknown input "cout"; did you mean "count"\?/)

    const badInt = await runPf(
      ['flow', 'test', '--flow', fixture('flex-typed'), '--inputs', 'word=go', '--inputs', 'count=two', '--json'],
      {home},
    )
    expect(badInt.code).to.equal(2)
    expect(badInt.json().error).to.deep.equal({code: 'invalid_input', message: 'Input "count" must be an integer; got "two".'})
    // Bad input runs nothing, so nothing is traced.
    expect(
      existsSync(path.join(home, 'pf.sqlite')) ? readStore(home, db => db.prepare('SELECT COUNT(*) AS n FROM spans').get()) : {n: 0},
    ).to.deep.equal({n: 0})
  })

  it('reports a missing flow folder, a folder without a flow file, malformed YAML (file:line), a missing entry module and a missing export', async () => {
    const noFolder = await runPf(['flow', 'test', '--flow', path.join(home, 'nope'), '--json'], {home})
    expect(noFolder.code).to.equal(2)
    expect(noFolder.json().error.code).to.equal('flow_not_found')
    expect(noFolder.json().error.message).to.contain(path.join(home, 'nope'))

    const empty = tempDir('pf-empty-flow-')
    const noFile = await runPf(['flow', 'test', '--flow', empty], {home})
    expect(noFile.code).to.equal(2)
    expect(noFile.stderr).to.contain(`No flow.flex.yaml or flow.dag.yaml in ${empty}`)

    const malformed = await runPf(['flow', 'test', '--flow', fixture('flex-malformed'), '--json'], {home})
    expect(malformed.code).to.equal(2)
    expect(malformed.json().error.message).to.contain(`${path.join(fixture('flex-malformed'), 'flow.flex.yaml')}:5:`)

    const noModule = await runPf(['flow', 'test', '--flow', fixture('flex-missing-module'), '--json'], {home})
    expect(noModule.code).to.equal(2)
    expect(noModule.json().error).to.include({code: 'flow_entry_not_found'})
    expect(noModule.json().error.message).to.contain('entry module "not_here" not found')

    const noExport = await runPf(['flow', 'test', '--flow', fixture('flex-no-export')], {home})
    expect(noExport.code).to.equal(2)
    expect(noExport.stderr).to.contain('flow.ts does not export a function or class "run"; it exports: start, stop.')
  })

  it('constructs a class entry with init values (defaults and --init) and calls it', async () => {
    const missing = await runPf(['flow', 'test', '--flow', fixture('flex-class'), '--json'], {home})
    expect(missing.code).to.equal(2)
    expect(missing.json().error.message).to.contain('Missing init value "punctuation"')

    const ok = await runPf(['flow', 'test', '--flow', fixture('flex-class'), '--init', 'punctuation=!', '--inputs', 'name=pf', '--json'], {
      home,
    })
    expect(ok.code, ok.stderr).to.equal(0)
    expect(ok.json().output).to.deep.equal({greeting: 'Hello, pf!'})
    const both = await runPf(
      ['flow', 'test', '--flow', fixture('flex-class'), '--init', 'punctuation=?', '--init', 'greeting=Hi', '--json'],
      {home},
    )
    expect(both.json().output).to.deep.equal({greeting: 'Hi, world?'})
    const spans = storedSpans(home, both.json().traceId)
    expect(spans.map(s => s.name)).to.have.members(['Greeter', 'decorate'])
  })

  it('a function that throws: exit 1, its message and the user stack frames, an Error root span with the exception event, a stored line run', async () => {
    const failed = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=fail'], {home})
    expect(failed.code).to.equal(1)
    const lines = failed.stderr.split('\n')
    expect(lines[0]).to.equal('Error: Flow failed: TypeError: asked to fail')
    expect(lines[1]).to.match(new RegExp(`^\\s+at answer \\(${fixture('flex-basic').replace(/[/.-]/g, '\\$&')}/flow\\.ts:\\d+:\\d+\\)$`))
    expect(failed.stderr).not.to.contain('dist/flow')

    const json = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=fail', '--json'], {home})
    expect(json.code).to.equal(1)
    const error = json.json().error
    expect(error).to.include({code: 'flow_failed', status: 'Failed', collection: 'flex-basic'})
    const [root] = storedSpans(home, error.traceId).filter(s => s.parent_id === null)
    expect(root.status).to.deep.equal({status_code: 'Error', description: 'TypeError: asked to fail'})
    const exception = root.events.find(e => e.name === 'exception')!
    expect(exception.attributes).to.include({'exception.type': 'TypeError', 'exception.message': 'asked to fail'})
    expect(exception.attributes['exception.stacktrace']).to.contain('flow.ts')
    const row = readStore(home, db => db.prepare('SELECT status, error FROM line_runs WHERE trace_id = ?').get(error.traceId))
    expect(row).to.deep.equal({status: 'Error', error: 'TypeError: asked to fail'})
  })

  it('loads a TypeScript entry outside any package (pf/sdk still resolves) and a JavaScript entry', async () => {
    const outside = tempDir('pf-outside-')
    cpSync(fixture('flex-basic'), path.join(outside, 'my_flow'), {recursive: true})
    const ts = await runPf(['flow', 'test', '--flow', 'my_flow', '--json'], {home, cwd: outside})
    expect(ts.code, ts.stderr).to.equal(0)
    expect(ts.json()).to.include({collection: 'my_flow'})
    expect(storedSpans(home, ts.json().traceId).map(s => s.name)).to.have.members(['answer', 'lookup', 'shout'])

    cpSync(fixture('flex-js'), path.join(outside, 'js_flow'), {recursive: true})
    const js = await runPf(['flow', 'test', '--flow', path.join(outside, 'js_flow'), '--inputs', 'text=a b', '--json'], {home})
    expect(js.code, js.stderr).to.equal(0)
    expect(js.json().output).to.deep.equal({words: 2, first: 'a'})
    expect(storedSpans(home, js.json().traceId).map(s => s.name)).to.have.members(['summarize', 'countWords', 'firstWord'])
  })

  it("leaves the flow's environment as the user gave it (pf's start-up switch for oclif's engine check is gone by then)", async () => {
    const flow = tempDir('pf-env-flow-')
    writeFileSync(path.join(flow, 'flow.flex.yaml'), 'entry: flow:run\n')
    writeFileSync(path.join(flow, 'flow.mjs'), 'export const run = () => ({engine: process.env.OCLIF_DISABLE_ENGINE_WARNING ?? null})\n')
    const unset = await runPf(['flow', 'test', '--flow', flow, '--json'], {home})
    expect(unset.code, unset.stderr).to.equal(0)
    expect(unset.json().output).to.deep.equal({engine: null})
    const set = await runPf(['flow', 'test', '--flow', flow, '--json'], {home, env: {OCLIF_DISABLE_ENGINE_WARNING: 'false'}})
    expect(set.code, set.stderr).to.equal(0)
    expect(set.json().output).to.deep.equal({engine: 'false'})
  })

  it('trace.destination=none: runs the flow, creates no store at all', async () => {
    writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: none\n', {mode: 0o600})
    const result = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--json'], {home})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.json().output.length).to.equal(20)
    expect(result.json().traceId).to.equal(undefined)
    expect(result.json().links).to.equal(undefined)
    expect(existsSync(path.join(home, 'pf.sqlite'))).to.equal(false)
  })

  it('records nested traced functions as child spans with the spec attributes, events, resource and masked secrets; the store is 0600', async () => {
    const result = await runPf(['flow', 'test', '--flow', fixture('flex-basic'), '--inputs', 'question=hello', '--json'], {home})
    expect(result.code, result.stderr).to.equal(0)
    const {traceId, lineRunId} = result.json()
    const spans = storedSpans(home, traceId)
    expect(spans).to.have.length(3)
    const byName = Object.fromEntries(spans.map(s => [s.name, s]))
    const root = byName.answer
    expect(root.parent_id).to.equal(null)
    expect(root.attributes).to.include({framework: 'promptflow', span_type: 'Flow', function: 'answer', line_run_id: lineRunId})
    expect(JSON.parse(root.attributes.inputs)).to.deep.equal({question: 'hello', times: 2})
    expect(JSON.parse(root.attributes.output)).to.deep.equal({answer: 'HELLO HELLO', length: 5})
    for (const name of ['shout', 'lookup']) {
      const child = byName[name]
      expect(child.parent_id, name).to.equal(root.context.span_id)
      expect(child.attributes, name).to.include({framework: 'promptflow', span_type: 'Function', function: name, line_run_id: lineRunId})
      expect(
        child.events.map(e => e.name),
        name,
      ).to.deep.equal(['promptflow.function.inputs', 'promptflow.function.output'])
      expect(child.events[0].attributes.payload).to.equal(child.attributes.inputs)
      expect(child.events[1].attributes.payload).to.equal(child.attributes.output)
      expect(child.resource.attributes).to.deep.equal({'service.name': 'promptflow', collection: 'flex-basic'})
      expect(child.status.status_code).to.equal('Ok')
    }
    expect(JSON.parse(byName.shout.attributes.inputs)).to.deep.equal({text: 'hello', times: 2})
    expect(JSON.parse(byName.shout.attributes.output)).to.equal('HELLO HELLO')
    // lookup(question, apiKey='sk-…') returns {found, apiKey}: masked by name in inputs and output, and by value anywhere.
    expect(JSON.parse(byName.lookup.attributes.inputs)).to.deep.equal({question: 'hello', apiKey: '***'})
    expect(JSON.parse(byName.lookup.attributes.output)).to.deep.equal({found: 5, apiKey: '***'})
    const raw = readStore(home, db => (db.prepare('SELECT group_concat(data) AS all_data FROM spans').get() as {all_data: string}).all_data)
    expect(raw).not.to.contain('sk-abcdefghijklmnopqrstuvwxyz')
    // A key-like value under an innocent name is masked too.
    const valueSecret = await runPf(
      ['flow', 'test', '--flow', fixture('flex-typed'), '--inputs', 'word=sk-zyxwvutsrqponmlkjihgfe', '--inputs', 'count=1', '--json'],
      {home},
    )
    expect(valueSecret.code, valueSecret.stderr).to.equal(0)
    const [typedRoot] = storedSpans(home, valueSecret.json().traceId)
    expect(JSON.parse(typedRoot.attributes.inputs)).to.deep.equal({word: '***', count: 1, loud: false})
    expect(JSON.stringify(storedSpans(home))).not.to.contain('sk-zyxwvutsrqponmlkjihgfe')
    expect(statSync(path.join(home, 'pf.sqlite')).mode & 0o777).to.equal(0o600)
    expect(statSync(home).mode & 0o777).to.equal(0o700)
  })
})
