import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import semver from 'semver'

import {repoRoot} from '../helpers/cli.js'

const readJson = (file: string) => JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8'))
const pkg = readJson('package.json')
const lock = readJson('package-lock.json') as {packages: Record<string, {dev?: boolean; engines?: {node?: string}}>}

/** Every x.y.0 release of Node 18 to 26 that `range` admits. */
const admittedBy = (range: string): string[] => {
  const admitted: string[] = []
  for (let major = 18; major <= 26; major++)
    for (let minor = 0; minor <= 30; minor++) if (semver.satisfies(`${major}.${minor}.0`, range)) admitted.push(`${major}.${minor}.0`)
  return admitted
}

describe("the Node versions pf says it runs on (package.json's engines)", () => {
  const range: string = pkg.engines.node

  it('are accepted by every package a user installs with it', () => {
    // A package that refuses a version pf admits warns at install (EBADENGINE) and may break on it: `npm`, which
    // installs plugins, needs 20.17; @oclif/plugin-autocomplete 3.3 dropped Node 20.
    const refused = new Set<string>()
    for (const [where, meta] of Object.entries(lock.packages)) {
      if (where === '' || meta.dev || !meta.engines?.node) continue
      for (const version of admittedBy(range))
        if (!semver.satisfies(version, meta.engines.node))
          refused.add(`${where.replace(/^.*node_modules\//, '')} (${meta.engines.node}) refuses Node ${version}`)
    }
    expect([...refused]).to.deep.equal([])
  })

  it('include the Node running this test (CI runs 20, 22 and 24), and are the pf-trace-otlp plugin’s too', () => {
    expect(semver.satisfies(process.version, range), `${process.version} against ${range}`).to.equal(true)
    expect(readJson('plugins/pf-trace-otlp/package.json').engines.node).to.equal(range)
  })
})
