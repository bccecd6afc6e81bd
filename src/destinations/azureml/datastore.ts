/**
 * A workspace's blob datastores (resolved through ARM) and clients for their containers.
 *
 * The reference writes span data with the user's Azure AD credential (scope `https://storage.azure.com/.default`,
 * role "Storage Blob Data Contributor"); pf does too, and when the storage answers 403 it falls back to the
 * datastore's secrets (`listSecrets`: account key or SAS). Datastores and clients are cached 4 minutes, as the
 * reference does. `@azure/storage-blob` (through ./azure-sdk.js) is imported only when a client is made.
 *
 * API (also used by the run upload):
 * - `datastoreBlobs(plane, signIn, workspace, env, {datastore?, prefer?})` → the cached DatastoreBlobs of one
 *   datastore (`datastore` unset = the workspace's default datastore).
 * - `DatastoreBlobs.datastore()` → the Datastore (ARM fields pf uses); throws PfError `datastore_not_blob`.
 * - `DatastoreBlobs.withContainer(op)` → runs `op(containerClient)`; on 403 once more with the other credential;
 *   both refused → PfError `storage_forbidden` naming the role and account; network/429/5xx → TransientAzureError.
 * - `blobAccountUrl(datastore, env)`, `datastoreUri(workspace, datastoreName, path)`.
 */
import type {ContainerClient, StoragePipelineOptions} from '@azure/storage-blob'

import {ExitCode, PfError, isPfError} from '../../errors.js'
import {type ControlPlane, TransientAzureError, describeWorkspace} from './control-plane.js'
import type {AzureSignIn} from './credential.js'
import {type WorkspaceTriad, workspaceArmPath} from './workspace.js'

/** What pf uses of an ARM datastore (`properties.*`). */
export interface Datastore {
  name: string
  accountName: string
  containerName: string
  /** The storage endpoint suffix, e.g. `core.windows.net`. */
  endpoint: string
  protocol: string
  /** `AccountKey`, `Sas`, `None` (identity-based) … */
  credentialsType: string
}

/** How a client signs its requests: the user's Azure AD token, or the datastore's key / SAS. */
export type BlobAuth = 'aad' | 'secrets'

export interface DatastoreBlobsOptions {
  /** A datastore name; unset = the workspace's default datastore. */
  datastore?: string
  /** Which credential to try first (the other one is tried on 403). Default `aad`, as the reference writes spans. */
  prefer?: BlobAuth
}

/** The reference caches datastore and client 4 minutes. */
export const datastoreTtlMs = 4 * 60_000

/** An ARM datastore answer → Datastore; anything but an AzureBlob datastore is an error. */
export const parseDatastore = (body: unknown, isDefault = true): Datastore => {
  const b = (body ?? {}) as {name?: unknown; properties?: Record<string, unknown>}
  const p = b.properties ?? {}
  const name = String(b.name ?? '')
  const type = String(p.datastoreType ?? 'unknown')
  if (type !== 'AzureBlob')
    throw new PfError(
      'datastore_not_blob',
      `${isDefault ? 'Default datastore' : 'Datastore'} ${name} is ${type}, not AzureBlob. pf keeps span data in the workspace's default datastore: make an AzureBlob datastore the default (e.g. workspaceblobstore).`,
      ExitCode.failure,
    )
  const text = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : '')
  const missing = ['accountName', 'containerName'].filter(k => !text(k))
  if (missing.length > 0)
    throw new PfError('azure_request_failed', `Datastore ${name} lacks ${missing.join(', ')} in its ARM description.`, ExitCode.failure)
  const credentials = p.credentials as {credentialsType?: unknown} | undefined
  return {
    name,
    accountName: text('accountName'),
    containerName: text('containerName'),
    endpoint: text('endpoint') || 'core.windows.net',
    protocol: text('protocol') || 'https',
    credentialsType: String(credentials?.credentialsType ?? 'None'),
  }
}

/**
 * `https://{account}.blob.{endpoint}`, or PF_BLOB_ENDPOINT with `{account}` replaced by the account name
 * (e.g. `https://127.0.0.1:10000/{account}` for an emulator), as PF_ARM_ENDPOINT does for ARM.
 */
