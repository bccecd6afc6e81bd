/**
 * A fake Azure control plane on 127.0.0.1 (ARM workspace GET, the flow service's TraceSessions routes with the
 * 202 + azure-asyncoperation setup flow, per-container resource tokens) and a fake `az` executable that serves
 * tokens to AzureCliCredential. Real HTTP, real processes; only Azure itself is pretend.
 */
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {tempDir} from './cli.js'
import {testTls} from './cosmos.js'
import {FakeRunTracking} from './fake-run-tracking.js'

export interface FakeWorkspace {
  kind?: 'Default' | 'Project' | 'Hub'
  location?: string
  /** ARM answer for the workspace GET (404/403 to fail). */
  armStatus?: number
  traceCosmosConfiguration?: string
  traceCosmosStatus?: string
  /** What setup does: 200 at once, or 202 and `pollsUntilDone` polls later this outcome. */
  setup?: {respond: 200 | 202; pollsUntilDone?: number; outcome?: 'Succeeded' | 'Failed' | 'Never'}
  /** Cosmos database this workspace's containers live in. */
  databaseName?: string
  /** Answer resource tokens as a JSON string inside JSON (the reference accepts both). */
  tokenAsString?: boolean
  /** The workspace's datastores (ARM `…/datastores`); the first with `isDefault` is the default one. */
  datastores?: FakeDatastore[]
}

export interface FakeDatastore {
  name: string
  isDefault?: boolean
  /** ARM `properties.datastoreType`: `AzureBlob`, `AzureFile`, `AzureDataLakeGen2`… */
  type?: string
  accountName: string
  containerName: string
  /** `properties.endpoint` (default `core.windows.net`; tests point pf at Azurite with PF_BLOB_ENDPOINT). */
  endpoint?: string
  /** What `listSecrets` answers: the secrets, or an HTTP status (403: the login may not list them). */
  secrets?: {secretsType: 'AccountKey'; key: string} | {secretsType: 'Sas'; sasToken: string} | number
}

/** An AzureBlob datastore as ARM describes it (api-version 2023-04-01-preview). */
export const armDatastore = (ds: FakeDatastore, workspacePath: string) => ({
  id: `${workspacePath}/datastores/${ds.name}`,
  name: ds.name,
  type: 'Microsoft.MachineLearningServices/workspaces/datastores',
  properties: {
    datastoreType: ds.type ?? 'AzureBlob',
    isDefault: ds.isDefault ?? false,
    accountName: ds.accountName,
    containerName: ds.containerName,
    endpoint: ds.endpoint ?? 'core.windows.net',
    protocol: 'https',
    serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity',
    credentials: {credentialsType: typeof ds.secrets === 'object' ? ds.secrets.secretsType : 'None'},
    subscriptionId: subscription,
    resourceGroup,
  },
})

export interface RecordedCall {
  method: string
  path: string
  authorization?: string
}

export const subscription = '11111111-2222-3333-4444-555555555555'
export const resourceGroup = 'rg-test'

export const workspaceId = (name: string, sub = subscription, rg = resourceGroup) =>
  `azureml://subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`

