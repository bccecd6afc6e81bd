import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const hello = path.join(repoRoot, 'examples', 'hello')

/** Runs pf under `script`, which gives it a real pseudo-terminal (stdout and stderr are TTYs). */
const onTty = (args: string[], home: string) =>
  new Promise<{out: string; code: number | null}>((resolve, reject) => {
    const command = [process.execPath, pfBin, ...args].map(a => `'${a}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, PF_HOME_DIRECTORY: home, NO_COLOR: '1'}})
    let out = ''
    child.stdout.on('data', d => (out += d))
    child.stdin.end()
    child.on('error', reject)
    child.on('close', code => resolve({out, code}))
  })

describe('pf run create progress (built CLI)', () => {
  it('shows a progress bar with lines done, failures and rate on a terminal', async () => {
    const home = tempDir('pf-home-')
    try {
      const {out, code} = await onTty(
        ['run', 'create', '--flow', hello, '--data', path.join(hello, 'data.jsonl'), '--name', 'tty_run'],
        home,
      )
      expect(code, out).to.equal(0)
      expect(out).to.match(/3\/3 lines \| 0 failed \| [\d.]+\/s \| ETA/)
    } finally {
      // On a terminal pf starts the viewer in the background for the run's link: leave no process behind.
      await runPf(['service', 'stop'], {home})
    }
  })

  it('stays quiet (no bar, no control codes) when not a terminal', async () => {
    const home = tempDir('pf-home-')
    const result = await runPf(['run', 'create', '--flow', hello, '--data', path.join(hello, 'data.jsonl'), '--name', 'piped_run'], {home})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr + result.stdout).not.to.match(/lines \|/)
    expect(result.stderr + result.stdout).not.to.contain('\u001b[')
  })
})
