import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {LinkRef} from '../contract/destination.js'
import {isProcessRunning} from '../util/process.js'

/** prompt flow's default local service port. */
export const defaultServicePort = 23333

export interface ServiceEndpoint {
  host: string
  port: number
  pid?: number
}

export const serviceFilePath = (home: string): string => path.join(home, 'service.json')

/** Whether `pid` is a live process (a zombie, exited but not yet reaped, is not). */
export const isProcessAlive = (pid: number): boolean => isProcessRunning({pid})

/**
 * The trace viewer's endpoint as recorded by the running service (`<home>/service.json`), if any. A file left
 * behind by a service that died (its pid is gone) does not count. Cheap and synchronous: traced commands call it
 * to word their links and never wait on the service.
 */
export const readServiceEndpoint = (home: string): ServiceEndpoint | undefined => {
  try {
    const data = JSON.parse(readFileSync(serviceFilePath(home), 'utf8'))
    if (typeof data.port !== 'number' || typeof data.host !== 'string') return undefined
    if (typeof data.pid === 'number' && !isProcessAlive(data.pid)) return undefined
    return data
  } catch {}
  return undefined
}

/** The local service's OTLP collector (`POST /v1/traces`): what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT should say. */
export const collectorUrl = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>): string =>
  `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}/v1/traces`

/** `http://{host}:{port}/v1.0/ui/traces/?#run={run}` or `?#collection={c}`, with `&uiTraceId={id}` for one trace. */
export const localTraceUrl = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>, ref: LinkRef): string => {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  const fragment = ref.run ? `run=${encodeURIComponent(ref.run)}` : `collection=${encodeURIComponent(ref.collection)}`
  const trace = ref.traceId ? `&uiTraceId=${ref.traceId}` : ''
  return `http://${host}:${endpoint.port}/v1.0/ui/traces/?#${fragment}${trace}`
}

/** The links a traced command prints: the local viewer's, and the portal links of remote destinations. */
export interface TraceLinks {
  local: string
  /** Whether the viewer is running (else `pf service start` starts it). */
  viewerRunning: boolean
  /** pf started the viewer in the background for this link (interactive terminals only). */
  viewerStarted?: boolean
  /** Portal links of remote destinations (Azure ML / AI Foundry). */
  portal: string[]
}

/**
 * A person at a terminal (stderr, where links go, is a TTY) and not CI: pf may start the viewer in the background
 * for a link, as prompt flow does. Never in CI or when output is piped: there pf says how to start it instead.
 */
export const isInteractive = (env: NodeJS.ProcessEnv = process.env): boolean => {
  const ci = env.CI?.trim().toLowerCase()
  return Boolean(process.stderr.isTTY) && (!ci || ci === 'false' || ci === '0')
}
