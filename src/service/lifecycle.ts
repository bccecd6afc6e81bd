import {spawn} from 'node:child_process'
import {closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {isLoopbackHost} from '../config/keys.js'
import {ensurePrivateDir, pfHome} from '../paths.js'
import type {ConfigReader} from '../contract/destination.js'
import {ExitCode, PfError} from '../errors.js'
import {type ServiceEndpoint, collectorUrl, defaultServicePort, isProcessAlive, serviceFilePath} from '../tracing/links.js'
import {healthPath, uiPath} from './paths.js'

export const serviceLogPath = (home: string): string => path.join(home, 'service.log')

export interface ServiceStatus {
  running: boolean
  host?: string
  port?: number
  pid?: number
  /** The viewer's home page, when running. */
  url?: string
  /** Where OpenTelemetry SDKs send traces (OTLP/HTTP, protobuf or JSON), when running. */
  otlpEndpoint?: string
  /** The environment line that points an OpenTelemetry SDK at it. */
  otlpEnv?: string
  /** service.json named a process that is gone or is not the viewer (it was left behind by a crash). */
  stale?: boolean
}

const hostForUrl = (host: string) => (host.includes(':') ? `[${host}]` : host)

export const viewerBaseUrl = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>): string =>
  `http://${hostForUrl(endpoint.host)}:${endpoint.port}${uiPath}`

const otlpFields = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>) => {
  const otlpEndpoint = collectorUrl(endpoint)
  return {otlpEndpoint, otlpEnv: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint}`}
}

/**
 * `service.host` as the address to listen on: `[::1]` → `::1`. The viewer serves every trace without sign-in, so
 * anything but a loopback address is refused here, whatever the source (a pf.yaml is validated too, this is the last
 * gate before a socket opens).
 */
export const listenHost = (configured: unknown): string => {
  const host = String(configured ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1')
  if (!isLoopbackHost(host))
    throw new PfError(
      'invalid_value',
      `The trace viewer binds loopback addresses only (127.0.0.1, localhost, ::1); "${host}" would expose every trace to the network.`,
    )
  return host
}

const readServiceFile = (home: string): Partial<ServiceEndpoint> | undefined => {
  try {
    return JSON.parse(readFileSync(serviceFilePath(home), 'utf8'))
  } catch {
    return undefined
  }
}

/** Written by the service itself once it listens: atomic (a reader never sees half a file), user-only. */
export const writeServiceFile = (home: string, endpoint: Required<ServiceEndpoint>): void => {
  ensurePrivateDir(home)
  const file = serviceFilePath(home)
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(endpoint) + '\n', {mode: 0o600})
  renameSync(tmp, file)
}

/** Removes service.json if it still names `pid` (a newer service's file is left alone). */
export const removeServiceFile = (home: string, pid?: number): void => {
  const data = readServiceFile(home)
  if (data && (pid === undefined || data.pid === pid)) rmSync(serviceFilePath(home), {force: true})
}

/** The pid the viewer on this endpoint reports, or undefined when nothing (or something else) answers. */
const healthPid = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>, timeoutMs = 1500): Promise<number | undefined> =>
  new Promise(resolve => {
    const req = http.get(
      {host: endpoint.host, port: endpoint.port, path: healthPath, timeout: timeoutMs, headers: {host: `127.0.0.1:${endpoint.port}`}},
      res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', d => (body += d))
        res.on('end', () => {
          try {
            const data = JSON.parse(body)
            resolve(res.statusCode === 200 && data.status === 'ok' && typeof data.pid === 'number' ? data.pid : undefined)
          } catch {
            resolve(undefined)
          }
        })
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
  })

/** Running only when service.json names a live process that answers the health check as that process. */
export const serviceStatus = async (home: string): Promise<ServiceStatus> => {
  const data = readServiceFile(home)
  if (!data || typeof data.port !== 'number' || typeof data.host !== 'string' || typeof data.pid !== 'number')
    return data ? {running: false, stale: true} : {running: false}
  const endpoint = {host: data.host, port: data.port, pid: data.pid}
  if (!isProcessAlive(endpoint.pid) || (await healthPid(endpoint)) !== endpoint.pid) return {running: false, stale: true}
  return {running: true, ...endpoint, url: viewerBaseUrl(endpoint), ...otlpFields(endpoint)}
}

export interface StartOptions {
  home: string
  /** The pf executable (bin/run.js) that runs `service run`. */
  pfBin: string
  host: string
  /** A port the user asked for (must be used); else the default port, or any free one when it is taken. */
  port?: number
  timeoutMs?: number
}

export interface StartResult extends ServiceStatus {
  /** A healthy instance was already running and is reused. */
  reused: boolean
  log: string
}

/** `pf service start`: reuses a healthy instance, else starts `pf service run` detached and waits until healthy. */
export const startService = async (options: StartOptions): Promise<StartResult> => {
  const {home} = options
  const log = serviceLogPath(home)
  const current = await serviceStatus(home)
  if (current.running) {
    if (options.port !== undefined && options.port !== 0 && options.port !== current.port)
      throw new PfError(
        'service_running',
        `The viewer already runs on port ${current.port} (pid ${current.pid}); stop it with \`pf service stop\` to use port ${options.port}.`,
        ExitCode.usage,
        {port: current.port, pid: current.pid},
      )
    return {...current, reused: true, log}
  }
  if (current.stale) removeServiceFile(home)

  ensurePrivateDir(home)
  const logFd = openSync(log, 'a', 0o600)
  const args = [options.pfBin, 'service', 'run', '--host', options.host]
  args.push(...(options.port === undefined ? ['--port', String(defaultServicePort), '--any-port'] : ['--port', String(options.port)]))
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: {...process.env, PF_HOME_DIRECTORY: home},
  })
  closeSync(logFd)
  let exited: number | null | undefined
  child.on('exit', code => (exited = code))
  child.unref()

  const deadline = Date.now() + (options.timeoutMs ?? 15_000)
  while (Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 100))
    if (exited !== undefined)
      throw new PfError('service_start_failed', `The viewer did not start: ${lastLogLine(log)}`, ExitCode.failure, {log})
    const status = await serviceStatus(home)
    if (status.running && status.pid === child.pid) return {...status, reused: false, log}
  }
  child.kill('SIGTERM')
  throw new PfError(
    'service_start_failed',
    `The viewer did not become healthy within ${Math.round((options.timeoutMs ?? 15_000) / 1000)} s; see ${log}.`,
    ExitCode.failure,
    {log},
  )
}

