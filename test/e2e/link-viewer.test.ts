/**
 * "The link always works": on an interactive terminal with no viewer running, a traced command starts one in the
 * background and prints its port; without a terminal, or in CI, it only says how to start it.
 * The terminal is a real pseudo-terminal from util-linux `script`.
 */
import {expect} from 'chai'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')
const hasScript = spawnSync('script', ['--version']).status === 0

/** Runs pf under a pseudo-terminal (stdout and stderr are a TTY); resolves with what the terminal showed. */
const runOnTerminal = (args: string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<{code: number | null; output: string}> =>
  new Promise((resolve, reject) => {
    const base = {...process.env}
    for (const key of Object.keys(base)) if (key === 'CI' || key.startsWith('PF_') || key.startsWith('npm_')) delete base[key]
    const command = [process.execPath, pfBin, ...args].map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: home,
      env: {...base, NO_COLOR: '1', PF_HOME_DIRECTORY: home, ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', d => (output += d))
    child.stderr.on('data', d => (output += d))
    child.on('error', reject)
    child.on('close', code => resolve({code, output: output.replace(/\r/g, '')}))
  })

const health = (port: number): Promise<number> =>
  new Promise(resolve => {
    http.get({host: '127.0.0.1', port, path: '/v1.0/health'}, res => resolve(res.statusCode!)).on('error', () => resolve(0))
  })

describe('trace links start the viewer on an interactive terminal (built CLI)', function () {
  this.timeout(60_000)
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-link-')
  })
  afterEach(async () => {
    await runPf(['service', 'stop'], {home})
  })

  it('on a terminal: starts the viewer in the background and the printed link uses its port', async function () {
    if (!hasScript) this.skip()
    const result = await runOnTerminal(['flow', 'test', '--flow', flow], home)
    expect(result.code, result.output).to.equal(0)
    const match =
      /^Trace: (http:\/\/127\.0\.0\.1:(\d+)\/v1\.0\/ui\/traces\/\?#collection=flex-basic&uiTraceId=[0-9a-f]{32}) \(started the trace viewer in the background; `pf service stop` stops it\)$/m.exec(
        result.output,
      )
    expect(match, result.output).to.not.equal(null)
    const port = Number(match![2])
    const service = JSON.parse(readFileSync(path.join(home, 'service.json'), 'utf8'))
    expect(service.port).to.equal(port)
    expect(await health(port)).to.equal(200)

    // A second command finds it running: a plain link on the same port, nothing started.
    const again = await runOnTerminal(['flow', 'test', '--flow', flow], home)
    expect(again.output).to.match(new RegExp(`^Trace: http://127\\.0\\.0\\.1:${port}/\\S+$`, 'm'))
    expect(JSON.parse(readFileSync(path.join(home, 'service.json'), 'utf8')).pid).to.equal(service.pid)
  })

  it('in CI (CI=true) on a terminal, and without a terminal: no viewer is started; the link says how', async function () {
    if (hasScript) {
      const ci = await runOnTerminal(['flow', 'test', '--flow', flow], home, {CI: 'true'})
      expect(ci.code, ci.output).to.equal(0)
      expect(ci.output).to.match(/^Trace: \S+ \(start the viewer with `pf service start`\)$/m)
      expect(existsSync(path.join(home, 'service.json'))).to.equal(false)
    }
    const piped = await runPf(['flow', 'test', '--flow', flow], {home})
    expect(piped.code, piped.stderr).to.equal(0)
    expect(piped.stderr).to.match(/^Trace: \S+ \(start the viewer with `pf service start`\)$/m)
    expect(existsSync(path.join(home, 'service.json'))).to.equal(false)
  })
})
