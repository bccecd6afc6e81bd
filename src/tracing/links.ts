import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {LinkRef} from './destination.js'

/** prompt flow's default local service port. */
export const defaultServicePort = 23333

export interface ServiceEndpoint {
  host: string
  port: number
  pid?: number
}

/** The trace viewer's endpoint as recorded by `pf service start` (`<home>/service.json`), if any. */
export const readServiceEndpoint = (home: string): ServiceEndpoint | undefined => {
  try {
    const data = JSON.parse(readFileSync(path.join(home, 'service.json'), 'utf8'))
    if (typeof data.port === 'number' && typeof data.host === 'string') return data
  } catch {}
  return undefined
}

/** `http://{host}:{port}/v1.0/ui/traces/?#run={run}` or `?#collection={c}`, with `&uiTraceId={id}` for one trace. */
export const localTraceUrl = (endpoint: Pick<ServiceEndpoint, 'host' | 'port'>, ref: LinkRef): string => {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  const fragment = ref.run ? `run=${encodeURIComponent(ref.run)}` : `collection=${encodeURIComponent(ref.collection)}`
  const trace = ref.traceId ? `&uiTraceId=${ref.traceId}` : ''
  return `http://${host}:${endpoint.port}/v1.0/ui/traces/?#${fragment}${trace}`
}
