import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {cruise} from 'dependency-cruiser'

import {repoRoot, tempDir} from '../helpers/cli.js'

// The import layers of docs/architecture.md, enforced: the rules live in .dependency-cruiser.cjs.
const rulesFile = path.join(repoRoot, '.dependency-cruiser.cjs')

const violationsIn = async (root: string): Promise<string[]> => {
  const {default: rules} = await import(rulesFile)
  const result = await cruise(['src'], {
    ...rules.options,
    validate: true,
    ruleSet: {forbidden: rules.forbidden},
    baseDir: root,
    tsConfig: undefined,
  })
  const output = result.output as {summary: {violations: Array<{rule: {name: string}; from: string; to: string}>}}
  return output.summary.violations.map(v => `${v.rule.name}: ${v.from} → ${v.to}`)
}

describe('architecture: import layers (docs/architecture.md)', function () {
  this.timeout(60_000)

  it('src/ has no import that goes up a layer, no cycle, no command importing a destination', async () => {
    expect(await violationsIn(repoRoot)).to.deep.equal([])
  })

  it('the checker catches a folder cycle, an upward import and a command reaching into a destination', async () => {
    const root = tempDir('pf-layers-')
    const write = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, file)), {recursive: true})
      writeFileSync(path.join(root, file), text)
    }
    write('src/store/store.ts', "export {session} from '../tracing/session.js'\nexport const p = 1\n")
    write('src/tracing/session.ts', "import {p} from '../store/store.js'\nexport const session = p\n")
    write('src/store/reader.ts', 'export const store = 1\n')
    write('src/commands/trace/x.ts', "export {azure} from '../../destinations/azureml/provider.js'\n")
    write('src/destinations/azureml/provider.ts', "export {otlp} from '../otlp/provider.js'\n")
    write('src/destinations/otlp/provider.ts', 'export const otlp = 1\nexport const azure = 1\n')
    write('src/paths.ts', "export {store as p} from './store/reader.js'\n")
    const found = await violationsIn(root)
    expect(found).to.include('layer-store: src/store/store.ts → src/tracing/session.ts')
    expect(found).to.include('commands-not-destinations: src/commands/trace/x.ts → src/destinations/azureml/provider.ts')
    expect(found).to.include('destinations-apart: src/destinations/azureml/provider.ts → src/destinations/otlp/provider.ts')
    expect(found).to.include('leaf-imports-nothing: src/paths.ts → src/store/reader.ts')
    expect(
      found.filter(v => v.startsWith('no-circular:')),
      found.join('\n'),
    ).to.have.length.above(0)
  })
})
