import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {comparePairs, pfBin, repoRoot, tempDir, timeProcess} from '../lib.js'

/**
 * The floor under pf's start-up: a bare oclif 4 CLI (one ESM command that prints its argument, same @oclif/core
 * as pf, its own manifest-less package) — what any oclif CLI pays before running a line of its own.
 */
const bareOclifCli = () => {
  const dir = tempDir('pf-bench-bare-oclif-')
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'))
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({name: 'bare', version: '1.0.0', type: 'module', oclif: {bin: 'bare', commands: './commands', topicSeparator: ' '}}),
  )
  mkdirSync(path.join(dir, 'commands', 'config'), {recursive: true})
  writeFileSync(
    path.join(dir, 'commands', 'config', 'get.js'),
    `import {Args, Command} from '@oclif/core'
export default class Get extends Command {
  static args = {key: Args.string({required: true})}
  async run() { const {args} = await this.parse(Get); this.log(args.key) }
}
`,
  )
  writeFileSync(path.join(dir, 'run.js'), "import {execute} from '@oclif/core'\nawait execute({dir: import.meta.url})\n")
  return path.join(dir, 'run.js')
}

/** Cold start of `pf config get trace.destination` (with a pf.yaml to read) against `node -e 0` and against a bare oclif CLI. */
export default async function startup({pairs}) {
  const home = tempDir('pf-bench-home-')
  writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: local\n', {mode: 0o600})
  const env = {...process.env, PF_HOME_DIRECTORY: home}
  const bare = bareOclifCli()
  const node = () => timeProcess(['-e', '0'])
  const pf = () => timeProcess([pfBin, 'config', 'get', 'trace.destination'], {env})
  const oclif = () => timeProcess([bare, 'config', 'get', 'trace.destination'])
  const result = comparePairs(pairs, node, pf)
  const floor = comparePairs(pairs, node, oclif)
  const overFloor = comparePairs(pairs, oclif, pf)
  // This machine's environment sets NODE_EXTRA_CA_CERTS (the system bundle, ≈ 40 ms parsed at every Node start),
  // so the rows above carry it on both sides, as the targets were set. The same pair without it shows a clean start.
  const clean = {...process.env}
  delete clean.NODE_EXTRA_CA_CERTS
  const cleanNode = () => timeProcess(['-e', '0'], {env: clean})
  const withoutCerts = comparePairs(pairs, cleanNode, () =>
    timeProcess([pfBin, 'config', 'get', 'trace.destination'], {env: {...clean, PF_HOME_DIRECTORY: home}}),
  )
  const floorWithoutCerts = comparePairs(pairs, cleanNode, () => timeProcess([bare, 'config', 'get', 'trace.destination'], {env: clean}))
  return [
    {
      name: 'Cold start: `pf config get trace.destination` vs `node -e 0`',
      baseline: `node -e 0: ${result.baseline.toFixed(1)} ms`,
      measured: `pf config get: ${result.subject.toFixed(1)} ms`,
      ratio: result.ratio,
      target: '≤ 2.6×',
      met: result.ratio <= 2.6,
    },
    {
      name: 'Cold start floor: a bare oclif CLI (one command, same @oclif/core) vs `node -e 0`',
      baseline: `node -e 0: ${floor.baseline.toFixed(1)} ms`,
      measured: `bare oclif: ${floor.subject.toFixed(1)} ms`,
      ratio: floor.ratio,
      target: '(the floor; no target)',
      met: true,
    },
    {
      name: 'Cold start: `pf config get trace.destination` vs the bare oclif CLI',
      baseline: `bare oclif: ${overFloor.baseline.toFixed(1)} ms`,
      measured: `pf config get: ${overFloor.subject.toFixed(1)} ms`,
      ratio: overFloor.ratio,
      target: '≤ 1.05×',
      met: overFloor.ratio <= 1.05,
    },
    {
      name: `Cold start with no NODE_EXTRA_CA_CERTS on either side (${process.env.NODE_EXTRA_CA_CERTS ? 'the rows above inherit one from this environment' : 'none was set here either'}): \`pf config get\` vs \`node -e 0\``,
      baseline: `node -e 0: ${withoutCerts.baseline.toFixed(1)} ms`,
      measured: `pf config get: ${withoutCerts.subject.toFixed(1)} ms`,
      ratio: withoutCerts.ratio,
      target: '(a clean start; no target)',
      met: true,
    },
    {
      name: 'Cold start floor with no NODE_EXTRA_CA_CERTS on either side: the bare oclif CLI vs `node -e 0`',
      baseline: `node -e 0: ${floorWithoutCerts.baseline.toFixed(1)} ms`,
      measured: `bare oclif: ${floorWithoutCerts.subject.toFixed(1)} ms`,
      ratio: floorWithoutCerts.ratio,
      target: '(the floor; no target)',
      met: true,
    },
  ]
}