const lastLogLine = (log: string): string => {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').at(-1) ?? 'no output'
  } catch {
    return 'no output'
  }
}

export interface StopResult {
  /** A running viewer was stopped. */
  stopped: boolean
  pid?: number
  /** A stale service.json was removed. */
  staleRemoved?: boolean
}

/** `pf service stop`: SIGTERM (then SIGKILL after `graceMs`) to the viewer named by service.json, which is removed. */
export const stopService = async (home: string, graceMs = 5000): Promise<StopResult> => {
  const status = await serviceStatus(home)
  if (!status.running) {
    // Never signal a pid that does not answer as the viewer: it may be another program by now.
    if (status.stale) removeServiceFile(home)
    return status.stale ? {stopped: false, staleRemoved: true} : {stopped: false}
  }
  const pid = status.pid!
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (isProcessAlive(pid) && Date.now() < deadline) await new Promise(r => setTimeout(r, 50))
  if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL')
  removeServiceFile(home, pid)
  return {stopped: true, pid}
}

/** pf's own executable, which `pf service start` runs detached (`bin/run.js` of this package). */
const pfBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')

/**
 * Starts the viewer in the background for a link pf is about to print (interactive terminals only, see
 * isInteractive). Returns where it listens, or undefined when it could not start (the link then says how).
 */
export const startViewerForLinks = async (config: ConfigReader): Promise<ServiceEndpoint | undefined> => {
  try {
    const started = await startService({home: pfHome(), pfBin, host: listenHost(config.string('service.host'))})
    return started.running ? {host: started.host!, port: started.port!, pid: started.pid} : undefined
  } catch {
    return undefined
  }
}
