import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {comparePairs, pfBin, tempDir, timeProcess} from '../lib.js'

/** Cold start of `pf config get trace.destination` (with a pf.yaml to read) against `node -e 0`. */
export default async function startup({pairs}) {
  const home = tempDir('pf-bench-home-')
  writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: local\n', {mode: 0o600})
  const env = {...process.env, PF_HOME_DIRECTORY: home}
  const result = comparePairs(
    pairs,
    () => timeProcess(['-e', '0']),
    () => timeProcess([pfBin, 'config', 'get', 'trace.destination'], {env}),
  )
  return [
    {
      name: 'Cold start: `pf config get trace.destination` vs `node -e 0`',
      baseline: `node -e 0: ${result.baseline.toFixed(1)} ms`,
      measured: `pf config get: ${result.subject.toFixed(1)} ms`,
      ratio: result.ratio,
      target: '≤ 3×',
      met: result.ratio <= 3,
    },
  ]
}
