/**
 * The real `@vercel/cosmosdb-server` as the workspace's Cosmos account, served over HTTPS with a certificate made
 * for 127.0.0.1 (the package's own expired in 2021), trusted by pf through NODE_EXTRA_CA_CERTS in the child's
 * environment; and a fault-injecting HTTPS proxy between pf and it.
 */
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import https from 'node:https'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import type {Duplex} from 'node:stream'

import {CosmosClient} from '@azure/cosmos'
import cosmosServer from '@vercel/cosmosdb-server'

import {tempDir} from './cli.js'

let tls: {cert: string; key: string; certFile: string} | undefined

/** A throw-away self-signed certificate (openssl, valid two days) for `commonName` and the given subjectAltName. */
export const selfSignedCertificate = (commonName: string, subjectAltName: string) => {
  const dir = tempDir('pf-tls-')
  const certFile = path.join(dir, 'cert.pem')
  const keyFile = path.join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    {stdio: 'ignore'},
  )
  if (!existsSync(certFile)) throw new Error('openssl did not write a certificate')
  return {cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile}
}

/** A throw-away certificate for 127.0.0.1, made once per test process. */
export const testTls = () => (tls ??= selfSignedCertificate('127.0.0.1', 'IP:127.0.0.1'))

export const containerNames = ['Span', 'LineSummary', 'Collection'] as const

export class CosmosAccount {
  private server!: https.Server
  port = 0
  client!: CosmosClient

  get endpoint() {
    return `https://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    const {cert, key} = testTls()
    const create = (cosmosServer as any).createHttpsServer ?? (cosmosServer as any).default?.createHttpsServer ?? cosmosServer
    // Keep-alive as the real service: cosmosdb-server answers `Connection: close` by default, which made every
    // request (of pf, of the benchmarks' baselines) a new TLS handshake.
    this.server = create({cert, key, keepAlive: true})
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    this.client = new CosmosClient({endpoint: this.endpoint, key: 'test-master-key', agent: new https.Agent({ca: cert})})
    return this
  }

  /** A workspace's trace store: one database with the three containers (partition key /partition_key). */
  async createTraceStore(databaseName: string): Promise<void> {
    const {database} = await this.client.databases.createIfNotExists({id: databaseName})
    for (const id of containerNames) await database.containers.createIfNotExists({id, partitionKey: {paths: ['/partition_key']}})
  }

  async items(databaseName: string, container: (typeof containerNames)[number]): Promise<any[]> {
    const {resources} = await this.client.database(databaseName).container(container).items.readAll().fetchAll()
    return resources
  }

  async stop(): Promise<void> {
    this.client.dispose()
    this.server.closeAllConnections?.()
    await new Promise(resolve => this.server.close(resolve))
  }
}

export interface ProxiedRequest {
  method: string
  path: string
  /** A document create/upsert/bulk request. */
  isWrite: boolean
  /** Identifies a request sent again (same body). */
  bodyHash: string
  /** A transactional batch (all or nothing), as against a bulk request (each operation on its own). */
  atomic: boolean
  /** How many operations a batch or bulk request carries. */
  operations: number
}

/** 'hang': never forwarded, never answered. */
export type Fault =
  | {status: number; retryAfterMs?: number}
  | 'drop'
  | 'drop-after-write'
  | 'hang'
  | {holdMs: number}
  /** Forwarded; the server's answer is rewritten (e.g. one bulk operation's status). */
  | {rewrite: (body: any) => any}

/**
 * An HTTPS proxy in front of the Cosmos server. `fault(request)` picks what happens to each request: pass it on,
 * answer 429/503 itself, drop the connection before or after the server wrote, or hold the answer. The account
 * document is rewritten to advertise the proxy, so the SDK's endpoint discovery keeps going through it.
 */
export class FaultProxy {
  private server!: https.Server
  port = 0
  fault: (req: ProxiedRequest) => Fault | undefined = () => undefined
  readonly log: Array<{method: string; path: string; outcome: string}> = []
  private readonly sockets = new Set<Duplex>()
  onRequest?: (req: ProxiedRequest) => void
  /** Document writes seen (answered or not). */
  writesSeen = 0

  constructor(private readonly upstream: CosmosAccount) {}

  get endpoint() {
    return `https://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    const {cert, key} = testTls()
    this.server = https.createServer({cert, key}, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c))
      req.on('end', () => this.forward(req, res, Buffer.concat(chunks)))
    })
    this.server.on('connection', s => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const info: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      isWrite: req.method === 'POST' && /\/docs\/?$/.test((req.url ?? '').split('?')[0]) && !req.headers['x-ms-documentdb-isquery'],
      bodyHash: createHash('sha256').update(body).digest('hex'),
      atomic: String(req.headers['x-ms-cosmos-batch-atomic']).toLowerCase() === 'true',
      operations: req.headers['x-ms-cosmos-is-batch-request'] ? (JSON.parse(body.toString('utf8')) as unknown[]).length : 0,
    }
    if (info.isWrite) this.writesSeen++
    this.onRequest?.(info)
    const fault = this.fault(info)
    const record = (outcome: string) => this.log.push({method: info.method, path: info.path, outcome})
    if (fault === 'hang') return record('hang')
    if (fault === 'drop') {
      record('drop')
      return req.socket.destroy()
    }
    if (fault && typeof fault === 'object' && 'status' in fault) {
      record(String(fault.status))
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-ms-activity-id': '00000000-0000-0000-0000-000000000000',
      }
      if (fault.retryAfterMs !== undefined) headers['x-ms-retry-after-ms'] = String(fault.retryAfterMs)
      res.writeHead(fault.status, headers)
      return res.end(
        JSON.stringify({code: fault.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', message: 'injected by the test proxy'}),
      )
    }
    const {cert} = testTls()
    const upstream = https.request(
      {
        host: '127.0.0.1',
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: {...req.headers, host: `127.0.0.1:${this.upstream.port}`},
        ca: cert,
      },
      up => {
        const parts: Buffer[] = []
        up.on('data', c => parts.push(c))
        up.on('end', () => {
          let payload = Buffer.concat(parts)
          if (fault && typeof fault === 'object' && 'rewrite' in fault)
            payload = Buffer.from(JSON.stringify(fault.rewrite(JSON.parse(payload.toString('utf8')))))
          if (info.method === 'GET' && (info.path === '/' || info.path === '//'))
            payload = Buffer.from(payload.toString('utf8').split(`127.0.0.1:${this.upstream.port}`).join(`127.0.0.1:${this.port}`))
          const send = () => {
            if (fault === 'drop-after-write') {
              record('drop-after-write')
              return req.socket.destroy()
            }
            record(String(up.statusCode))
            const headers = {...up.headers, 'content-length': String(payload.length)}
            delete headers['transfer-encoding']
            res.writeHead(up.statusCode ?? 502, headers)
            res.end(payload)
          }
          if (fault && typeof fault === 'object' && 'holdMs' in fault) setTimeout(send, fault.holdMs)
          else send()
        })
      },
    )
    upstream.on('error', () => req.socket.destroy())
    upstream.end(body)
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise(resolve => this.server.close(resolve))
  }
}