/** A JWT-shaped token carrying the claims pf reads (unsigned: pf never verifies it, the services do). */
export const fakeJwt = (claims: Record<string, unknown>) => {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({alg: 'RS256', typ: 'JWT'})}.${part({aud: 'https://management.azure.com', ...claims})}.c2lnbmF0dXJl`
}

export const user = {oid: 'aaaaaaaa-0000-4000-8000-000000000001', tid: 'tttttttt-0000-4000-8000-000000000002', upn: 'dev@contoso.example'}
export const userToken = fakeJwt({...user, name: 'Dev User'})

export class FakeAzure {
  readonly workspaces = new Map<string, FakeWorkspace>()
  readonly calls: RecordedCall[] = []
  /** Run tracking: the runs uploaded to the workspaces, every request body, injectable faults. */
  readonly tracking = new FakeRunTracking()
  private readonly operations = new Map<string, {workspace: string; polls: number}>()
  private server!: http.Server
  /** Where resource tokens point (the Cosmos server, or a proxy in front of it). */
  cosmosEndpoint = 'https://127.0.0.1:1'
  port = 0

  get url() {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res))
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
  }

  callsTo(pattern: RegExp): RecordedCall[] {
    return this.calls.filter(c => pattern.test(`${c.method} ${c.path}`))
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, {'content-type': 'application/json', ...headers})
    res.end(body === undefined ? '' : JSON.stringify(body))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.url)
    this.calls.push({method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization})
    if (req.headers.authorization !== `Bearer ${userToken}`) {
      req.resume()
      return this.json(res, 401, {error: {code: 'Unauthorized', message: 'bad token'}})
    }
    // Run tracking's services (artifact, BulkRuns, metric, data, history) read request bodies: see fake-run-tracking.ts.
    if (FakeRunTracking.claims(url.pathname)) return this.tracking.handle(req, res, url.pathname, name => this.workspaces.has(name))
    req.resume()

    const op = /^\/operations\/([^/]+)$/.exec(url.pathname)
    if (op) {
      const state = this.operations.get(op[1])
      if (!state) return this.json(res, 404, {error: {message: 'no such operation'}})
      const ws = this.workspaces.get(state.workspace)!
      state.polls++
      const outcome = ws.setup?.outcome ?? 'Succeeded'
      if (outcome === 'Never' || state.polls < (ws.setup?.pollsUntilDone ?? 1))
        return this.json(res, 200, {status: 'InProgress'}, {'retry-after': '1'})
      if (outcome === 'Succeeded') ws.traceCosmosStatus = 'Initialized'
      return this.json(
        res,
        200,
        outcome === 'Succeeded'
          ? {status: 'Succeeded'}
          : {status: 'Failed', error: {code: 'SetupFailed', message: 'quota exceeded for Cosmos DB accounts'}},
      )
    }

    const arm =
      /^(\/flow\/api)?\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)(\/.*)?$/i.exec(
        url.pathname,
      )
    if (!arm) return this.json(res, 404, {error: {message: 'no route'}})
    const [, flowApi, , , name, rest = ''] = arm
    const ws = this.workspaces.get(name)
    if (!ws || ws.armStatus === 404) return this.json(res, 404, {error: {code: 'ResourceNotFound', message: `workspace ${name} not found`}})
    if (ws.armStatus === 403) return this.json(res, 403, {error: {code: 'AuthorizationFailed', message: 'no access'}})

    if (!flowApi && rest.startsWith('/datastores'))
      return this.datastores(req, res, url, ws, url.pathname.slice(0, url.pathname.length - rest.length), rest)
    if (!flowApi) {
      if (req.method !== 'GET' || rest !== '' || !url.searchParams.get('api-version'))
        return this.json(res, 400, {error: {message: 'bad ARM request'}})
      return this.json(res, 200, {
        id: url.pathname,
        name,
        kind: ws.kind ?? 'Default',
        location: ws.location ?? 'eastus',
        properties: {discoveryUrl: `${this.url}/discovery`},
      })
    }
    if (req.method === 'GET' && rest === '/TraceSessions')
      return this.json(res, 200, {
        traceCosmosConfiguration: ws.traceCosmosConfiguration ?? 'None',
        traceCosmosStatus: ws.traceCosmosStatus ?? 'NotExists',
      })
    if (req.method === 'POST' && rest === '/TraceSessions/setup') {
      if ((ws.setup?.respond ?? 202) === 200) {
        ws.traceCosmosStatus = 'Initialized'
        return this.json(res, 200, {})
      }
      const id = `op-${this.operations.size + 1}`
      this.operations.set(id, {workspace: name, polls: 0})
      ws.traceCosmosStatus = 'Initializing'
      return this.json(res, 202, undefined, {'azure-asyncoperation': `${this.url}/operations/${id}`, 'retry-after': '1'})
    }
    const token = /^\/TraceSessions\/container\/([^/]+)\/resourceToken$/.exec(rest)
    if (req.method === 'GET' && token && url.searchParams.get('acquireWrite') === 'true') {
      const databaseName = ws.databaseName ?? `db-${name}`
      const body = {
        accountEndpoint: this.cosmosEndpoint,
        databaseName,
        containerName: token[1],
        resourceUrl: `dbs/${databaseName}/colls/${token[1]}`,
        resourceToken: `type=resource&ver=1.0&sig=fake-${token[1]}-${Date.now()}`,
      }
      return this.json(res, 200, ws.tokenAsString ? JSON.stringify(body).replace(/"/g, "'") : body)
    }
    return this.json(res, 404, {error: {message: `no route ${req.method} ${rest}`}})
  }

  /** ARM datastore routes: list (`isDefault=true` filter), get, listSecrets. */
  private datastores(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    ws: FakeWorkspace,
    workspacePath: string,
    rest: string,
  ) {
    if (url.searchParams.get('api-version') !== '2023-04-01-preview')
      return this.json(res, 400, {error: {message: 'unsupported api-version'}})
    const all = ws.datastores ?? []
    if (req.method === 'GET' && rest === '/datastores') {
      const wanted = url.searchParams.get('isDefault') === 'true' ? all.filter(d => d.isDefault) : all
      return this.json(res, 200, {value: wanted.map(d => armDatastore(d, workspacePath))})
    }
    const one = /^\/datastores\/([^/]+)(\/listSecrets)?$/.exec(rest)
    const ds = one && all.find(d => d.name === decodeURIComponent(one[1]))
    if (!one || !ds) return this.json(res, 404, {error: {code: 'UserError', message: `datastore not found: ${rest}`}})
    if (req.method === 'GET' && !one[2]) return this.json(res, 200, armDatastore(ds, workspacePath))
    if (req.method === 'POST' && one[2]) {
      if (typeof ds.secrets === 'number')
        return this.json(res, ds.secrets, {error: {code: 'AuthorizationFailed', message: 'may not list secrets'}})
      if (!ds.secrets) return this.json(res, 200, {secretsType: 'None'})
      return this.json(res, 200, ds.secrets)
    }
    return this.json(res, 405, {error: {message: 'method not allowed'}})
  }
}

/**
 * A storage-scoped token (aud https://storage.azure.com, an Azure AD issuer, a lifetime) for the same user: what
 * Azurite's `--oauth basic` checks. `denied`: an audience of another account, which the storage refuses with 403
 * (as it refuses a login without "Storage Blob Data Contributor").
 */
export const storageToken = (options: {denied?: boolean} = {}) => {
  const now = Math.floor(Date.now() / 1000)
  return fakeJwt({
    ...user,
    name: 'Dev User',
    aud: options.denied ? 'https://someoneelse.blob.core.windows.net' : 'https://storage.azure.com',
    iss: `https://sts.windows.net/${user.tid}/`,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
  })
}

