import {ExitCode, PfError} from '../../errors.js'
import {type AzureSignIn, armEndpoint} from './credential.js'
import {type WorkspaceTriad, workspaceArmPath} from './workspace.js'

/** Azure ML workspace flavours as far as tracing cares (ARM `kind`). */
export type WorkspaceKind = 'workspace' | 'project' | 'hub'

export interface WorkspaceInfo {
  kind: WorkspaceKind
  location: string
  /** The flow service base URL (discovery URL cut before `discovery`), without a trailing slash. */
  serviceBaseUrl: string
}

export interface TraceStoreStatus {
  traceCosmosConfiguration?: string
  traceCosmosStatus?: string
}

/** What the flow service hands out per Cosmos container: a resource token scoped to it. */
export interface ContainerToken {
  accountEndpoint: string
  databaseName: string
  containerName: string
  resourceUrl: string
  resourceToken: string
}

export type TraceContainer = 'Span' | 'LineSummary' | 'Collection'

const workspaceApiVersion = '2024-04-01'
/** The ARM api-version the reference uses for datastores. */
export const datastoreApiVersion = '2023-04-01-preview'
const requestTimeoutMs = 60_000

export const describeWorkspace = (ws: WorkspaceTriad) =>
  `workspace "${ws.workspaceName}" (resource group "${ws.resourceGroup}", subscription ${ws.subscriptionId})`

/** `kind` as ARM reports it: `Default` = ML workspace, `Project`, `Hub`. */
export const workspaceKindOf = (kind: unknown): WorkspaceKind => {
  const k = String(kind ?? '').toLowerCase()
  return k === 'project' ? 'project' : k === 'hub' ? 'hub' : 'workspace'
}

/** The service base URL: the discovery URL cut before `discovery`; `https://{location}.api.azureml.ms` without one. */
export const serviceBaseUrlOf = (discoveryUrl: unknown, location: string): string => {
  if (typeof discoveryUrl === 'string' && discoveryUrl.includes('discovery'))
    return discoveryUrl.slice(0, discoveryUrl.indexOf('discovery')).replace(/\/+$/, '')
  return `https://${location}.api.azureml.ms`
}

/**
 * The resource-token response, also in the form the reference accepts: the object serialized inside a JSON
 * string (single quotes included).
 */
export const parseContainerToken = (body: unknown): ContainerToken => {
  let value = body
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body)
    } catch {
      value = JSON.parse(body.replace(/'/g, '"'))
    }
  }
  const token = value as Partial<ContainerToken> | null
  const fields = ['accountEndpoint', 'databaseName', 'containerName', 'resourceUrl', 'resourceToken'] as const
  const missing = fields.filter(f => typeof token?.[f] !== 'string' || token[f] === '')
  if (missing.length > 0) throw new Error(`resource token response lacks ${missing.join(', ')}`)
  return token as ContainerToken
}

/** A retryable problem talking to Azure (network, throttling, 5xx): spans stay queued and are sent later. */
export class TransientAzureError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'TransientAzureError'
  }
}

interface HttpResult {
  status: number
  headers: Headers
  body: unknown
}

