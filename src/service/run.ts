import type {RegistryLoader} from '../tracing/registry.js'
import {Collector} from './collector.js'
import {listenHost, removeServiceFile, writeServiceFile} from './lifecycle.js'
import {type RunningViewer, startViewerServer} from './server.js'

export interface RunOptions {
  home: string
  host: string
  port: number
  /** When `port` is taken, listen on any free port instead of failing (the default port only). */
  anyPort: boolean
  /** For the OTLP collector: the destinations (plugins included) collected spans are sent on to. */
  registry: RegistryLoader
}

/**
 * `pf service run` (started detached by `pf service start`): serves until SIGTERM/SIGINT. service.json is written
 * only once the server listens, and removed on the way out, so it names a live server or (after a crash) a dead pid.
 */
export const runService = async (options: RunOptions): Promise<RunningViewer> => {
  let viewer: RunningViewer
  const collector = new Collector({home: options.home, registry: options.registry, cwd: process.cwd(), env: process.env})
  const serverOptions = {home: options.home, host: listenHost(options.host), port: options.port, collector}
  try {
    viewer = await startViewerServer(serverOptions)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' && options.anyPort) viewer = await startViewerServer({...serverOptions, port: 0})
    else if (code === 'EADDRINUSE')
      throw new Error(`port ${options.port} on ${options.host} is in use; choose another with --port.`, {cause: error})
    else throw error
  }
  writeServiceFile(options.home, {host: options.host, port: viewer.port, pid: process.pid})
  console.log(
    `${new Date().toISOString()} pf trace viewer and OTLP collector listening on http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${viewer.port} (pid ${process.pid})`,
  )
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    removeServiceFile(options.home, process.pid)
    await viewer.close()
    await collector.close()
    console.log(`${new Date().toISOString()} pf trace viewer stopped (${signal})`)
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  return viewer
}
