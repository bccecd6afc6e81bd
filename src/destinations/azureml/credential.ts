import type {AccessToken, TokenCredential} from '@azure/identity'

import type {ConfigReader} from '../../contract/destination.js'
import {ExitCode, PfError} from '../../errors.js'

/** `created_by` of Cosmos items: who wrote the trace, from the token's claims (never the token itself). */
export interface CreatedBy {
  object_id: string
  tenant_id: string
  name: string
}

/** The config key that picks how pf signs in to Azure. */
export const credentialKey = 'azureml.credential'
export const credentialModes = ['default', 'managed_identity'] as const
export type CredentialMode = (typeof credentialModes)[number]

export const credentialModeOf = (config: ConfigReader): CredentialMode =>
  config.get('azureml.credential') === 'managed_identity' ? 'managed_identity' : 'default'

/** Azure Resource Manager, or what PF_ARM_ENDPOINT says (sovereign clouds, tests). */
export const armEndpoint = (env: NodeJS.ProcessEnv): string =>
  (env.PF_ARM_ENDPOINT?.trim() || 'https://management.azure.com').replace(/\/+$/, '')

/** Claims of a JWT, decoded without verifying (only to name the writer; the services verify the token). */
export const tokenClaims = (token: string): Record<string, unknown> => {
  const payload = token.split('.')[1]
  if (!payload) return {}
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return {}
  }
}

export const createdByFromToken = (token: string): CreatedBy => {
  const claims = tokenClaims(token)
  const text = (key: string) => (typeof claims[key] === 'string' ? (claims[key] as string) : undefined)
  return {
    object_id: text('oid') ?? text('sub') ?? 'unknown',
    tenant_id: text('tid') ?? '',
    // The reference: the `name` claim, else (a service principal) the `appid`.
    name: text('name') ?? text('appid') ?? '',
  }
}

const loginHelp =
  'Not signed in to Azure: run `az login` (or set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET for a service principal, ' +
  'or with AZURE_FEDERATED_TOKEN_FILE for workload identity), then try again.'

/** The first line of an error message, without the SDK's troubleshooting links. */
const firstLine = (message: string | undefined): string =>
  (message ?? '')
    .split('\n')[0]
    .replace(/\s*(To troubleshoot|See the troubleshooting guide|Please visit)\b.*$/i, '')
    .trim()
    .slice(0, 300)

const networkFailure = /ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|getaddrinfo|fetch failed|network|socket hang up/i

/**
 * Why each credential of the chain could not sign in, in words a user can act on: no az CLI, az not logged in, a
 * service principal or federated token rejected, the sign-in service unreachable. Credentials that were simply not
 * configured (no AZURE_* variables) are left out.
 */
export const signInCauses = (error: Error, chain: CredentialKind[]): string[] => {
  const errors = (error as Error & {errors?: Error[]}).errors ?? [error]
  const causes = errors.map((e, i) => {
    const message = e.message ?? ''
    // Not configured at all (no AZURE_* variables): not a cause worth naming.
    if (e.name === 'CredentialUnavailableError' && chain[i] !== 'cli') return ''
    if (networkFailure.test(message)) return `the Azure sign-in service is unreachable (${firstLine(message)})`
    switch (chain[i]) {
      case 'cli':
        if (/could not be found|not found|ENOENT/i.test(message)) return 'the Azure CLI (az) is not installed'
        if (/az login/i.test(message)) return 'the Azure CLI is not signed in (`az login`)'
        return `the Azure CLI could not give a token: ${firstLine(message)}`
      case 'environment':
        return `the service principal in AZURE_CLIENT_ID was refused: ${firstLine(message)}`
      case 'workload':
        return `workload identity (AZURE_FEDERATED_TOKEN_FILE) failed: ${firstLine(message)}`
      default:
        return firstLine(message)
    }
  })
  return [...new Set(causes.filter(Boolean))]
}

/** The credentials of the default sign-in chain, in order. */
export type CredentialKind = 'cli' | 'environment' | 'workload'

/** Renews a cached token this long before it expires. */
const renewBeforeMs = 5 * 60_000

/**
 * pf's Azure sign-in: Azure CLI login first, then a service principal from the environment; managed identity only
 * when `azureml.credential=managed_identity`. Never DefaultAzureCredential: it probes the instance metadata
 * service, an address nobody configured. Tokens live in memory only.
 */