export const blobAccountUrl = (ds: Pick<Datastore, 'accountName' | 'endpoint' | 'protocol'>, env: NodeJS.ProcessEnv): string => {
  const template = env.PF_BLOB_ENDPOINT?.trim()
  if (template) return template.replaceAll('{account}', ds.accountName).replace(/\/+$/, '')
  return `${ds.protocol || 'https'}://${ds.accountName}.blob.${ds.endpoint || 'core.windows.net'}`
}

/** `azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}/datastores/{name}/paths/{path}` (the reference's form). */
export const datastoreUri = (ws: WorkspaceTriad, datastoreName: string, blobPath = ''): string =>
  `azureml://subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/workspaces/${ws.workspaceName}/datastores/${datastoreName}/paths/${blobPath}`

const statusOf = (error: unknown): number | undefined => {
  const status = (error as {statusCode?: unknown}).statusCode
  return typeof status === 'number' ? status : undefined
}

/** Network failures, timeouts, throttling and 5xx: the storage may answer later. */
export const isTransientStorageError = (error: unknown): boolean => {
  if (error instanceof TransientAzureError) return true
  if (isPfError(error)) return false
  const status = statusOf(error)
  if (status === undefined) return (error as {name?: string}).name !== 'TypeError' // no answer at all: connection refused, reset, timeout
  return status === 408 || status === 429 || status >= 500
}

/** One line for a storage error (no URL query strings: a SAS must not end up in a message). */
export const describeStorageError = (error: unknown): string => {
  if (isPfError(error) || error instanceof TransientAzureError) return (error as Error).message
  const e = error as {statusCode?: number; code?: string; message?: string; details?: {errorCode?: string}}
  const code = e.details?.errorCode ?? e.code
  const first = String(e.message ?? error)
    .split('\n')[0]
    .replace(/\?[^\s]*/g, '')
    .slice(0, 200)
  return `blob storage ${e.statusCode ? `answered HTTP ${e.statusCode}` : 'unreachable'}${code ? ` (${code})` : ''}: ${first}`
}

const storageOptions: StoragePipelineOptions = {
  // pf's outbox owns retries (with backoff across processes): the SDK only rides out a short blip.
  retryOptions: {maxTries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000, tryTimeoutInMs: 120_000},
}

interface Resolved {
  datastore: Datastore
  fetchedAt: number
  /** The credential that worked last: the next operation starts with it. */
  auth: BlobAuth
  clients: Partial<Record<BlobAuth, Promise<ContainerClient | undefined>>>
}

/** One datastore's container, with the AD-then-secrets fallback. Get it through `datastoreBlobs` (cached). */
export class DatastoreBlobs {
  private resolved: Promise<Resolved> | undefined

  constructor(
    private readonly plane: ControlPlane,
    private readonly signIn: AzureSignIn,
    readonly workspace: WorkspaceTriad,
    private readonly env: NodeJS.ProcessEnv,
    private readonly options: DatastoreBlobsOptions = {},
  ) {}

  /** The datastore (ARM), cached 4 minutes. */
  async datastore(): Promise<Datastore> {
    return (await this.resolve()).datastore
  }

  /** The credential the last successful operation used. */
  async auth(): Promise<BlobAuth> {
    return (await this.resolve()).auth
  }

  /**
   * Runs `op` against the datastore's container with the preferred credential; when the storage answers 403,
   * runs it again with the other one (ops must be idempotent: blobs are overwritten). Both refused →
   * PfError `storage_forbidden`; no answer, 429, 5xx → TransientAzureError; other errors as the SDK threw them.
   */
  async withContainer<T>(op: (container: ContainerClient) => Promise<T>): Promise<T> {
    const state = await this.resolve()
    const first = state.auth
    const second: BlobAuth = first === 'aad' ? 'secrets' : 'aad'
    let firstError: unknown
    const firstClient = await this.client(state, first)
    if (firstClient) {
      try {
        return await op(firstClient)
      } catch (error) {
        if (statusOf(error) !== 403) throw this.classify(error)
        firstError = error
      }
    }
    const secondClient = await this.client(state, second)
    if (!secondClient) throw this.forbidden(state.datastore, firstError)
    try {
      const result = await op(secondClient)
      state.auth = second
      return result
    } catch (error) {
      if (statusOf(error) === 403) throw this.forbidden(state.datastore, error)
      throw this.classify(error)
    }
  }

