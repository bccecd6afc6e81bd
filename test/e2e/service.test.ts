import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'

import {isProcessAlive} from '../../src/tracing/links.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'

const flexBasic = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')

// Zombie-aware: a stopped viewer may linger unreaped when the container's init does not reap orphans.
const alive = isProcessAlive

const health = (port: number, host = '127.0.0.1'): Promise<number> =>
  new Promise(resolve => {
    http.get({host, port, path: '/v1.0/health'}, res => resolve(res.statusCode!)).on('error', () => resolve(0))
  })

/** The pid of a process that has exited. */
const deadPid = (): Promise<number> =>
  new Promise(resolve => {
    const child = spawn(process.execPath, ['-e', '0'])
    child.on('exit', () => resolve(child.pid!))
  })

const freePort = (): Promise<number> =>
  new Promise(resolve => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

describe('pf service (built CLI)', function () {
  this.timeout(60_000)
  let home: string
  const serviceFile = () => path.join(home, 'service.json')
  beforeEach(() => {
    home = tempDir('pf-home-service-')
  })
  afterEach(async () => {
    await runPf(['service', 'stop'], {home})
  })

  it('starts, reports, reuses and stops the viewer', async () => {
    const before = await runPf(['service', 'status', '--json'], {home})
    expect(before.code).to.equal(0)
    expect(before.json()).to.deep.equal({running: false})
    expect((await runPf(['service', 'status'], {home})).stdout).to.contain('Not running (start it with `pf service start`)')

    const start = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(start.code, start.stderr).to.equal(0)
    const started = start.json()
    expect(started).to.include({running: true, host: '127.0.0.1', reused: false})
    expect(started.url).to.equal(`http://127.0.0.1:${started.port}/v1.0/ui/traces/`)
    expect(alive(started.pid)).to.equal(true)
    expect(JSON.parse(readFileSync(serviceFile(), 'utf8'))).to.deep.equal({host: '127.0.0.1', port: started.port, pid: started.pid})
    expect(statSync(serviceFile()).mode & 0o777).to.equal(0o600)
    expect(statSync(path.join(home, 'service.log')).mode & 0o777).to.equal(0o600)
    expect(await health(started.port)).to.equal(200)

    const status = await runPf(['service', 'status', '--json'], {home})
    const otlpEndpoint = `http://127.0.0.1:${started.port}/v1/traces`
    expect(started).to.include({otlpEndpoint, otlpEnv: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint}`})
    expect(status.json()).to.deep.equal({
      running: true,
      host: '127.0.0.1',
      port: started.port,
      pid: started.pid,
      url: started.url,
      otlpEndpoint,
      otlpEnv: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint}`,
    })
    expect((await runPf(['service', 'status'], {home})).stdout).to.equal(
      `Running: ${started.url} (pid ${started.pid})\nOTLP collector: ${otlpEndpoint}\n  export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint}\n`,
    )

    const again = await runPf(['service', 'start', '--json'], {home})
    expect(again.json()).to.include({reused: true, pid: started.pid, port: started.port})
    const human = await runPf(['service', 'start'], {home})
    expect(human.stdout).to.equal(
      `Already running: ${started.url} (pid ${started.pid})\nOTLP collector: ${otlpEndpoint}; point OpenTelemetry SDKs at it with:\n  export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint}\n`,
    )

    const otherPort = await runPf(['service', 'start', '--port', String(started.port + 1), '--json'], {home})
    expect(otherPort.code).to.equal(2)
    expect(otherPort.json().error).to.include({code: 'service_running', port: started.port, pid: started.pid})

    const stop = await runPf(['service', 'stop', '--json'], {home})
    expect(stop.json()).to.deep.equal({stopped: true, pid: started.pid})
    expect(alive(started.pid)).to.equal(false)
    expect(existsSync(serviceFile())).to.equal(false)
    expect(await health(started.port)).to.equal(0)
    expect(readFileSync(path.join(home, 'service.log'), 'utf8')).to.match(/listening[\s\S]*stopped \(SIGTERM\)/)
    const stopAgain = await runPf(['service', 'stop'], {home})
    expect(stopAgain.code).to.equal(0)
    expect(stopAgain.stdout).to.equal('The trace viewer is not running.\n')
  })

  it('treats a service.json left by a dead service as not running, and flow test says how to start the viewer', async () => {
    const port = await freePort()
    writeFileSync(serviceFile(), JSON.stringify({host: '127.0.0.1', port, pid: await deadPid()}), {mode: 0o600})
    expect((await runPf(['service', 'status', '--json'], {home})).json()).to.deep.equal({running: false, stale: true})

    const test = await runPf(['flow', 'test', '--flow', flexBasic], {home})
    expect(test.code, test.stderr).to.equal(0)
    expect(test.stderr).to.match(
      /^Trace: http:\/\/127\.0\.0\.1:23333\/v1\.0\/ui\/traces\/\?#collection=flex-basic&uiTraceId=[0-9a-f]{32} \(start the viewer with `pf service start`\)$/m,
    )

    const start = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(start.json()).to.include({running: true, reused: false})
    const after = await runPf(['flow', 'test', '--flow', flexBasic], {home})
    const link = /^Trace: (\S+)$/m.exec(after.stderr)
    expect(link, after.stderr).not.to.equal(null)
    expect(link![1]).to.match(
      new RegExp(`^http://127\\.0\\.0\\.1:${start.json().port}/v1\\.0/ui/traces/\\?#collection=flex-basic&uiTraceId=`),
    )
  })

  it('never signals a live process that service.json names but that is not the viewer', async () => {
    const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], {stdio: 'ignore'})
    try {
      writeFileSync(serviceFile(), JSON.stringify({host: '127.0.0.1', port: await freePort(), pid: bystander.pid}), {mode: 0o600})
      expect((await runPf(['service', 'status', '--json'], {home})).json()).to.deep.equal({running: false, stale: true})
      const stop = await runPf(['service', 'stop', '--json'], {home})
      expect(stop.json()).to.deep.equal({stopped: false, staleRemoved: true})
      expect(alive(bystander.pid!)).to.equal(true)
      expect(existsSync(serviceFile())).to.equal(false)
    } finally {
      bystander.kill()
    }
  })

  it('fails clearly when the asked port is taken, and falls back to a free port only for the default one', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1')
    await new Promise(r => blocker.once('listening', r))
    const taken = (blocker.address() as net.AddressInfo).port
    try {
      const start = await runPf(['service', 'start', '--port', String(taken), '--json'], {home})
      expect(start.code).to.equal(1)
      expect(start.json().error.code).to.equal('service_start_failed')
      expect(start.json().error.message).to.contain(`port ${taken} on 127.0.0.1 is in use`)
      expect(existsSync(serviceFile())).to.equal(false)

      // What `pf service start` runs without --port: the default port, or any free one when it is taken.
      const child = spawn(process.execPath, [pfBin, 'service', 'run', '--port', String(taken), '--any-port'], {
        env: {...process.env, PF_HOME_DIRECTORY: home},
        stdio: 'ignore',
      })
      const deadline = Date.now() + 15_000
      while (!existsSync(serviceFile()) && Date.now() < deadline) await new Promise(r => setTimeout(r, 100))
      const recorded = JSON.parse(readFileSync(serviceFile(), 'utf8'))
      expect(recorded.pid).to.equal(child.pid)
      expect(recorded.port).not.to.equal(taken)
      expect(await health(recorded.port)).to.equal(200)
      child.kill('SIGTERM')
      await new Promise(r => child.once('exit', r))
      expect(existsSync(serviceFile())).to.equal(false)
    } finally {
      blocker.close()
    }
  })

  it('rejects bad flags with exit 2 and a JSON error', async () => {
    for (const args of [
      ['service', 'start', '--port', '70000'],
      ['service', 'start', '--port', 'abc'],
      ['service', 'start', '--bogus'],
    ]) {
      const result = await runPf([...args, '--json'], {home})
      expect(result.code, args.join(' ')).to.equal(2)
      expect(result.json().error.code).to.equal('invalid_arguments')
    }
    expect(existsSync(serviceFile())).to.equal(false)
  })

  it('`pf trace ui` starts the viewer when needed and prints the link to the asked view', async () => {
    await runPf(['config', 'set', 'service.host=localhost'], {home})
    const first = await runPf(['trace', 'ui', '--collection', 'my flow', '--json'], {home})
    expect(first.code, first.stderr).to.equal(0)
    const {url, started, opened} = first.json()
    expect(started).to.equal(true)
    expect(opened).to.equal(false)
    expect(url).to.match(/^http:\/\/localhost:\d+\/v1\.0\/ui\/traces\/\?#collection=my%20flow$/)
    const port = Number(new URL(url).port)
    expect(await health(port, 'localhost')).to.equal(200)

    const second = await runPf(['trace', 'ui', '--run', 'r1', '--trace-id', 'ab'.repeat(16)], {home})
    expect(second.stdout).to.equal(`http://localhost:${port}/v1.0/ui/traces/?#run=r1&uiTraceId=${'ab'.repeat(16)}\n`)
    expect((await runPf(['service', 'status', '--json'], {home})).json()).to.include({running: true, port})
  })
})
