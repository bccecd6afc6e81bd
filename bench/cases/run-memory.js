import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {pfBin, tempDir} from '../lib.js'

const budgetMb = 150

/**
 * Peak RSS of `pf run create` over 100k and 1M lines of a trivial flow (traced to the local store as usual):
 * the 1M-line run against a 150 MB budget, and 1M over 100k (flat means the data file is streamed, not held).
 */
export default async function runMemory({quick}) {
  const dir = tempDir('pf-bench-run-memory-')
  writeFileSync(path.join(dir, 'flow.flex.yaml'), 'entry: echo:echo\ninputs:\n  text:\n    type: string\n  n:\n    type: int\n')
  writeFileSync(path.join(dir, 'echo.mjs'), 'export function echo({text, n}) { return {text, n: n + 1} }\n')
  // Written by the child at exit: its peak resident set (KiB).
  const probe = path.join(dir, 'max-rss.mjs')
  writeFileSync(
    probe,
    "import {writeFileSync} from 'node:fs'\nprocess.on('exit', () => writeFileSync(process.env.PF_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)))\n",
  )
  const peakMb = lines => {
    const data = path.join(dir, `data-${lines}.jsonl`)
    const filler = 'x'.repeat(200)
    writeFileSync(data, Array.from({length: lines}, (_, i) => JSON.stringify({text: `line ${i} ${filler}`, n: i})).join('\n') + '\n')
    const rssFile = path.join(dir, `rss-${lines}`)
    const home = tempDir('pf-bench-run-memory-home-')
    const result = spawnSync(
      process.execPath,
      ['--import', pathToFileURL(probe).href, pfBin, 'run', 'create', '--flow', dir, '--data', data, '--json'],
      {
        env: {...process.env, PF_HOME_DIRECTORY: home, PF_BENCH_RSS_FILE: rssFile},
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      },
    )
    if (result.status !== 0) throw new Error(`pf run create (${lines} lines) exited ${result.status}: ${result.stderr}`)
    const {run} = JSON.parse(result.stdout)
    if (run.completed_lines !== lines) throw new Error(`run completed ${run.completed_lines} of ${lines} lines`)
    return {mb: Number(readFileSync(rssFile, 'utf8')) / 1024, seconds: run.duration}
  }
  const small = peakMb(quick ? 200 : 100_000)
  const large = peakMb(quick ? 2000 : 1_000_000)
  return [
    {
      name: 'Run memory: peak RSS of a 1M-line run vs a 150 MB budget',
      baseline: `budget: ${budgetMb} MB`,
      measured: `1M lines: ${large.mb.toFixed(0)} MB (run ${large.seconds.toFixed(1)} s)`,
      ratio: large.mb / budgetMb,
      target: '≤ 1',
      met: large.mb <= budgetMb,
    },
    {
      name: 'Run memory: peak RSS 1M lines vs 100k lines (flat when lines stream)',
      baseline: `100k lines: ${small.mb.toFixed(0)} MB`,
      measured: `1M lines: ${large.mb.toFixed(0)} MB`,
      ratio: large.mb / small.mb,
      target: '≤ 1.25×',
      met: large.mb / small.mb <= 1.25,
    },
  ]
}
