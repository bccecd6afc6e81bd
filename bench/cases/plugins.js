import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {comparePairs, pfBin, repoRoot, tempDir, timeProcess} from '../lib.js'

const homeWith = (destination, linkOtlp) => {
  const home = tempDir('pf-bench-home-')
  writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${destination}\n`, {mode: 0o600})
  const env = {...process.env, PF_HOME_DIRECTORY: home}
  if (linkOtlp) {
    const link = spawnSync(process.execPath, [pfBin, 'plugins', 'link', path.join(repoRoot, 'plugins', 'pf-trace-otlp'), '--no-install'], {
      env,
    })
    if (link.status !== 0) throw new Error(`pf plugins link failed: ${link.stderr}`)
  }
  return env
}

/** What an installed destination plugin costs commands: discovery on every start, its hook when destinations are resolved. */
export default async function plugins({pairs}) {
  const bare = homeWith('local', false)
  const linked = homeWith('local', true)
  const start = comparePairs(
    pairs,
    () => timeProcess([pfBin, 'config', 'get', 'trace.destination'], {env: bare}),
    () => timeProcess([pfBin, 'config', 'get', 'trace.destination'], {env: linked}),
  )
  const set = comparePairs(
    pairs,
    () => timeProcess([pfBin, 'config', 'set', 'trace.destination=azureml'], {env: bare}),
    () => timeProcess([pfBin, 'config', 'set', 'trace.destination=otlp://127.0.0.1:4318'], {env: linked}),
  )
  return [
    {
      name: '`pf config get` with pf-trace-otlp linked vs no plugin',
      baseline: `no plugin: ${start.baseline.toFixed(1)} ms`,
      measured: `plugin linked: ${start.subject.toFixed(1)} ms`,
      ratio: start.ratio,
      target: '≤ 1.15×',
      met: start.ratio <= 1.15,
    },
    {
      name: '`pf config set trace.destination=otlp://…` (plugin hook) vs `=azureml` (built-in), same registry load',
      baseline: `azureml, no plugin: ${set.baseline.toFixed(1)} ms`,
      measured: `otlp via plugin: ${set.subject.toFixed(1)} ms`,
      ratio: set.ratio,
      target: '≤ 1.25×',
      met: set.ratio <= 1.25,
    },
  ]
}
