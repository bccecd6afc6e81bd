// Runs the tests with mocha and ends with the line CI counts: "N passed, N failed".
// Usage: node --import tsx test/run.js [--grep PATTERN] [--jobs N] [--record-durations] [files or folders…]
//   no paths: every test under test/ and plugins/*/test; one file: mocha in this process;
//   several files: one process per file, N at a time (default 6: a file mostly waits on the pf processes it
//   starts; each end-to-end file has its own pf home and ports),
//   each file's output printed whole when it ends, so parallel output never interleaves.
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.dirname(fileURLToPath(import.meta.url))
// The tests' temporary folders (test/helpers/cli.ts tempDir: pf homes, flow copies, fake `az`, Azurite's data)
// go under one folder per run, removed when the run ends: a full run makes thousands of them. Test processes
// (`--single`) inherit PF_TEST_TEMP. Not TMPDIR: tsx keeps its transform cache in the temporary folder, and a cold
// cache in every test process cost ≈ 70 s of CPU a run.
if (!process.argv.includes('--single')) {
  const runTemp = mkdtempSync(path.join(os.tmpdir(), 'pf-tests-'))
  process.env.PF_TEST_TEMP = runTemp
  process.on('exit', () => rmSync(runTemp, {recursive: true, force: true}))
  // Interrupted (Ctrl-C): still clean up.
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))
}
// The tests reach only 127.0.0.1 and trust their own CA explicitly (pf gets NODE_EXTRA_CA_CERTS=testTls() where it
// talks TLS, test processes an https.Agent). An inherited NODE_EXTRA_CA_CERTS (this sandbox points it at the system
// bundle, 144 certificates) makes every Node start parse it: ≈ 45 ms of CPU in each of the run's ~1,500 processes.
delete process.env.NODE_EXTRA_CA_CERTS
// In-process code under test (unit tests loading flows) must never write the user's pf home (trace store,
// transpile cache): a temporary one unless the caller chose one. End-to-end tests give each pf their own anyway.
process.env.PF_HOME_DIRECTORY ||= mkdtempSync(path.join(process.env.PF_TEST_TEMP ?? os.tmpdir(), 'pf-test-home-'))
const args = process.argv.slice(2)
const option = name => {
  const at = args.indexOf(name)
  return at >= 0 ? args.splice(at, 2)[1] : undefined
}
const grep = option('--grep')
const jobs = Number(option('--jobs') ?? process.env.PF_TEST_JOBS ?? 6)
const single = args[0] === '--single' ? args.shift() : undefined
const recordDurations = args.includes('--record-durations') && args.splice(args.indexOf('--record-durations'), 1).length > 0

const findTests = dir =>
  readdirSync(dir).flatMap(name => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return name === 'fixtures' ? [] : findTests(full)
    return /\.test\.(ts|js)$/.test(name) ? [full] : []
  })

// The plugins in this repo (plugins/<name>/test) are tested with pf.
const pluginsDir = path.join(root, '..', 'plugins')
const pluginTests = () =>
  readdirSync(pluginsDir).flatMap(name =>
    existsSync(path.join(pluginsDir, name, 'test')) ? findTests(path.join(pluginsDir, name, 'test')) : [],
  )
const files =
  args.length > 0
    ? args.flatMap(f => (statSync(path.resolve(f)).isDirectory() ? findTests(path.resolve(f)) : [path.resolve(f)]))
    : [...findTests(root), ...pluginTests()]

/** Runs files with mocha in this process; resolves to the counts. */
const runHere = async testFiles => {
  const {default: Mocha} = await import('mocha')
  // forbidOnly: a stray `.only` fails the run instead of silently skipping the rest.
  const mocha = new Mocha({timeout: 60_000, reporter: 'spec', grep, forbidOnly: true})
  for (const file of testFiles) mocha.addFile(file)
  await mocha.loadFilesAsync()
  return new Promise(resolve => {
    let passed = 0
    let failed = 0
    const runner = mocha.run(() => resolve({passed, failed}))
    runner.on('pass', () => passed++)
    runner.on('fail', () => failed++)
  })
}

// Longest files first (seconds each took in a recent full run, test/durations.json; `--record-durations` rewrites
// it), so no long file starts last and holds the run up alone. A file not listed yet counts as long.
const durationsFile = path.join(root, 'durations.json')
const durations = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, 'utf8')) : {}
const repoRelative = file => path.relative(path.join(root, '..'), file).split(path.sep).join('/')
const expectedSeconds = file => durations[repoRelative(file)] ?? 60
const summaryLine = /^(\d+) passed, (\d+) failed$/m