export class AzureSignIn {
  private credential: Promise<TokenCredential> | undefined
  /** What each credential of the chain is, in order (to word its failure). */
  private chain: CredentialKind[] = []
  private cached: AccessToken | undefined
  private pending: Promise<AccessToken> | undefined

  constructor(
    readonly mode: CredentialMode,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A bearer token for Azure Resource Manager (the flow service accepts the same token). */
  async armToken(): Promise<string> {
    if (this.cached && this.cached.expiresOnTimestamp - renewBeforeMs > Date.now()) return this.cached.token
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined
    })
    this.cached = await this.pending
    return this.cached.token
  }

  /**
   * The credential itself, for SDKs that ask for their own scope (blob storage asks for
   * `https://storage.azure.com/.default`; the SDK caches and renews that token in memory).
   */
  async tokenCredential(): Promise<TokenCredential> {
    const credential = await (this.credential ??= this.createCredential())
    return {
      getToken: async (scopes, options) => {
        try {
          return await credential.getToken(scopes, options)
        } catch (error) {
          throw this.signInError(error as Error)
        }
      },
    }
  }

  async createdBy(): Promise<CreatedBy> {
    return createdByFromToken(await this.armToken())
  }

  private async fetchToken(): Promise<AccessToken> {
    const credential = await (this.credential ??= this.createCredential())
    let token: AccessToken | null
    try {
      token = await credential.getToken(`${new URL(armEndpoint(this.env)).origin}/.default`)
    } catch (error) {
      throw this.signInError(error as Error)
    }
    if (!token) throw new PfError('azure_login_required', loginHelp, ExitCode.failure)
    return token
  }

  private async createCredential(): Promise<TokenCredential> {
    const identity = await import('./azure-sdk.js')
    if (this.mode === 'managed_identity') {
      const clientId = this.env.AZURE_CLIENT_ID
      return clientId ? new identity.ManagedIdentityCredential({clientId}) : new identity.ManagedIdentityCredential()
    }
    const chain: TokenCredential[] = [new identity.AzureCliCredential(), new identity.EnvironmentCredential()]
    this.chain = ['cli', 'environment']
    // CI runners (GitHub Actions OIDC, AKS workload identity) hand pf a federated token file instead of a secret.
    const {AZURE_FEDERATED_TOKEN_FILE: tokenFilePath, AZURE_TENANT_ID: tenantId, AZURE_CLIENT_ID: clientId} = this.env
    if (tokenFilePath && tenantId && clientId) {
      chain.push(new identity.WorkloadIdentityCredential({tokenFilePath, tenantId, clientId}))
      this.chain.push('workload')
    }
    return new identity.ChainedTokenCredential(...chain)
  }

  /** One line with the real cause(s); `--debug` shows every credential's full answer. */
  private signInError(error: Error): PfError {
    let result: PfError
    if (this.mode === 'managed_identity') {
      result = new PfError(
        'azure_login_required',
        `Managed identity sign-in failed (${credentialKey}=managed_identity): ${firstLine(error.message)}`,
        ExitCode.failure,
      )
    } else {
      const causes = signInCauses(error, this.chain)
      const known = causes.length > 0 && !causes.every(c => /^the Azure CLI is not signed in/.test(c))
      result = new PfError(
        'azure_login_required',
        known ? `${loginHelp.replace(/, then try again\.$/, '')}. Sign-in failed: ${causes.join('; ')}.` : loginHelp,
        ExitCode.failure,
      )
    }
    const every = ((error as Error & {errors?: Error[]}).errors ?? [error]).map(e => `  ${e.name}: ${e.message}`).join('\n')
    result.stack = `${result.name}: ${result.message}\nSign-in attempts:\n${every}\n${(result.stack ?? '').split('\n').slice(1).join('\n')}`
    return result
  }
}

const signIns = new Map<string, AzureSignIn>()

/** One sign-in per process and mode, so `az` runs once per command, not once per request. */
export const signInFor = (config: ConfigReader, env: NodeJS.ProcessEnv): AzureSignIn => {
  const mode = credentialModeOf(config)
  const key = `${mode}|${armEndpoint(env)}`
  let signIn = signIns.get(key)
  if (!signIn) signIns.set(key, (signIn = new AzureSignIn(mode, env)))
  return signIn
}
