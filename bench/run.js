// npm run bench [-- [--quick] case …]: runs bench/cases/*.js; a full run of every case rewrites docs/benchmarks.md.
// Each figure is a ratio against a baseline measured in the same run (median of alternating pairs).
//
// Quick mode (`--quick` or PF_BENCH_QUICK=1, run by .ci/run): every case with tiny sizes and one pair, no targets,
// docs left alone; it only proves each case still runs. Any case that throws makes the bench exit 1 (in both modes).
//
// Writing a case: bench/cases/<name>.js default-exports `async function ({pairs, quick})` returning rows
// `{name, baseline, measured, ratio, target, met}` (baseline/measured/target are display text, ratio a number).
// `pairs` is how many alternating (baseline, subject) measurements to take (PF_BENCH_PAIRS, 15 by default; 1 when
// quick). `quick` is true in quick mode: use the smallest sizes that still exercise every code path (a few hundred
// spans or lines, not 100k) so all cases together stay well under 2 minutes; a quick run's ratios are never judged.
// Throw when the subject did not do its work (lost spans, failed exit): a benchmark of a failure means nothing.
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {repoRoot} from './lib.js'

// Every case's temporary files (stores of up to 1M spans, run homes of several GB) go under one folder, removed
// when the bench ends; the cases and the processes they start inherit TMPDIR.
const benchTemp = mkdtempSync(path.join(os.tmpdir(), 'pf-bench-'))
process.env.TMPDIR = benchTemp
process.on('exit', () => rmSync(benchTemp, {recursive: true, force: true}))
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

const args = process.argv.slice(2)
const quick = args.includes('--quick') || process.env.PF_BENCH_QUICK === '1'
const pairs = quick ? 1 : Number(process.env.PF_BENCH_PAIRS ?? 15)
const only = args.filter(a => a !== '--quick')
const casesDir = path.join(repoRoot, 'bench', 'cases')
const names = readdirSync(casesDir)
  .filter(f => f.endsWith('.js'))
  .map(f => f.replace(/\.js$/, ''))
  .filter(n => only.length === 0 || only.includes(n))
  .sort()
const unknown = only.filter(n => !names.includes(n))
if (unknown.length > 0) {
  process.stderr.write(`bench: no case named ${unknown.join(', ')} in bench/cases (have: ${readdirSync(casesDir).join(', ')})\n`)
  process.exit(2)
}

const rows = []
const failed = []
const benchStart = Date.now()
for (const name of names) {
  process.stderr.write(`bench: ${name}${quick ? ' (quick)' : ''}…\n`)
  const caseStart = Date.now()
  try {
    const {default: run} = await import(path.join(casesDir, name + '.js'))
    for (const row of await run({pairs, quick})) {
      rows.push({case: name, ...row})
      const verdict = quick ? '' : ` (target ${row.target}) ${row.met ? 'met' : 'MISSED'}`
      process.stderr.write(`  ${row.name}: ${formatRatio(row.ratio)}${verdict}\n`)
      // A partial run writes no table: its cells are here.
      if (!quick) process.stderr.write(`    ${row.baseline} | ${row.measured}\n`)
    }
    if (quick) process.stderr.write(`  ${name}: ${((Date.now() - caseStart) / 1000).toFixed(1)} s\n`)
  } catch (error) {
    failed.push(name)
    process.stderr.write(`bench: case ${name} FAILED: ${error?.stack ?? error}\n`)
  }
}

function formatRatio(ratio) {
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : `${ratio.toFixed(2)}×`
}

if (failed.length > 0) {
  process.stderr.write(`bench: ${failed.length} case(s) failed: ${failed.join(', ')}; docs/benchmarks.md left as it was\n`)
  process.exit(1)
}
if (quick) {
  process.stderr.write(
    `bench: quick run of ${names.length} cases passed in ${((Date.now() - benchStart) / 1000).toFixed(0)} s (figures not judged)\n`,
  )
  process.exit(0)
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const generated = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (do not edit above the "What limits each figure" heading). Every figure is a ratio',
  `against a baseline measured in the same run, as the median of ${pairs} alternating pairs after a warm-up, so a`,
  'slower or busier machine moves both sides.',
  '',
  `- Date: ${new Date().toISOString()}`,
  `- Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, load average ${os
    .loadavg()
    .map(l => l.toFixed(1))
    .join(' ')} at the end`,
  `- Node: ${process.version}`,
  '',
  '| Figure | Baseline | Measured | Ratio | Target | Met |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map(r => `| ${r.name} | ${r.baseline} | ${r.measured} | ${formatRatio(r.ratio)} | ${r.target} | ${r.met ? 'yes' : 'no'} |`),
  '',
]
// A partial run (named cases) prints its figures but keeps the document whole.
if (only.length === 0) {
  // The hand-written analysis below the table survives a rewrite.
  const docPath = path.join(repoRoot, 'docs', 'benchmarks.md')
  let handWritten = ''
  try {
    const old = readFileSync(docPath, 'utf8')
    const at = old.indexOf('\n## What limits each figure')
    if (at >= 0) handWritten = old.slice(at + 1)
  } catch {
    // No docs/benchmarks.md yet: nothing hand-written to keep.
  }
  writeFileSync(docPath, generated.join('\n') + (handWritten ? '\n' + handWritten : ''))
  process.stderr.write(`bench: wrote docs/benchmarks.md (${rows.length} figures)\n`)
} else {
  process.stderr.write('bench: partial run; docs/benchmarks.md left as it was (run `npm run bench` for all figures)\n')
}
