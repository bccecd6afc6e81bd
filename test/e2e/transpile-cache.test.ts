import {expect} from 'chai'
import {existsSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {runPf, tempDir} from '../helpers/cli.js'

const flowYaml = 'entry: flow:run\ninputs:\n  x:\n    type: string\n    default: hi\n'

/** A TypeScript flex flow outside any package (tsx compiles it to CommonJS), with extra files. */
const tsFlow = (files: Record<string, string>): string => {
  const dir = tempDir('pf-ts-flow-')
  writeFileSync(path.join(dir, 'flow.flex.yaml'), flowYaml)
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}

describe('pf flow test: transpiled TypeScript entries cached by content hash (built CLI)', () => {
  let home: string
  let probe: string
  let loadedLog: string
  beforeEach(() => {
    home = tempDir('pf-home-')
    // Records, at exit, whether tsx or esbuild code was ever required by the process (reading tsx's version is not loading it).
    const dir = tempDir('pf-probe-')
    probe = path.join(dir, 'probe.cjs')
    loadedLog = path.join(dir, 'loaded')
    writeFileSync(
      probe,
      `const M = require('module'); const load = M._load; let tsx = false
M._load = function (request) { if (/(^|\\/)(tsx|esbuild)(\\/|$)/.test(request) && !request.endsWith('package.json')) tsx = true; return load.apply(this, arguments) }
process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(loadedLog)}, tsx ? 'tsx' : 'none'))
`,
    )
  })
  const flowTest = async (flow: string, ...args: string[]) => {
    const result = await runPf(['flow', 'test', '--flow', flow, '--json', ...args], {home, nodeArgs: ['--require', probe]})
    return {result, tsxLoaded: readFileSync(loadedLog, 'utf8') === 'tsx'}
  }
  const cacheDir = () => path.join(home, 'cache', 'transpiled')
  const entries = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()) : [])

  it('transpiles once: the second run compiles the cached JavaScript without loading tsx; the cache is user-only', async () => {
    const flow = tsFlow({'flow.ts': 'export function run({x}: {x: string}): {echo: string} { return {echo: x.toUpperCase()} }\n'})
    const first = await flowTest(flow)
    expect(first.result.code, first.result.stderr).to.equal(0)
    expect(first.result.json().output).to.deep.equal({echo: 'HI'})
    expect(first.tsxLoaded).to.equal(true)
    expect(entries()).to.have.length(1)
    expect(statSync(cacheDir()).mode & 0o777).to.equal(0o700)
    expect(statSync(path.join(cacheDir(), entries()[0])).mode & 0o777).to.equal(0o600)

    const second = await flowTest(flow, '--inputs', 'x=again')
    expect(second.result.code, second.result.stderr).to.equal(0)
    expect(second.result.json().output).to.deep.equal({echo: 'AGAIN'})
    expect(second.tsxLoaded).to.equal(false)
  })

  it('an edited entry is transpiled again (the key is its content), never served stale', async () => {
    const flow = tsFlow({'flow.ts': 'export function run({x}: {x: string}) { return {v: 1, x} }\n'})
    expect((await flowTest(flow)).result.json().output).to.deep.equal({v: 1, x: 'hi'})
    writeFileSync(path.join(flow, 'flow.ts'), 'export function run({x}: {x: string}) { return {v: 2, x} }\n')
    const edited = await flowTest(flow)
    expect(edited.result.json().output).to.deep.equal({v: 2, x: 'hi'})
    expect(edited.tsxLoaded).to.equal(true)
    expect(entries()).to.have.length(2)
  })

  it('an entry importing another TypeScript file (./util.js naming util.ts) is not cached and keeps working through tsx', async () => {
    const flow = tsFlow({
      'flow.ts': "import {shout} from './util.js'\nexport function run({x}: {x: string}) { return {echo: shout(x)} }\n",
      'util.ts': "export const shout = (s: string): string => s + '!'\n",
    })
    for (let i = 0; i < 2; i++) {
      const {result} = await flowTest(flow)
      expect(result.code, result.stderr).to.equal(0)
      expect(result.json().output).to.deep.equal({echo: 'hi!'})
    }
    expect(entries()).to.deep.equal([])
  })

  it('a cached entry that requires a TypeScript file only when called still loads it (tsx on first need)', async () => {
    const flow = tsFlow({
      'flow.ts':
        "export function run({x}: {x: string}) { const {shout} = require('./util.ts'); return {echo: shout(x)} }\ndeclare const require: (id: string) => any\n",
      'util.ts': "export const shout = (s: string): string => s + '!'\n",
    })
    for (let i = 0; i < 2; i++) {
      const {result} = await flowTest(flow)
      expect(result.code, result.stderr).to.equal(0)
      expect(result.json().output).to.deep.equal({echo: 'hi!'})
    }
  })

  it('a cached entry that throws still reports its TypeScript file and line (source map)', async () => {
    const flow = tsFlow({'flow.ts': "type In = {x: string}\n\nexport function run({x}: In): never {\n  throw new Error('boom ' + x)\n}\n"})
    for (let i = 0; i < 2; i++) {
      const result = await runPf(['flow', 'test', '--flow', flow, '--debug'], {home})
      expect(result.code).to.equal(1)
      expect(result.stderr).to.contain('boom hi')
      expect(result.stderr).to.match(/flow\.ts:4/)
    }
    expect(entries()).to.have.length(1)
  })
})
