import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {comparePairs, pfBin, tempDir, timeProcess} from '../lib.js'

/** `pf flow test` of a trivial flex flow (destination local), JavaScript and TypeScript entries, against `node -e 0`. */
export default async function flowTest({pairs}) {
  const home = tempDir('pf-bench-home-')
  writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: local\n', {mode: 0o600})
  const flows = tempDir('pf-bench-flows-')
  const yaml = 'entry: flow:run\ninputs:\n  x:\n    type: string\n    default: hi\n'
  for (const [kind, file, source] of [
    ['js', 'flow.mjs', 'export function run({x}) { return {echo: x} }\n'],
    ['ts', 'flow.ts', 'export function run({x}: {x: string}): {echo: string} { return {echo: x} }\n'],
  ]) {
    mkdirSync(path.join(flows, kind))
    writeFileSync(path.join(flows, kind, 'flow.flex.yaml'), yaml)
    writeFileSync(path.join(flows, kind, file), source)
  }
  const env = {...process.env, PF_HOME_DIRECTORY: home}
  const flowTestOf = kind => () => timeProcess([pfBin, 'flow', 'test', '--flow', path.join(flows, kind)], {env})
  const rows = []
  for (const [kind, label, target] of [
    ['js', 'JavaScript', 3.5],
    ['ts', 'TypeScript', 4],
  ]) {
    const result = comparePairs(pairs, () => timeProcess(['-e', '0']), flowTestOf(kind))
    rows.push({
      name: `\`pf flow test\` of a trivial flex flow (${label} entry, destination local) vs \`node -e 0\``,
      baseline: `node -e 0: ${result.baseline.toFixed(1)} ms`,
      measured: `pf flow test: ${result.subject.toFixed(1)} ms`,
      ratio: result.ratio,
      target: `≤ ${target}×`,
      met: result.ratio <= target,
    })
  }
  // What a TypeScript entry adds over the same JavaScript one (tsx, or the transpile cache when it hits): measured
  // directly, JS and TS alternating, not as the quotient of the two rows above (each over its own `node -e 0`,
  // which swings by several ms between them).
  const overJs = comparePairs(pairs, flowTestOf('js'), flowTestOf('ts'))
  rows.push({
    name: '`pf flow test`: the TypeScript entry vs the same JavaScript entry (transpiled entry cached by content hash)',
    baseline: `JavaScript: ${overJs.baseline.toFixed(1)} ms`,
    measured: `TypeScript: ${overJs.subject.toFixed(1)} ms`,
    ratio: overJs.ratio,
    target: '≤ 1.1×',
    met: overJs.ratio <= 1.1,
  })
  return rows
}