/**
 * A folder holding a fake `az`: `az account get-access-token` prints what the real one prints (an ARM token, or a
 * storage token when asked for the storage resource), or (loggedOut) the real one's "Please run 'az login'"
 * error. Put it first on PATH.
 */
export const fakeAzCli = (options: {loggedOut?: boolean; token?: string; storageDenied?: boolean} = {}): string => {
  const dir = path.join(tempDir('pf-fake-az-'), 'bin')
  mkdirSync(dir)
  const expiresOn = Math.floor(Date.now() / 1000) + 3600
  const answer = (accessToken: string) =>
    JSON.stringify({
      accessToken,
      expiresOn: new Date(expiresOn * 1000).toISOString().replace('T', ' ').slice(0, 19) + '.000000',
      expires_on: expiresOn,
      subscription,
      tenant: user.tid,
      tokenType: 'Bearer',
    })
  writeFileSync(path.join(dir, 'answer.json'), answer(options.token ?? userToken))
  writeFileSync(path.join(dir, 'storage.json'), answer(storageToken({denied: options.storageDenied})))
  const script = options.loggedOut
    ? `#!/bin/sh\necho "ERROR: Please run 'az login' to setup account." >&2\nexit 1\n`
    : `#!/bin/sh\ncase "$*" in\n  *get-access-token*storage.azure.com*) cat "${path.join(dir, 'storage.json')}" ;;\n  *get-access-token*) cat "${path.join(dir, 'answer.json')}" ;;\n  *) echo "ERROR: fake az knows only get-access-token" >&2; exit 2 ;;\nesac\n`
  writeFileSync(path.join(dir, 'az'), script)
  chmodSync(path.join(dir, 'az'), 0o755)
  return dir
}

/**
 * The environment that points pf at the fakes: the fake `az` (a folder from fakeAzCli) first on PATH, Azure Resource
 * Manager at the fake control plane, blob storage at Azurite, and the test CA trusted.
 */
export const azureEnv = (azure: FakeAzure, blobEndpoint: string, azDir: string): NodeJS.ProcessEnv => ({
  PATH: `${azDir}:${process.env.PATH}`,
  PF_ARM_ENDPOINT: azure.url,
  PF_BLOB_ENDPOINT: blobEndpoint,
  NODE_EXTRA_CA_CERTS: testTls().certFile,
})
