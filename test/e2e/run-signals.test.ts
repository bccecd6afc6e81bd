import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'

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
  const db = new Database(path.join(home, 'pf.sqlite'), {readonly: true})
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
  const child: ChildProcess = spawn(process.execPath, [pfBin, 'run', 'create', '--flow', answerFlow, '--data', data, '--name', name, '--workers', '4', '--json'], {
    cwd: home,
    env: {...cleanEnv(), PF_HOME_DIRECTORY: home},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
