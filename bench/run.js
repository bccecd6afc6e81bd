// npm run bench [-- case …]: runs bench/cases/*.js; a full run rewrites docs/benchmarks.md.
// Each figure is a ratio against a baseline measured in the same run (median of alternating pairs).
import {readdirSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {repoRoot} from './lib.js'

const pairs = Number(process.env.PF_BENCH_PAIRS ?? 15)
const only = process.argv.slice(2)
const casesDir = path.join(repoRoot, 'bench', 'cases')
const names = readdirSync(casesDir)
  .filter(f => f.endsWith('.js'))
  .map(f => f.replace(/\.js$/, ''))
  .filter(n => only.length === 0 || only.includes(n))
  .sort()

const rows = []
for (const name of names) {
  process.stderr.write(`bench: ${name}…\n`)
  const {default: run} = await import(path.join(casesDir, name + '.js'))
  for (const row of await run({pairs})) {
    rows.push({case: name, ...row})
    process.stderr.write(`  ${row.name}: ${formatRatio(row.ratio)} (target ${row.target}) ${row.met ? 'met' : 'MISSED'}\n`)
  }
}

function formatRatio(ratio) {
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : `${ratio.toFixed(2)}×`
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const lines = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (do not edit by hand). Every figure is a ratio against a baseline measured in the',
  `same run, as the median of ${pairs} alternating pairs after a warm-up, so a slower or busier machine moves both sides.`,
  '',
  `- Date: ${new Date().toISOString()}`,
  `- Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`,
  `- Node: ${process.version}`,
  '',
  '| Figure | Baseline | Measured | Ratio | Target | Met |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map(r => `| ${r.name} | ${r.baseline} | ${r.measured} | ${formatRatio(r.ratio)} | ${r.target} | ${r.met ? 'yes' : 'no'} |`),
  '',
]
// A partial run (named cases) prints its figures but keeps the document whole.
if (only.length === 0) {
  writeFileSync(path.join(repoRoot, 'docs', 'benchmarks.md'), lines.join('\n'))
  process.stderr.write(`bench: wrote docs/benchmarks.md (${rows.length} figures)\n`)
} else {
  process.stderr.write('bench: partial run; docs/benchmarks.md left as it was (run `npm run bench` for all figures)\n')
}
