import {spawn} from 'node:child_process'
import path from 'node:path'

import {pfHome, pfPackageRoot} from '../paths.js'
import {loadConfig} from '../config/service.js'
import {PfError} from '../errors.js'
import {localTraceUrl} from '../tracing/links.js'
import {listenHost, startService, viewerBaseUrl} from './lifecycle.js'

export interface TraceUiOptions {
  collection?: string
  run?: string
  traceId?: string
  open: boolean
}

export interface TraceUiResult {
  url: string
  /** Whether this command started the viewer (false: one was running). */
  started: boolean
  /** Whether a browser was launched (best effort). */
  opened: boolean
}

/** `pf trace ui`: makes sure the viewer runs, then gives (and optionally opens) the link to the asked view. */
export const traceUi = async (options: TraceUiOptions): Promise<TraceUiResult> => {
  // The id goes into a URL handed to the system's opener: only a trace id (32 hex digits) is accepted.
  if (options.traceId !== undefined && !/^[0-9a-f]{32}$/i.test(options.traceId))
    throw new PfError(
      'invalid_arguments',
      `--trace-id ${JSON.stringify(options.traceId.slice(0, 80))} is not a trace id (32 hexadecimal digits, as \`pf trace list\` shows).`,
    )
  const {reader} = await loadConfig()
  const host = listenHost(reader.get('service.host'))
  const service = await startService({home: pfHome(), pfBin: path.join(pfPackageRoot(), 'bin', 'run.js'), host})
  const endpoint = {host: service.host!, port: service.port!}
  const url =
    options.collection || options.run
      ? localTraceUrl(endpoint, {collection: options.collection ?? '', run: options.run, traceId: options.traceId})
      : options.traceId
        ? `${viewerBaseUrl(endpoint)}?#uiTraceId=${options.traceId}`
        : viewerBaseUrl(endpoint)
  return {url, started: !service.reused, opened: options.open ? openBrowser(url) : false}
}

/** Launches the platform's URL opener, detached; false when there is none. */
export const openBrowser = (url: string): boolean => {
  // Never through a shell (`cmd /c start` would parse & | ^ in the URL): each opener takes the URL as one argument.
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32.exe', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]]
  try {
    const child = spawn(cmd, args as string[], {detached: true, stdio: 'ignore'})
    child.on('error', () => {})
    child.unref()
    return child.pid !== undefined
  } catch {
    return false
  }
}
