import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures')
const answerFlow = path.join(fixtures, 'flows', 'run-answer')
const evalFlow = path.join(fixtures, 'flows', 'run-eval')
const brokenFlow = path.join(fixtures, 'flows', 'run-broken')
const questions = path.join(fixtures, 'data', 'questions.jsonl')
const good = path.join(fixtures, 'data', 'good.jsonl')
const csv = path.join(fixtures, 'data', 'questions.csv')

const jsonLines = (file: string): any[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(l => l.trim() !== '')
    .map(l => JSON.parse(l))

interface StoredSpan {
  name: string
  parent_id: string | null
  status: string
  collection: string
  data: string
}

const spansOf = (home: string, run: string): Array<StoredSpan & {attributes: Record<string, unknown>}> => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    const rows = db.prepare('SELECT name, parent_id, status, collection, data FROM spans WHERE run = ?').all(run) as StoredSpan[]
    return rows.map(r => ({...r, attributes: JSON.parse(r.data).attributes}))
  } finally {
    db.close()
  }
}

describe('pf run (built CLI)', function () {
  this.timeout(120_000)
  let home: string
  beforeEach(() => {
    home = tempDir('pf-run-home-')
  })
  const runDir = (name: string) => path.join(home, '.runs', name)
  const create = (args: string[], env?: NodeJS.ProcessEnv) => runPf(['run', 'create', ...args], {home, env})

  it('runs a flow over a jsonl file: failing lines recorded, run Failed with the count, spans per line', async () => {
    const result = await create(['--flow', answerFlow, '--data', questions, '--name', 'r1', '--json'])
    expect(result.code, result.stderr).to.equal(1)
    const {error} = result.json()
    expect(error.code).to.equal('run_failed')
    expect(error.message).to.contain('1 of 4 lines failed')
    expect(error.run).to.include({name: 'r1', status: 'Failed', total_lines: 4, completed_lines: 3, failed_lines: 1})
    expect(error.links.local).to.match(/\/v1\.0\/ui\/traces\/\?#run=r1$/)
    expect(result.stderr).to.equal('')

    const dir = runDir('r1')
    expect(jsonLines(path.join(dir, 'outputs.jsonl')).sort((a, b) => a.line_number - b.line_number)).to.deep.equal([
      {line_number: 0, answer: 'HI', length: 2},
      {line_number: 1, answer: 'WHAT IS PF', length: 10},
      {line_number: 3, answer: 'OK', length: 2},
    ])
    expect(jsonLines(path.join(dir, 'inputs.jsonl'))).to.have.length(4)
    const errors = jsonLines(path.join(dir, 'errors.jsonl'))
    expect(errors).to.have.length(1)
    expect(errors[0]).to.include({line_number: 2, line_run_id: 'r1_2'})
    expect(errors[0].error).to.include({type: 'RangeError', message: 'cannot answer "fail now"'})
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'))
    expect(meta).to.include({name: 'r1', status: 'Failed', failed_lines: 1})
    expect(readFileSync(path.join(dir, 'logs.txt'), 'utf8')).to.match(/Line 2: failed: RangeError/)
    expect(statSync(dir).mode & 0o777).to.equal(0o700)
    for (const file of readdirSync(dir)) expect(statSync(path.join(dir, file)).mode & 0o777, file).to.equal(0o600)

    // Every span of every line carries the run and the line number; the failing line's root span is an Error.
    const spans = spansOf(home, 'r1')
    const roots = spans.filter(s => s.parent_id === null)
    expect(roots.map(s => s.attributes.line_number).sort()).to.deep.equal([0, 1, 2, 3])
    for (const span of spans) {
      expect(span.attributes.batch_run_id).to.equal('r1')
      expect(span.collection).to.equal('r1')
      expect(JSON.parse(span.data).resource.attributes).to.include({collection: 'r1', 'collection.id': 'r1'})
      expect(span.attributes.line_run_id).to.equal(`r1_${span.attributes.line_number}`)
    }
    expect(spans.filter(s => s.parent_id !== null).length).to.equal(3)
    expect(roots.find(s => s.attributes.line_number === 2)!.status).to.equal('Error')
    expect(roots.filter(s => s.status === 'Ok')).to.have.length(3)
  })

  it('runs a csv file with a column mapping (types coerced); quiet on stdout when piped', async () => {
    const result = await create(['--flow', answerFlow, '--data', csv, '--column-mapping', 'question=${data.text}', '--name', 'c1'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.contain('Run c1: Completed, 2 completed, 0 failed of 2 lines')
    expect(result.stderr).to.contain('Trace: http://127.0.0.1:23333/v1.0/ui/traces/?#run=c1')
    const outputs = jsonLines(path.join(runDir('c1'), 'outputs.jsonl')).sort((a, b) => a.line_number - b.line_number)
    expect(outputs).to.deep.equal([
      {line_number: 0, answer: 'HELLO HELLO', length: 5},
      {line_number: 1, answer: 'A, B', length: 4},
    ])
    const show = (await runPf(['run', 'show', 'c1', '--json'], {home})).json()
    expect(show).to.include({status: 'Completed', completed_lines: 2, failed_lines: 0})
    expect(show.column_mapping).to.deep.equal({question: '${data.text}', repeat: '${data.repeat}'})
  })

  it('--stream prints each line as it ends', async () => {
    const result = await create(['--flow', answerFlow, '--data', good, '--stream', '--name', 's1'])
    expect(result.code, result.stderr).to.equal(0)
    const lines = result.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(lines.map(l => l.line_number).sort()).to.deep.equal([0, 1, 2, 3])
    expect(lines.find(l => l.line_number === 3)).to.deep.equal({line_number: 3, status: 'Completed', output: {answer: 'YES', length: 3}})
    // With --json, stdout stays one JSON document and the stream goes to stderr.
    const json = await create(['--flow', answerFlow, '--data', good, '--stream', '--json', '--name', 's2'])
    expect(json.json().run.status).to.equal('Completed')
    expect(json.stderr.trim().split('\n')).to.have.length(4)
  })

  it('rejects a mapping to a missing column before the run starts, naming it', async () => {
    const mapped = await create(['--flow', answerFlow, '--data', csv, '--column-mapping', 'question=${data.nope}', '--json'])
    expect(mapped.code).to.equal(2)
    expect(mapped.json().error).to.include({code: 'unknown_column', column: 'nope'})
    expect(mapped.json().error.message).to.contain('"nope"').and.contain('text, expected, repeat')
    // Default mapping: the csv has no "question" column.
    const defaulted = await create(['--flow', answerFlow, '--data', csv, '--json'])
    expect(defaulted.code).to.equal(2)
    expect(defaulted.json().error).to.include({code: 'unknown_column', column: 'question'})
    expect((await runPf(['run', 'list', '--json'], {home})).json()).to.deep.equal([])
    expect(existsSync(path.join(home, '.runs'))).to.equal(false)
  })

  it('evaluates a base run with ${run.outputs.x}; metrics from the aggregation; spans reference the base lines', async () => {
    expect((await create(['--flow', answerFlow, '--data', good, '--name', 'base'])).code).to.equal(0)
    const result = await create([
      '--flow',
      evalFlow,
      '--data',
      good,
      '--run',
      'base',
      '--name',
      'eval1',
      '--json',
      '--column-mapping',
      'answer=${run.outputs.answer}',
      '--column-mapping',
      'expected=${data.expected}',
    ])
    expect(result.code, result.stdout + result.stderr).to.equal(0)
    expect(result.json().run).to.include({status: 'Completed', run: 'base', completed_lines: 4})
    const outputs = jsonLines(path.join(runDir('eval1'), 'outputs.jsonl')).sort((a, b) => a.line_number - b.line_number)
    expect(outputs.map(o => o.correct)).to.deep.equal([true, true, false, true])
    const metrics = await runPf(['run', 'show-metrics', 'eval1', '--json'], {home})
    expect(metrics.json()).to.deep.equal({accuracy: 0.75, graded: 4})
    expect((await runPf(['run', 'show-metrics', 'eval1'], {home})).stdout).to.contain('"accuracy": 0.75')

    const roots = spansOf(home, 'eval1').filter(s => s.parent_id === null && s.attributes.line_number !== undefined)
    expect(roots).to.have.length(4)
    for (const span of roots) {
      expect(span.attributes['referenced.batch_run_id']).to.equal('base')
      expect(span.attributes['referenced.line_run_id']).to.equal(`base_${span.attributes.line_number}`)
    }
    // ${run.inputs.x} works too, and without --data the base run's data is used.
    const byInputs = await create([
      '--flow',
      evalFlow,
      '--run',
      'base',
      '--name',
      'eval2',
      '--json',
      '--column-mapping',
      'answer=${run.inputs.question}',
      '--column-mapping',
      'expected=${data.question}',
    ])
    expect(byInputs.code, byInputs.stdout).to.equal(0)
    expect(byInputs.json().run.metrics).to.deep.equal({accuracy: 1, graded: 4})

    const unknown = await create([
      '--flow',
      evalFlow,
      '--data',
      good,
      '--run',
      'base',
      '--json',
      '--column-mapping',
      'answer=${run.outputs.nope}',
    ])
    expect(unknown.code).to.equal(2)
    expect(unknown.json().error).to.include({code: 'unknown_column', column: 'nope'})
    expect(unknown.json().error.message).to.contain('outputs of run base')
  })

  it('--resume-from reruns only the failed lines into a new run, reusing the completed ones', async () => {
    expect((await create(['--flow', answerFlow, '--data', questions, '--name', 'first'])).code).to.equal(1)
    const result = await create(['--resume-from', 'first', '--name', 'second', '--json'], {ANSWER_FIXED: '1'})
    expect(result.code, result.stdout).to.equal(0)
    const run = result.json().run
    expect(run).to.include({status: 'Completed', resume_from: 'first', completed_lines: 4, failed_lines: 0})
    expect(run.properties.reused_lines).to.equal(3)
    const outputs = jsonLines(path.join(runDir('second'), 'outputs.jsonl')).sort((a, b) => a.line_number - b.line_number)
    expect(outputs.map(o => o.answer)).to.deep.equal(['HI', 'WHAT IS PF', 'FAIL NOW', 'OK'])
    expect(jsonLines(path.join(runDir('second'), 'inputs.jsonl'))).to.have.length(4)
    expect(readFileSync(path.join(runDir('second'), 'logs.txt'), 'utf8')).to.contain('Line 0: completed in run first; reused.')
    // Only line 2 ran again.
    const roots = spansOf(home, 'second').filter(s => s.parent_id === null)
    expect(roots.map(s => s.attributes.line_number)).to.deep.equal([2])
    // Flags that would change what the lines mean are refused.
    const conflicting = await create(['--resume-from', 'first', '--data', good, '--json'])
    expect(conflicting.code).to.equal(2)
    expect(conflicting.json().error.message).to.contain('--data')
  })

  it('lists, shows, archives, restores, updates and deletes runs', async () => {
    expect((await create(['--flow', answerFlow, '--data', good, '--name', 'm1'])).code).to.equal(0)
    expect((await create(['--flow', answerFlow, '--data', good, '--name', 'm2', '--display-name', 'second one'])).code).to.equal(0)
    const list = (await runPf(['run', 'list', '--json'], {home})).json()
    expect(list.map((r: any) => r.name)).to.deep.equal(['m2', 'm1'])
    expect((await runPf(['run', 'list', '--max-results', '1', '--json'], {home})).json()).to.have.length(1)
    expect((await runPf(['run', 'list'], {home})).stdout).to.match(/NAME\s+STATUS[\s\S]*m2\s+Completed\s+4\s+0\s+\S+\s+second one/)

    const details = await runPf(['run', 'show-details', 'm1', '--json'], {home})
    expect(details.json()[3]).to.deep.equal({
      line_number: 3,
      status: 'Completed',
      inputs: {question: 'yes', repeat: 1, sleep_ms: 0},
      outputs: {answer: 'YES', length: 3},
    })
    const table = (await runPf(['run', 'show-details', 'm1'], {home})).stdout
    expect(table.split('\n')[0]).to.match(
      /^LINE\s+inputs\.question\s+inputs\.repeat\s+inputs\.sleep_ms\s+outputs\.answer\s+outputs\.length\s+ERROR$/,
    )
    expect(table).to.match(/3\s+yes\s+1\s+0\s+YES\s+3/)

    expect((await runPf(['run', 'archive', 'm1'], {home})).code).to.equal(0)
    expect((await runPf(['run', 'list', '--json'], {home})).json().map((r: any) => r.name)).to.deep.equal(['m2'])
    expect((await runPf(['run', 'list', '--archived-only', '--json'], {home})).json().map((r: any) => r.name)).to.deep.equal(['m1'])
    expect((await runPf(['run', 'restore', 'm1', '--json'], {home})).json().archived).to.equal(false)
    expect((await runPf(['run', 'list', '--all-results', '--json'], {home})).json()).to.have.length(2)

    const updated = await runPf(['run', 'update', 'm1', '--set', 'display_name=Baseline', '--set', 'tags.team=search', '--json'], {home})
    expect(updated.json()).to.include({display_name: 'Baseline'})
    expect(updated.json().tags).to.deep.equal({team: 'search'})
    const badSet = await runPf(['run', 'update', 'm1', '--set', 'status=Completed', '--json'], {home})
    expect(badSet.code).to.equal(2)
    expect((await runPf(['run', 'show', 'm1', '--json'], {home})).json()).to.include({display_name: 'Baseline', status: 'Completed'})

    const stream = await runPf(['run', 'stream', 'm1'], {home})
    expect(stream.code).to.equal(0)
    expect(stream.stdout).to.contain('Run m1 started').and.contain('Run m1 Completed')

    const unconfirmed = await runPf(['run', 'delete', 'm1', '--json'], {home})
    expect(unconfirmed.code).to.equal(2)
    expect(unconfirmed.json().error.code).to.equal('confirmation_required')
    expect(existsSync(runDir('m1'))).to.equal(true)
    expect((await runPf(['run', 'delete', 'm1', '--yes'], {home})).code).to.equal(0)
    expect(existsSync(runDir('m1'))).to.equal(false)
    const gone = await runPf(['run', 'show', 'm1', '--json'], {home})
    expect(gone.code).to.equal(2)
    expect(gone.json().error.code).to.equal('run_not_found')
  })

  it('reads a run YAML file with paths relative to it; flags override it', async () => {
    const dir = tempDir('pf-run-yaml-')
    writeFileSync(path.join(dir, 'data.jsonl'), '{"q": "from yaml"}\n')
    writeFileSync(
      path.join(dir, 'run.yaml'),
      `flow: ${path.relative(dir, answerFlow)}\ndata: data.jsonl\ncolumn_mapping:\n  question: \${data.q}\n  repeat: 2\nname: y1\ndisplay_name: From YAML\ntags:\n  k: v\n`,
    )
    // run.output_path moves the run folders.
    const outputBase = tempDir('pf-run-out-')
    expect((await runPf(['config', 'set', `run.output_path=${outputBase}`], {home})).code).to.equal(0)
    const result = await create(['--file', path.join(dir, 'run.yaml'), '--name', 'y2', '--json'])
    expect(result.code, result.stdout).to.equal(0)
    expect(result.json().run.output_path).to.equal(path.join(outputBase, 'y2'))
    expect(result.json().run).to.include({name: 'y2', display_name: 'From YAML', status: 'Completed'})
    expect(result.json().run.tags).to.deep.equal({k: 'v'})
    expect(jsonLines(path.join(outputBase, 'y2', 'outputs.jsonl'))).to.deep.equal([
      {line_number: 0, answer: 'FROM YAML FROM YAML', length: 9},
    ])
    // ${flow_directory} in run.output_path is the flow's folder (the reference's macro); no hidden .runs under it.
    expect((await runPf(['config', 'set', 'run.output_path=${flow_directory}/my-runs'], {home})).code).to.equal(0)
    const flowCopy = path.join(tempDir('pf-flow-copy-'), 'answer')
    cpSync(answerFlow, flowCopy, {recursive: true})
    const macro = await create([
      '--flow',
      flowCopy,
      '--data',
      path.join(dir, 'data.jsonl'),
      '--column-mapping',
      'question=${data.q}',
      '--name',
      'y3',
      '--json',
    ])
    expect(macro.code, macro.stdout).to.equal(0)
    expect(macro.json().run.output_path).to.equal(path.join(flowCopy, 'my-runs', 'y3'))
    expect(existsSync(path.join(flowCopy, 'my-runs', 'y3', 'outputs.jsonl'))).to.equal(true)
    await runPf(['config', 'unset', 'run.output_path'], {home})

    writeFileSync(path.join(dir, 'bad.yaml'), 'flow: [unclosed\n')
    const bad = await create(['--file', path.join(dir, 'bad.yaml'), '--json'])
    expect(bad.code).to.equal(2)
    expect(bad.json().error.code).to.equal('run_file_invalid')
    expect(bad.json().error.message).to.contain('bad.yaml:')
  })

  it('refuses bad input before any line runs (exit 2, nothing recorded)', async () => {
    const dir = tempDir('pf-run-bad-')
    const malformed = path.join(dir, 'bad.jsonl')
    writeFileSync(malformed, '{"question": "a"}\n{"question": \n')
    const empty = path.join(dir, 'empty.jsonl')
    writeFileSync(empty, '\n\n')
    const headerOnly = path.join(dir, 'empty.csv')
    writeFileSync(headerOnly, 'question\n')
    expect((await create(['--flow', answerFlow, '--data', good, '--name', 'taken'])).code).to.equal(0)

    const cases: Array<[string[], string, RegExp]> = [
      [['--flow', answerFlow, '--data', malformed], 'data_malformed', /bad\.jsonl:2: /],
      [['--flow', answerFlow, '--data', empty], 'data_empty', /empty\.jsonl has no lines/],
      [['--flow', answerFlow, '--data', headerOnly], 'data_empty', /no rows below its header/],
      [['--flow', answerFlow, '--data', path.join(dir, 'missing.jsonl')], 'data_not_found', /missing\.jsonl does not exist/],
      [['--flow', evalFlow, '--data', good, '--run', 'nobase'], 'run_not_found', /Base run "nobase"/],
      [['--resume-from', 'noresume'], 'run_not_found', /Run "noresume" \(--resume-from\)/],
      [['--flow', answerFlow, '--data', good, '--name', 'taken'], 'run_exists', /"taken" already exists/],
      [['--flow', brokenFlow, '--data', good], 'flow_load_failed', /broken at import/],
      [['--flow', answerFlow, '--data', good, '--column-mapping', 'question'], 'invalid_column_mapping', /not NAME=VALUE/],
      [['--flow', answerFlow, '--data', good, '--column-mapping', 'question=${data}'], 'invalid_column_mapping', /\$\{data\.<column>\}/],
      [['--flow', answerFlow, '--data', good, '--column-mapping', 'answer=${run.outputs.x}'], 'invalid_column_mapping', /not an input/],
      [['--flow', answerFlow, '--data', good, '--column-mapping', 'question=${run.outputs.x}'], 'invalid_column_mapping', /pass --run/],
      [['--flow', answerFlow, '--data', good, '--name', '../escape'], 'invalid_run_name', /may hold only/],
    ]
    for (const [args, code, message] of cases) {
      const result = await create([...args, '--json'])
      expect(result.code, `${args.join(' ')}: ${result.stdout}${result.stderr}`).to.equal(2)
      const {error} = result.json()
      expect(error.code, args.join(' ')).to.equal(code)
      expect(error.message, args.join(' ')).to.match(message)
      expect(error.message).to.not.contain('\n')
    }
    const human = await create(['--flow', answerFlow, '--data', malformed])
    expect(human.stderr).to.match(/^Error: .*bad\.jsonl:2: /)
    expect(human.stderr).to.not.match(/\n\s+at /)
    expect((await runPf(['run', 'list', '--json'], {home})).json().map((r: any) => r.name)).to.deep.equal(['taken'])
    expect(readdirSync(path.join(home, '.runs'))).to.deep.equal(['taken'])
  })

  it('Ctrl-C cancels: no new lines, run Canceled, finished outputs kept, exit 130; stream follows it', async () => {
    const dir = tempDir('pf-run-slow-')
    const data = path.join(dir, 'slow.jsonl')
    writeFileSync(data, Array.from({length: 60}, (_, i) => JSON.stringify({question: `q${i}`, sleep_ms: 150})).join('\n') + '\n')
    const child = spawn(
      process.execPath,
      [pfBin, 'run', 'create', '--flow', answerFlow, '--data', data, '--name', 'slow', '--workers', '2', '--json'],
      {
        cwd: home,
        env: {...process.env, PF_HOME_DIRECTORY: home},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.on('data', d => (stdout += d))
    const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
    const outputs = path.join(runDir('slow'), 'outputs.jsonl')
    const count = () => (existsSync(outputs) ? readFileSync(outputs, 'utf8').split('\n').filter(Boolean).length : 0)
    const deadline = Date.now() + 30_000
    while (count() < 4 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    expect(count()).to.be.at.least(4)
    // `pf run stream` follows the live run and returns when it ends.
    const streaming = runPf(['run', 'stream', 'slow'], {home})
    await new Promise(resolve => setTimeout(resolve, 300))
    child.kill('SIGINT')
    expect(await exited).to.equal(130)
    const error = JSON.parse(stdout).error
    expect(error.code).to.equal('run_canceled')
    expect(error.run.status).to.equal('Canceled')
    const show = (await runPf(['run', 'show', 'slow', '--json'], {home})).json()
    expect(show.status).to.equal('Canceled')
    const kept = count()
    expect(kept).to.be.at.least(4).and.below(60)
    expect(show.completed_lines).to.equal(kept)
    const streamed = await streaming
    expect(streamed.code).to.equal(0)
    expect(streamed.stdout).to.contain('Run slow started').and.contain('Run slow Canceled')

    // Resuming the canceled run runs only the lines it never finished.
    const resumed = await create(['--resume-from', 'slow', '--name', 'slow2', '--json'])
    expect(resumed.code, resumed.stdout).to.equal(0)
    expect(resumed.json().run).to.include({status: 'Completed', completed_lines: 60})
    expect(resumed.json().run.properties.reused_lines).to.equal(kept)
    expect(spansOf(home, 'slow2').filter(s => s.parent_id === null)).to.have.length(60 - kept)
    const all = jsonLines(path.join(runDir('slow2'), 'outputs.jsonl')).map(o => o.line_number)
    expect(all.sort((a, b) => a - b)).to.deep.equal(Array.from({length: 60}, (_, i) => i))
  })
})
