import {listenHost, removeServiceFile, writeServiceFile} from './lifecycle.js'
import {type RunningViewer, startViewerServer} from './server.js'

export interface RunOptions {
  home: string
  host: string
  port: number
  /** When `port` is taken, listen on any free port instead of failing (the default port only). */
  anyPort: boolean
}

/**
 * `pf service run` (started detached by `pf service start`): serves until SIGTERM/SIGINT. service.json is written
 * only once the server listens, and removed on the way out, so it names a live server or (after a crash) a dead pid.
 */
export const runService = async (options: RunOptions): Promise<RunningViewer> => {
  let viewer: RunningViewer
  options = {...options, host: listenHost(options.host)}
  try {
    viewer = await startViewerServer(options)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' && options.anyPort) viewer = await startViewerServer({...options, port: 0})
    else if (code === 'EADDRINUSE') throw new Error(`port ${options.port} on ${options.host} is in use; choose another with --port.`)
    else throw error
  }
  writeServiceFile(options.home, {host: options.host, port: viewer.port, pid: process.pid})
  console.log(`${new Date().toISOString()} pf trace viewer listening on http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${viewer.port} (pid ${process.pid})`)
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    removeServiceFile(options.home, process.pid)
    await viewer.close()
    console.log(`${new Date().toISOString()} pf trace viewer stopped (${signal})`)
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  return viewer
}
