// Runs every test under test/ with mocha and ends with the line CI counts: "N passed, N failed".
// Usage: node --import tsx test/run.js [--grep PATTERN] [files…]
import {existsSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import Mocha from 'mocha'

const root = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const grepAt = args.indexOf('--grep')
const grep = grepAt >= 0 ? args.splice(grepAt, 2)[1] : undefined

const findTests = dir =>
  readdirSync(dir).flatMap(name => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return name === 'fixtures' ? [] : findTests(full)
    return /\.test\.(ts|js)$/.test(name) ? [full] : []
  })

// The plugins in this repo (plugins/<name>/test) are tested with pf.
const pluginsDir = path.join(root, '..', 'plugins')
const pluginTests = () => readdirSync(pluginsDir).flatMap(name => (existsSync(path.join(pluginsDir, name, 'test')) ? findTests(path.join(pluginsDir, name, 'test')) : []))
const files = args.length > 0 ? args.map(f => path.resolve(f)) : [...findTests(root).sort(), ...pluginTests().sort()]
const mocha = new Mocha({timeout: 60_000, reporter: 'spec', grep})
for (const file of files) mocha.addFile(file)
await mocha.loadFilesAsync()
const runner = mocha.run()
let passed = 0
let failed = 0
runner.on('pass', () => passed++)
runner.on('fail', () => failed++)
runner.on('end', () => {
  console.log(`\n${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
})
