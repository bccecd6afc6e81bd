import {expect} from 'chai'
import path from 'node:path'

import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {readLineRuns} from '../helpers/store.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures')

describe('batch run of a DAG flow with an aggregation node (built CLI)', () => {
  it('runs every line, then the aggregation once; its logMetric values are the run metrics', async () => {
    const home = tempDir('pf-home-')
    const created = await runPf(
      [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'flows', 'dag-eval'),
        '--data',
        path.join(fixtures, 'data', 'grades.jsonl'),
        '--name',
        'grading',
        '--json',
      ],
      {home},
    )
    expect(created.code, created.stderr + created.stdout).to.equal(0)
    const metrics = await runPf(['run', 'show-metrics', 'grading', '--json'], {home})
    expect(metrics.json()).to.deep.equal({accuracy: 0.5})

    const lines = readLineRuns(home).filter(l => l.run === 'grading' && l.line_number !== null)
    expect(lines.map(l => l.line_number).sort()).to.deep.equal([0, 1, 2, 3])
    expect(lines.map(l => JSON.parse(l.outputs).correct)).to.have.members([true, false, true, false])
  })
})