const retryAfterMsOf = (headers: Headers): number | undefined => {
  const ms = Number(headers.get('x-ms-retry-after-ms') ?? Number.NaN)
  if (Number.isFinite(ms) && ms >= 0) return ms
  const seconds = Number(headers.get('retry-after') ?? Number.NaN)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** The Azure control plane pf talks to: ARM for the workspace, the flow service for the trace store. */
export class ControlPlane {
  constructor(
    private readonly signIn: AzureSignIn,
    private readonly env: NodeJS.ProcessEnv,
    private readonly userAgent?: string,
  ) {}

  async workspace(ws: WorkspaceTriad): Promise<WorkspaceInfo> {
    const url = `${armEndpoint(this.env)}${workspaceArmPath(ws)}?api-version=${workspaceApiVersion}`
    const res = await this.request('GET', url, 'reading the workspace from Azure Resource Manager')
    if (res.status === 404)
      throw new PfError(
        'workspace_not_found',
        `Azure ML ${describeWorkspace(ws)} was not found; check the ids in trace.destination or config.json.`,
      )
    if (res.status === 403)
      throw new PfError(
        'workspace_forbidden',
        `Your Azure login may not read ${describeWorkspace(ws)} (HTTP 403); ask for a role on it or \`az login\` as another user.`,
      )
    if (res.status === 401)
      throw new PfError('azure_login_required', 'Azure rejected the login (HTTP 401); run `az login` again.', ExitCode.failure)
    this.expectOk(res, 'reading the workspace from Azure Resource Manager')
    const body = res.body as {kind?: string; location?: string; properties?: {discoveryUrl?: string}}
    const kind = workspaceKindOf(body.kind)
    if (kind === 'hub')
      throw new PfError(
        'workspace_is_hub',
        `"${ws.workspaceName}" is an Azure AI hub; traces go to an Azure ML workspace or an Azure AI project: use one of the hub's projects.`,
      )
    const location = body.location ?? ''
    return {kind, location, serviceBaseUrl: serviceBaseUrlOf(body.properties?.discoveryUrl, location)}
  }

  /** `{base}/flow/api/subscriptions/…/workspaces/{ws}`: where the TraceSessions routes live. */
  flowApi(ws: WorkspaceTriad, info: WorkspaceInfo): string {
    return `${info.serviceBaseUrl}/flow/api${workspaceArmPath(ws)}`
  }

  async traceStoreStatus(ws: WorkspaceTriad, info: WorkspaceInfo): Promise<TraceStoreStatus> {
    const what = 'reading the trace store status'
    const res = await this.request('GET', `${this.flowApi(ws, info)}/TraceSessions`, what)
    this.expectOk(res, what)
    return (res.body ?? {}) as TraceStoreStatus
  }

  /**
   * Makes sure the workspace's trace store (Cosmos DB) can take traces: a disabled store is an error; one that is
   * not initialized is set up (202 + polling of `azure-asyncoperation`) within `timeoutMs`.
   */
  async ensureTraceStore(
    ws: WorkspaceTriad,
    info: WorkspaceInfo,
    options: {timeoutMs: number; progress?: (m: string) => void},
  ): Promise<void> {
    const status = await this.traceStoreStatus(ws, info)
    if (String(status.traceCosmosConfiguration).toLowerCase() === 'disabled')
      throw new PfError(
        'trace_store_disabled',
        `Cloud tracing is disabled for ${describeWorkspace(ws)}; enable it in the workspace or use another destination.`,
      )
    if (String(status.traceCosmosStatus).toLowerCase() === 'initialized') return
    options.progress?.('The workspace Cosmos DB is not initialized yet, will start initialization, which may take some minutes...')
    const deadline = Date.now() + options.timeoutMs
    const what = 'setting up the trace store'
    const setup = await this.request('POST', `${this.flowApi(ws, info)}/TraceSessions/setup`, what, {resourceType: 'HOBO'})
    if (setup.status === 200) return
    if (setup.status !== 202) this.expectOk(setup, what)
    const operation = setup.headers.get('azure-asyncoperation')
    if (!operation)
      throw new PfError(
        'azure_request_failed',
        'Trace store setup answered 202 without an azure-asyncoperation URL to follow.',
        ExitCode.failure,
      )
    let delay = retryAfterMsOf(setup.headers) ?? 10_000
    const started = Date.now()
    for (;;) {
      const wait = Math.min(Math.max(delay, 200), 60_000)
      if (Date.now() + wait > deadline)
        throw new PfError(
          'trace_store_setup_timeout',
          `The trace store of ${describeWorkspace(ws)} was still being set up after ${Math.round(options.timeoutMs / 1000)} s; run the same command again later, or pass a longer --timeout.`,
          ExitCode.failure,
        )
      await sleep(wait)
      let poll: HttpResult
      try {
        poll = await this.request('GET', operation, 'polling the trace store setup')
      } catch (error) {
        if (error instanceof TransientAzureError) continue
        throw error
      }
      if (poll.status >= 500 || poll.status === 429) continue
      this.expectOk(poll, 'polling the trace store setup')
      const body = (poll.body ?? {}) as {status?: string; error?: {code?: string; message?: string}}
      const state = String(body.status ?? '')
      if (state.toLowerCase() === 'inprogress' || state === '') {
        options.progress?.(`Setting up the trace store… ${Math.round((Date.now() - started) / 1000)} s`)
        delay = retryAfterMsOf(poll.headers) ?? delay
        continue
      }
      if (state.toLowerCase() === 'succeeded') return
      const reason = body.error?.message ?? body.error?.code ?? state
      throw new PfError(
        'trace_store_setup_failed',
        `Setting up the trace store of ${describeWorkspace(ws)} failed: ${reason}`,
        ExitCode.failure,
      )
    }
  }

  async containerToken(ws: WorkspaceTriad, info: WorkspaceInfo, container: TraceContainer): Promise<ContainerToken> {
    const what = `getting a write token for the ${container} container`
    const res = await this.request(
      'GET',
      `${this.flowApi(ws, info)}/TraceSessions/container/${container}/resourceToken?acquireWrite=true`,
      what,
    )
    this.expectOk(res, what)
    try {
      return parseContainerToken(res.body)
    } catch (error) {
      throw new PfError('azure_request_failed', `Unexpected answer ${what}: ${(error as Error).message}`, ExitCode.failure)
    }
  }

  /**
   * A datastore of the workspace as ARM describes it (`undefined` name = the workspace's default datastore,
   * `GET …/datastores?isDefault=true`, first item). The caller checks its type (see datastore.ts).
   */
  async datastore(ws: WorkspaceTriad, name?: string): Promise<unknown> {
    const base = `${armEndpoint(this.env)}${workspaceArmPath(ws)}/datastores`
    const what = name
      ? `reading datastore "${name}" of ${describeWorkspace(ws)}`
      : `reading the default datastore of ${describeWorkspace(ws)}`
    const url = name
      ? `${base}/${encodeURIComponent(name)}?api-version=${datastoreApiVersion}`
      : `${base}?api-version=${datastoreApiVersion}&isDefault=true`
    const res = await this.request('GET', url, what)
    if (res.status === 404 && name)
      throw new PfError('datastore_not_found', `${describeWorkspace(ws)} has no datastore "${name}".`, ExitCode.failure)
    if (res.status === 403)
      throw new PfError(
        'workspace_forbidden',
        `Your Azure login may not read the datastores of ${describeWorkspace(ws)} (HTTP 403); ask for a role on it.`,
        ExitCode.failure,
      )
    this.expectOk(res, what)
    if (name) return res.body
    const first = (res.body as {value?: unknown[]} | undefined)?.value?.[0]
    if (!first) throw new PfError('datastore_not_found', `${describeWorkspace(ws)} has no default datastore.`, ExitCode.failure)
    return first
  }

  /**
   * The datastore's secrets (`POST …/datastores/{name}/listSecrets`): `{secretsType: 'AccountKey', key}` or
   * `{secretsType: 'Sas', sasToken}`. `undefined` when the login may not list them (403) or the datastore has none.
   */
  async datastoreSecrets(ws: WorkspaceTriad, name: string): Promise<Record<string, unknown> | undefined> {
    const what = `listing the secrets of datastore "${name}"`
    const url = `${armEndpoint(this.env)}${workspaceArmPath(ws)}/datastores/${encodeURIComponent(name)}/listSecrets?api-version=${datastoreApiVersion}`
    const res = await this.request('POST', url, what, {})
    if (res.status === 403 || res.status === 404 || res.status === 400) return undefined
    this.expectOk(res, what)
    return (res.body ?? undefined) as Record<string, unknown> | undefined
  }

  /** One authenticated JSON call; 429/5xx/no answer → TransientAzureError, any other status is returned. */
  async request(method: string, url: string, what: string, body?: unknown): Promise<HttpResult> {
    const token = await this.signIn.armToken()
    const headers: Record<string, string> = {authorization: `Bearer ${token}`, accept: 'application/json'}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.userAgent) headers['user-agent'] = `pf ${this.userAgent}`
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeoutMs),
      })
    } catch (error) {
      const cause = (error as {cause?: {code?: string; message?: string}}).cause
      throw new TransientAzureError(`${what} failed: ${cause?.code ?? cause?.message ?? (error as Error).message} (${new URL(url).host})`)
    }
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      // Not JSON (an HTML error page, plain text): kept as text.
    }
    if (res.status === 429 || res.status >= 500)
      throw new TransientAzureError(`${what} failed: HTTP ${res.status} from ${new URL(url).host}`, retryAfterMsOf(res.headers))
    return {status: res.status, headers: res.headers, body: parsed}
  }

  private expectOk(res: HttpResult, what: string): void {
    if (res.status >= 200 && res.status < 300) return
    if (res.status === 401)
      throw new PfError('azure_login_required', 'Azure rejected the login (HTTP 401); run `az login` again.', ExitCode.failure)
    const body = res.body as {error?: {message?: string}; message?: string} | undefined
    const reason = (typeof body === 'object' ? (body?.error?.message ?? body?.message) : undefined) ?? ''
    throw new PfError(
      'azure_request_failed',
      `${what} failed: HTTP ${res.status}${reason ? `: ${String(reason).split('\n')[0].slice(0, 300)}` : ''}`,
      ExitCode.failure,
    )
  }
}
