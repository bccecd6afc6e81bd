import {expect} from 'chai'
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {cleanEnv, pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const answerFlow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'run-answer')

const jsonLines = (file: string): any[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(l => l.trim() !== '')
        .map(l => JSON.parse(l))
    : []

/** Line numbers of the run's root spans (one per traced line) in the local store. */
const tracedLines = (home: string, run: string): number[] => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    const rows = db.prepare('SELECT data FROM spans WHERE run = ? AND parent_id IS NULL').all(run) as Array<{data: string}>
    return rows.map(r => Number(JSON.parse(r.data).attributes.line_number))
  } finally {
    db.close()
  }
}

/** Starts `pf run create` over `lines` slow lines and resolves once `after` lines are recorded. */
const startRun = async (home: string, name: string, lines: number, sleepMs: number, after: number) => {
  const data = path.join(tempDir('pf-signal-data-'), 'data.jsonl')
  writeFileSync(data, Array.from({length: lines}, (_, i) => JSON.stringify({question: `q${i}`, sleep_ms: sleepMs})).join('\n') + '\n')
  const child: ChildProcess = spawn(
    process.execPath,
    [pfBin, 'run', 'create', '--flow', answerFlow, '--data', data, '--name', name, '--workers', '4', '--json'],
    {
      cwd: home,
      env: {...cleanEnv(), PF_HOME_DIRECTORY: home},
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  child.stdout!.on('data', d => (stdout += d))
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const outputs = path.join(home, '.runs', name, 'outputs.jsonl')
  const deadline = Date.now() + 30_000
  while (jsonLines(outputs).length < after && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  return {child, exited, stdout: () => stdout, outputs}
}

describe('signals during pf run create (built CLI)', () => {
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })

  for (const [signal, exitCode] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    it(`${signal} ends a run like Ctrl-C: Canceled, spans recorded, exit ${exitCode}`, async () => {
      const run = await startRun(home, 'sig', 80, 100, 4)
      run.child.kill(signal)
      expect(await run.exited).to.equal(exitCode)
      const error = JSON.parse(run.stdout()).error
      expect(error.code).to.equal('run_canceled')
      expect(error.run.status).to.equal('Canceled')
      expect(error.run.error.message).to.match(new RegExp(`^Canceled by ${signal} after \\d+ of 80 lines\\.$`))
      const finished = jsonLines(run.outputs).map(o => o.line_number)
      expect(finished.length).to.be.at.least(4).and.below(80)
      // Every finished line has its trace in the store (the buffered spans were written before exit).
      expect(tracedLines(home, 'sig')).to.include.members(finished)
    })

  it('after SIGKILL no line is recorded finished without its spans, and the dead run shows Failed', async () => {
    const run = await startRun(home, 'killed', 400, 5, 40)
    run.child.kill('SIGKILL')
    await run.exited
    const finished = jsonLines(run.outputs).map(o => o.line_number)
    expect(finished.length).to.be.at.least(40).and.below(400)
    expect(tracedLines(home, 'killed')).to.include.members(finished)

    const show = await runPf(['run', 'show', 'killed', '--json'], {home})
    expect(show.json().status).to.equal('Failed')
    expect(show.json().error.code).to.equal('process_ended')
    const list = await runPf(['run', 'list', '--json'], {home})
    expect(list.json().find((r: any) => r.name === 'killed').status).to.equal('Failed')

    // --resume-from leaves every line finished and traced.
    const resumed = await runPf(['run', 'create', '--resume-from', 'killed', '--name', 'resumed', '--json'], {home})
    expect(resumed.code, resumed.stderr).to.equal(0)
    const again = tracedLines(home, 'resumed')
    expect(again.length + finished.length).to.equal(400)
    expect([...again, ...finished].sort((a, b) => a - b)).to.deep.equal(Array.from({length: 400}, (_, i) => i))
  })
})

describe('limits during pf run create (built CLI)', () => {
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
  })

  it('a line that never ends is recorded as failed after --line-timeout; the run goes on', async () => {
    const data = path.join(tempDir('pf-timeout-'), 'data.jsonl')
    writeFileSync(
      data,
      [
        {question: 'quick', sleep_ms: 0},
        {question: 'stuck', sleep_ms: 60_000},
        {question: 'quick too', sleep_ms: 0},
      ]
        .map(r => JSON.stringify(r))
        .join('\n') + '\n',
    )
    const started = Date.now()
    const result = await runPf(
      ['run', 'create', '--flow', answerFlow, '--data', data, '--name', 'limited', '--line-timeout', '1', '--json'],
      {home},
    )
    expect(Date.now() - started).to.be.below(20_000)
    expect(result.code).to.equal(1)
    expect(result.json().error.run).to.include({status: 'Failed', completed_lines: 2, failed_lines: 1})
    const errors = jsonLines(path.join(home, '.runs', 'limited', 'errors.jsonl'))
    expect(errors.map(e => [e.line_number, e.error.type, e.error.message])).to.deep.equal([
      [1, 'LineTimeoutError', 'Line 1 did not finish within 1 s (--line-timeout).'],
    ])
  })

  it('a full disk ends the run Failed with one "disk full" line; every recorded line stays whole', async function () {
    // A 200 KiB tmpfs in a private mount namespace holds the run folder (needs unshare/mount: root or user namespaces).
    const probe = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', tempDir()])
    if (probe.status !== 0) {
      console.log(`      (skipped: cannot mount a small tmpfs here: ${probe.stderr.toString().trim()})`)
      this.skip()
    }
    const out = tempDir('pf-full-')
    const data = path.join(tempDir('pf-full-data-'), 'data.jsonl')
    writeFileSync(data, Array.from({length: 400}, (_, i) => JSON.stringify({question: `q${i}`, repeat: 200})).join('\n') + '\n')
    writeFileSync(path.join(home, 'pf.yaml'), `run:\n  output_path: ${out}\n`)
    const script = `mount -t tmpfs -o size=200k tmpfs "${out}" && "${process.execPath}" "${pfBin}" run create --flow "${answerFlow}" --data "${data}" --name full --workers 4; echo "exit=$?"; for f in "${out}"/full/*.jsonl "${out}"/full/logs.txt; do echo "== $f"; cat "$f"; done`
    const result = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
      env: {...cleanEnv(), PF_HOME_DIRECTORY: home},
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.stdout).to.contain('exit=1')
    const errorLines = result.stderr.trim().split('\n')
    expect(errorLines, result.stderr).to.have.length(1)
    expect(errorLines[0]).to.match(/^Error: Disk full: cannot write .*\.jsonl; free some space/)
    // Every line of every output file parses (none was cut short), and the run has some but not all lines.
    const files = new Map(
      result.stdout
        .split('\n== ')
        .slice(1)
        .map(file => {
          const [name, ...rows] = file.split('\n').filter(Boolean)
          return [path.basename(name), rows]
        }),
    )
    for (const [name, rows] of files) {
      if (name.endsWith('.jsonl')) for (const row of rows) expect(() => JSON.parse(row), `${name}: ${row.slice(0, 80)}`).to.not.throw()
    }
    const lineNumbers = (name: string) => new Set(files.get(name)!.map(row => JSON.parse(row).line_number as number))
    const outputs = lineNumbers('outputs.jsonl')
    expect(outputs.size).to.be.above(0).and.below(400)
    // The file that hit the full disk went back to its last whole record, not further: every line with an output
    // has its inputs (written before it), and every line logged as completed (after its output) has its output.
    const inputs = lineNumbers('inputs.jsonl')
    for (const line of outputs) expect(inputs.has(line), `inputs of line ${line}`).to.equal(true)
    const completed = files.get('logs.txt')!.flatMap(row => / Line (\d+): completed\.$/.exec(row)?.[1] ?? [])
    expect(completed.length).to.be.above(0)
    for (const line of completed) expect(outputs.has(Number(line)), `output of line ${line}`).to.equal(true)
    const show = (await runPf(['run', 'show', 'full', '--json'], {home})).json()
    expect(show.status).to.equal('Failed')
    expect(show.error.code).to.equal('disk_full')
  })
})
