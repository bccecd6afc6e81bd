// `npm test` runs this first (pretest): the viewer's browser tests drive a Chromium through playwright-core, which
// downloads no browser. Debian's `chromium` package is installed with apt when it is missing and apt is usable
// (root, or passwordless sudo); otherwise this fails with what to do — the browser tests are never skipped.
// PF_TEST_CHROMIUM names another Chromium/Chrome executable.
import {spawnSync} from 'node:child_process'
import {accessSync, constants} from 'node:fs'

const wanted = process.env.PF_TEST_CHROMIUM || '/usr/bin/chromium'
const executable = file => {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}
const has = command => spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0

if (executable(wanted)) process.exit(0)
if (process.env.PF_TEST_CHROMIUM) fail(`PF_TEST_CHROMIUM=${wanted} is not an executable file.`)
if (process.platform !== 'linux' || !has('apt-get')) fail("this machine has no apt-get to install Debian's chromium package.")

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
const sudo = asRoot ? [] : has('sudo') && spawnSync('sudo', ['-n', 'true'], {stdio: 'ignore'}).status === 0 ? ['sudo', '-n'] : undefined
if (!sudo) fail('installing it needs root (or passwordless sudo).')

process.stderr.write("pretest: installing Debian's chromium package for the browser tests (apt-get)…\n")
const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
for (const args of [
  ['apt-get', 'update', '-qq'],
  ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium'],
]) {
  const command = [...sudo, ...args]
  const result = spawnSync(command[0], command.slice(1), {stdio: ['ignore', 'ignore', 'inherit'], env})
  if (result.status !== 0) fail(`\`${command.join(' ')}\` failed (exit ${result.status}).`)
}
if (!executable(wanted)) fail(`apt-get installed chromium but ${wanted} is still missing.`)
process.stderr.write(`pretest: ${wanted} is ready.\n`)

function fail(why) {
  process.stderr.write(
    `pretest: the browser tests need Chromium at ${wanted}, and ${why}\n` +
      '  Install it (Debian/Ubuntu: sudo apt-get install chromium), or point PF_TEST_CHROMIUM at a Chromium or Chrome executable.\n',
  )
  process.exit(1)
}