  private resolve(): Promise<Resolved> {
    const current = this.resolved
    if (current) {
      // Keep a settled, fresh resolution; a stale one is replaced (the datastore may have changed).
      return current.then(r => {
        if (Date.now() - r.fetchedAt < datastoreTtlMs) return r
        if (this.resolved === current) this.resolved = undefined // the first caller to see it stale renews it
        return this.resolve()
      })
    }
    const next = (async (): Promise<Resolved> => {
      const body = await this.plane.datastore(this.workspace, this.options.datastore)
      return {
        datastore: parseDatastore(body, this.options.datastore === undefined),
        fetchedAt: Date.now(),
        auth: this.options.prefer ?? 'aad',
        clients: {},
      }
    })()
    this.resolved = next
    next.catch(() => {
      if (this.resolved === next) this.resolved = undefined
    })
    return next
  }

  /** The client for one credential; `undefined` when the datastore has no secrets pf may read. */
  private client(state: Resolved, auth: BlobAuth): Promise<ContainerClient | undefined> {
    let client = state.clients[auth]
    if (!client) {
      client = this.makeClient(state.datastore, auth)
      state.clients[auth] = client
      client.catch(() => {
        if (state.clients[auth] === client) delete state.clients[auth]
      })
    }
    return client
  }

  private async makeClient(ds: Datastore, auth: BlobAuth): Promise<ContainerClient | undefined> {
    const {AnonymousCredential, ContainerClient, StorageSharedKeyCredential} = await import('./azure-sdk.js')
    const containerUrl = `${blobAccountUrl(ds, this.env)}/${encodeURIComponent(ds.containerName)}`
    if (auth === 'aad') return new ContainerClient(containerUrl, await this.signIn.tokenCredential(), storageOptions)
    const secrets = await this.plane.datastoreSecrets(this.workspace, ds.name)
    const type = String(secrets?.secretsType ?? '').toLowerCase()
    if (type === 'accountkey' && typeof secrets?.key === 'string' && secrets.key)
      return new ContainerClient(containerUrl, new StorageSharedKeyCredential(ds.accountName, secrets.key), storageOptions)
    if (type === 'sas' && typeof secrets?.sasToken === 'string' && secrets.sasToken)
      return new ContainerClient(`${containerUrl}?${secrets.sasToken.replace(/^\?/, '')}`, new AnonymousCredential(), storageOptions)
    return undefined
  }

  private forbidden(ds: Datastore, error: unknown): PfError {
    const reason = error ? ` (${describeStorageError(error)})` : ''
    return new PfError(
      'storage_forbidden',
      `No permission to write to storage account ${ds.accountName} container ${ds.containerName}${reason}: ask for the role "Storage Blob Data Contributor" on account ${ds.accountName}, or access to the secrets of datastore ${ds.name} of ${describeWorkspace(this.workspace)}.`,
      ExitCode.failure,
    )
  }

  private classify(error: unknown): unknown {
    if (isTransientStorageError(error) && !(error instanceof TransientAzureError))
      return new TransientAzureError(describeStorageError(error))
    return error
  }
}

const cache = new Map<string, DatastoreBlobs>()

/** The DatastoreBlobs of one workspace datastore, one per process (datastore and clients cached inside). */
export const datastoreBlobs = (
  plane: ControlPlane,
  signIn: AzureSignIn,
  workspace: WorkspaceTriad,
  env: NodeJS.ProcessEnv,
  options: DatastoreBlobsOptions = {},
): DatastoreBlobs => {
  const key = [
    workspaceArmPath(workspace).toLowerCase(),
    options.datastore ?? '',
    options.prefer ?? 'aad',
    env.PF_ARM_ENDPOINT ?? '',
    env.PF_BLOB_ENDPOINT ?? '',
  ].join('|')
  let blobs = cache.get(key)
  if (!blobs) cache.set(key, (blobs = new DatastoreBlobs(plane, signIn, workspace, env, options)))
  return blobs
}
