import {readFile} from 'node:fs/promises'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {TraceReader} from '../store/reader.js'
import {ApiError, ViewerApi} from './api.js'
import {LiveFeed} from './live.js'
import {collectorPath, healthPath, uiPath} from './paths.js'

/** The static pages, shipped with the package next to dist/ (`web/`). */
export const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web')

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

const securityHeaders = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
}

/** The names a browser may use for this server: anything else in Host is a rebinding attempt (or a mistake). */
const loopbackName = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

export const isLoopbackHost = (hostHeader: string | undefined, port: number): boolean => {
  if (!hostHeader) return false
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase())
  if (!match) return false
  return loopbackName.test(match[1]) && (match[2] === undefined || Number(match[2]) === port)
}

/** Spans whose search documents the viewer's server writes at a time in the background. */
const searchChunk = 2000

export interface ViewerServerOptions {
  home: string
  host: string
  port: number
  /** The OTLP trace receiver on the same port (`POST /v1/traces`, see collector.ts); absent: 404. */
  collector?: {handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>}
}

export interface RunningViewer {
  server: http.Server
  host: string
  port: number
  close(): Promise<void>
}

/**
 * The trace viewer: static pages and a read-only JSON API over the local store, on a loopback address.
 * Listens on `port` (0: any free port); rejects with the listen error (e.g. EADDRINUSE).
 */
export const startViewerServer = async (options: ViewerServerOptions): Promise<RunningViewer> => {
  const reader = TraceReader.open(options.home)
  const api = new ViewerApi(reader)
  const live = new LiveFeed(reader.db)
  let port = options.port
  const server = http.createServer((req, res) => {
    const toCollector = options.collector && req.url?.split('?')[0] === collectorPath && isLoopbackHost(req.headers.host, port)
    const handled = toCollector ? options.collector!.handle(req, res) : handle(req, res, api, live, port)
    handled.catch(error => sendError(res, error))
  })
  // A keep-alive browser connection must not hold `close()` open.
  server.keepAliveTimeout = 2000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch(error => {
    reader.close()
    throw error
  })
  port = (server.address() as AddressInfo).port
  // Search documents are written after the spans (store migration 7). Indexing in the background keeps a viewer's
  // first search from paying for a whole backlog (a search still indexes what is left before it reads): one chunk
  // (≈ 35 ms) at a time, the next soon while a backlog lasts, else a second later, so requests are served between.
  // While spans keep arriving (this process's collector, or any pf writing), it waits: ingest comes first.
  let indexer: NodeJS.Timeout
  let newestSeen = reader.newestSpan()
  const indexInBackground = () => {
    let backlog = false
    try {
      const newest = reader.newestSpan()
      if (newest === newestSeen) backlog = reader.indexPendingSearch(searchChunk, 1) === searchChunk
      newestSeen = newest
    } catch {
      // Left for the next round, or for the next search, which reports its own failure.
    }
    indexer = setTimeout(indexInBackground, backlog ? 20 : 1000).unref()
  }
  indexer = setTimeout(indexInBackground, 1000).unref()
  return {
    server,
    host: options.host,
    port,
    close: () =>
      new Promise<void>(resolve => {
        live.close()
        clearTimeout(indexer)
        server.close(() => {
          reader.close()
          resolve()
        })
        server.closeAllConnections()
      }),
  }
}

const sendJson = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
  res.writeHead(status, {...securityHeaders, 'Content-Type': 'application/json; charset=utf-8', ...extra})
  res.end(JSON.stringify(body))
}

const sendError = (res: http.ServerResponse, error: unknown) => {
  if (res.headersSent) return res.destroy()
  if (error instanceof ApiError) return sendJson(res, error.status, {error: {code: error.code, message: error.message}})
  sendJson(res, 500, {error: {code: 'internal_error', message: (error as Error).message.split('\n')[0]}})
}

const handle = async (req: http.IncomingMessage, res: http.ServerResponse, api: ViewerApi, live: LiveFeed, port: number): Promise<void> => {
  if (!isLoopbackHost(req.headers.host, port))
    return sendJson(res, 403, {error: {code: 'forbidden_host', message: 'The trace viewer answers only to 127.0.0.1, localhost or [::1].'}})
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return sendJson(res, 405, {error: {code: 'method_not_allowed', message: 'The viewer is read-only.'}}, {Allow: 'GET, HEAD'})
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const route = url.pathname

  if (route === healthPath) return sendJson(res, 200, {status: 'ok', pid: process.pid})
  if (route === '/' || route === '/v1.0/ui/traces') {
    res.writeHead(302, {...securityHeaders, Location: uiPath})
    return void res.end()
  }
  if (route.startsWith(uiPath)) return serveStatic(res, route.slice(uiPath.length) || 'index.html')

  if (route === '/v1.0/api/events') return live.subscribe(req, res, securityHeaders)
  const answer = await api.answer(route, url.searchParams)
  if (answer) return sendJson(res, 200, answer.body, answer.headers)
  throw new ApiError(404, 'not_found', `No such endpoint: ${route}`)
}

const serveStatic = async (res: http.ServerResponse, name: string): Promise<void> => {
  // Only flat file names of known types: no folders, no traversal.
  if (!/^[a-z0-9-]+\.[a-z]+$/i.test(name) || !contentTypes[path.extname(name)])
    throw new ApiError(404, 'not_found', `No such page: ${name}`)
  let body: Buffer
  try {
    body = await readFile(path.join(webRoot, name))
  } catch {
    throw new ApiError(404, 'not_found', `No such page: ${name}`)
  }
  res.writeHead(200, {...securityHeaders, 'Content-Type': contentTypes[path.extname(name)]})
  res.end(body)
}