/** One child process per file, `jobs` at a time. */
const runInParallel = async testFiles => {
  // Short files share processes: starting mocha and tsx costs ≈ 0.4 s of CPU a process, and the suite is CPU-bound.
  // The quick unit files form one group (`npm run test:unit` runs them together too); other files under 15 s are
  // packed into groups of at most 40 s (each end-to-end file has its own pf homes and ports, none changes process.env).
  const quickUnit = testFiles.filter(file => file.includes(`${path.sep}unit${path.sep}`) && expectedSeconds(file) < 10)
  const short = testFiles
    .filter(file => !quickUnit.includes(file) && expectedSeconds(file) < 15)
    .sort((a, b) => expectedSeconds(b) - expectedSeconds(a))
  const jobSeconds = group => group.reduce((sum, file) => sum + expectedSeconds(file), 0)
  const shortGroups = []
  for (const file of short) {
    const group = shortGroups.find(g => jobSeconds(g) + expectedSeconds(file) <= 40)
    if (group) group.push(file)
    else shortGroups.push([file])
  }
  const jobsOf = [
    ...(quickUnit.length > 0 ? [quickUnit] : []),
    ...shortGroups,
    ...testFiles.filter(f => !quickUnit.includes(f) && !short.includes(f)).map(f => [f]),
  ]
  const queue = jobsOf.sort((a, b) => jobSeconds(b) - jobSeconds(a))
  const measured = {}
  const totals = {passed: 0, failed: 0}
  const failures = []
  const started = Date.now()
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      const fileStarted = Date.now()
      const {code, output} = await new Promise(resolve => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', fileURLToPath(import.meta.url), '--single', ...(grep ? ['--grep', grep] : []), ...group],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let output = ''
        child.stdout.on('data', d => (output += d))
        child.stderr.on('data', d => (output += d))
        child.on('close', code => resolve({code, output}))
      })
      const counts = summaryLine.exec(output)
      // A file whose process died before mocha's summary counts as one failure, with all it printed.
      const passed = counts ? Number(counts[1]) : 0
      const failed = counts ? Number(counts[2]) : 1
      totals.passed += passed
      totals.failed += failed
      const name = group.length === 1 ? repoRelative(group[0]) : `${group.length} files: ${group.map(repoRelative).join(', ')}`
      const seconds = Math.round((Date.now() - fileStarted) / 1000)
      // A group's time is shared out evenly; each file stays under the grouping threshold unless the group is slow.
      for (const file of group) measured[repoRelative(file)] = group.length === 1 ? seconds : Math.round(seconds / group.length)
      process.stdout.write(
        `\n── ${name} (${((Date.now() - fileStarted) / 1000).toFixed(1)} s, exit ${code})\n${output.replace(summaryLine, '').trimEnd()}\n`,
      )
      // mocha's own failure report ("N failing" and below), or the whole output of a process that died before it.
      if (failed > 0) {
        const report = output.search(/^\s*\d+ failing$/m)
        const text = (report >= 0 ? output.slice(report) : output).replace(summaryLine, '').replace(/^CPU .*$/m, '')
        failures.push(`── ${name}\n${text.trim()}`)
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, jobs)}, worker))
  // Repeated last, so the end of a long log (all a CI summary may keep) names what failed.
  if (failures.length > 0) process.stdout.write(`\nFailures again, by file:\n\n${failures.join('\n\n')}\n`)
  process.stdout.write(`\nAll files in ${((Date.now() - started) / 1000).toFixed(0)} s with ${jobs} jobs.\n`)
  if (recordDurations) {
    const sorted = Object.entries(measured).sort(([, a], [, b]) => b - a)
    writeFileSync(durationsFile, JSON.stringify(Object.fromEntries(sorted), null, 2) + '\n')
  }
  return totals
}

/** CPU seconds this process and its waited-for children (pf, Azurite…) used; Linux /proc, clock ticks of 10 ms. */
const cpuSeconds = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100
}

const {passed, failed} = single || files.length === 1 || jobs <= 1 ? await runHere(files) : await runInParallel(files)
if (single) console.log(`\nCPU ${cpuSeconds().toFixed(1)} s (with child processes)`)
console.log(`\n${passed} passed, ${failed} failed`)
process.exitCode = failed > 0 || passed === 0 ? 1 : 0
