/**
 * Run tracking: turns a finished local run into a run record of the workspace (spec promptflow-cloud-2 §3), as
 * resumable steps. Every step is idempotent (blobs are overwritten, BulkRuns/create overwrites, an asset is
 * created again) except metrics, which the metric service appends: each metric is recorded as sent the moment
 * the service took it, and never sent again.
 */
import {ExitCode, PfError} from '../../errors.js'
import type {DestinationContext} from '../../contract/destination.js'
import {ControlPlane, type WorkspaceInfo, describeWorkspace} from './control-plane.js'
import {signInFor} from './credential.js'
import {datastoreBlobs} from './datastore.js'
import {portalLinks} from './portal.js'
import type {AzureMlDestination} from './provider.js'
import {
  ArtifactDatastore,
  type BulkRunFacts,
  type OutputAsset,
  type ServiceRequest,
  type TrackingScope,
  assetIdOf,
  createBulkRunRequest,
  getBulkRunRequest,
  metricRequest,
  patchRunOutputsRequest,
  registerArtifactRequest,
  runDataRequest,
  unregisteredOutputRequest,
} from './run-tracking.js'

/** One blob of the run's layout: in the default datastore, or (the overall log) in the artifact datastore. */
export interface RunBlob {
  datastore: 'default' | 'artifact'
  path: string
  body: string | Buffer
}

/** What the uploader needs of a run; built by the run layer (src/run/cloud-layout.ts). */
export interface RunUploadInput {
  bulkRun: BulkRunFacts
  metrics: Record<string, number>
  blobs(): Iterable<RunBlob>
  /** How many blobs `blobs()` yields (for progress). */
  blobCount?: number
}

/** The job's memory: what each finished step left, by step name. */
export interface UploadStepLog {
  get(step: string): unknown
  record(step: string, result?: unknown): void
}

export interface RunUploadResult {
  portalUrl: string
  warnings: string[]
}

/** Blob uploads in flight at once (the reference starts them all; a bound keeps sockets and memory in check). */
export const blobConcurrency = 32

/** A step that a later attempt (after the user acts) may pass; the job stays pending with this message. */
const blocked = (code: string, message: string) => new PfError(code, message, ExitCode.failure)

export class AzureMlRunUploader {
  private readonly plane: ControlPlane
  private readonly signIn

  constructor(
    private readonly dest: AzureMlDestination,
    private readonly ctx: DestinationContext,
  ) {
    this.signIn = signInFor(ctx.config, ctx.env)
    this.plane = new ControlPlane(this.signIn, ctx.env, ctx.config.string('user_agent'))
  }

  private get ws() {
    return this.dest.workspace
  }

  /** Calls the workspace's services; 429/5xx/no answer → TransientAzureError, 401 → sign-in error. */
  private async call(req: ServiceRequest, what: string): Promise<{status: number; body: unknown}> {
    const res = await this.plane.request(req.method, req.url, what, req.body)
    if (res.status === 401)
      throw blocked('azure_login_required', 'Azure rejected the login (HTTP 401); run `az login` again, then `pf run sync`.')
    return res
  }

  private async expectOk(req: ServiceRequest, what: string, accept: number[] = []): Promise<unknown> {
    const res = await this.call(req, what)
    if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res.body
    const body = res.body as {error?: {message?: string}; message?: string} | undefined
    const reason = typeof body === 'object' ? (body?.error?.message ?? body?.message) : undefined
    if (res.status === 403)
      throw blocked(
        'workspace_forbidden',
        `${what} failed: your Azure login may not write runs to ${describeWorkspace(this.ws)} (HTTP 403); ask for a role on it.`,
      )
    throw blocked(
      'azure_request_failed',
      `${what} failed: HTTP ${res.status}${reason ? `: ${String(reason).split('\n')[0].slice(0, 300)}` : ''}`,
    )
  }

  private async exists(run: string): Promise<boolean> {
    const res = await this.call(runDataRequest(await this.scope(), run), `looking up run ${run} in the workspace`)
    if (res.status === 404) return false
    if (res.status >= 200 && res.status < 300) return true
    throw blocked('azure_request_failed', `Looking up run ${run} in ${describeWorkspace(this.ws)} failed: HTTP ${res.status}.`)
  }

  private info: WorkspaceInfo | undefined

  private async scope(): Promise<TrackingScope> {
    // A hub answers with the workspace_is_hub error here.
    this.info ??= await this.plane.workspace(this.ws)
    return {workspace: this.ws, serviceBaseUrl: this.info.serviceBaseUrl}
  }

  /**
   * Runs the steps not yet in `steps`, in the reference's order: look-ups, blobs, artifact, BulkRuns/create,
   * metrics, output assets, run history, portal URL. Throws TransientAzureError (try again later) or PfError
   * (the user must act: sign in, a role, the base run).
   */
  async upload(input: RunUploadInput, steps: UploadStepLog, progress?: (message: string) => void): Promise<RunUploadResult> {
    const run = input.bulkRun.name
    const scope = await this.scope()
    const warnings: string[] = []

    if (!steps.get('check')) {
      if (input.bulkRun.baseRun && !(await this.exists(input.bulkRun.baseRun))) {
        throw blocked(
          'base_run_not_in_workspace',
          `Evaluation run ${run} evaluates run ${input.bulkRun.baseRun}, which is not in ${describeWorkspace(this.ws)}; upload the base run first (create it with this trace destination).`,
        )
      }
      const existed = await this.exists(run)
      steps.record('check', {existed})
    }
    if ((steps.get('check') as {existed?: boolean}).existed)
      warnings.push(`Run ${run} was already in ${describeWorkspace(this.ws)}; it was overwritten (as prompt flow does).`)

    if (!steps.get('blobs')) {
      const count = await this.uploadBlobs(input, progress)
      steps.record('blobs', {count})
    }
    if (!steps.get('artifact')) {
      progress?.('registering instance_results.jsonl')
      await this.expectOk(registerArtifactRequest(scope, run), 'registering the run artifact', [409])
      steps.record('artifact')
    }
    if (!steps.get('bulkrun')) {
      progress?.('creating the run record (BulkRuns/create)')
      await this.expectOk(createBulkRunRequest(scope, input.bulkRun), 'creating the run record')
      steps.record('bulkrun')
    }
    const metrics = Object.entries(input.metrics).filter(([name]) => steps.get(`metric:${name}`) === undefined)
    if (metrics.length > 0) progress?.(`posting ${metrics.length} metric(s)`)
    // One at a time, each recorded as soon as the service took it: a retry never posts a metric twice.
    for (const [name, value] of metrics) {
      await this.expectOk(metricRequest(scope, run, name, value), `posting metric ${name}`)
      steps.record(`metric:${name}`, value)
    }
    const assets = {} as Record<OutputAsset, string>
    for (const output of ['debug_info', 'flow_outputs'] as const) {
      let id = steps.get(`asset:${output}`) as string | undefined
      if (!id) {
        const body = await this.expectOk(unregisteredOutputRequest(scope, run, output), `creating the ${output} output asset`)
        id = assetIdOf(body)
        if (!id)
          throw blocked('azure_request_failed', `Creating the ${output} output asset answered without latestVersion.dataVersion.assetId.`)
        steps.record(`asset:${output}`, id)
      }
      assets[output] = id
    }
    if (!steps.get('history')) {
      await this.expectOk(patchRunOutputsRequest(scope, run, assets), 'linking the output assets to the run')
      steps.record('history')
    }
    let portalUrl = steps.get('portal') as string | undefined
    if (!portalUrl) {
      const body = (await this.expectOk(getBulkRunRequest(scope, run), 'reading the run back')) as
        {studioPortalTraceEndpoint?: unknown} | undefined
      const endpoint = body?.studioPortalTraceEndpoint
      portalUrl =
        typeof endpoint === 'string' && endpoint !== ''
          ? endpoint
          : portalLinks(this.ws, this.info?.kind === 'project' ? 'project' : 'workspace', undefined, {run, collection: run})[0]
      steps.record('portal', portalUrl)
    }
    return {portalUrl, warnings}
  }

  /**
   * Every blob, overwriting, through the datastores' secrets (else the AD login): `blobConcurrency` workers pull
   * from the layout, so only the blobs in flight are in memory. The first failure stops the others.
   */
  private async uploadBlobs(input: RunUploadInput, progress?: (message: string) => void): Promise<number> {
    const {env} = this.ctx
    const stores = {
      default: datastoreBlobs(this.plane, this.signIn, this.ws, env, {prefer: 'secrets'}),
      artifact: datastoreBlobs(this.plane, this.signIn, this.ws, env, {datastore: ArtifactDatastore, prefer: 'secrets'}),
    }
    const blobs = input.blobs()[Symbol.iterator]()
    let done = 0
    let lastReport = 0
    let failed = false
    const worker = async () => {
      for (let next = blobs.next(); !next.done && !failed; next = blobs.next()) {
        const blob = next.value
        try {
          await stores[blob.datastore].withContainer(container =>
            container.getBlockBlobClient(blob.path).upload(blob.body, Buffer.byteLength(blob.body), {
              blobHTTPHeaders: {blobContentType: contentTypeOf(blob.path)},
            }),
          )
        } catch (error) {
          failed = true
          throw error
        }
        done++
        if (progress && Date.now() - lastReport > 250) {
          lastReport = Date.now()
          progress(`uploading blobs ${done}${input.blobCount ? `/${input.blobCount}` : ''}`)
        }
      }
    }
    const results = await Promise.allSettled(Array.from({length: blobConcurrency}, worker))
    const failure = results.find(r => r.status === 'rejected')
    if (failure) throw (failure as PromiseRejectedResult).reason
    progress?.(`uploaded ${done} blob(s)`)
    return done
  }
}

const contentTypeOf = (blobPath: string): string =>
  blobPath.endsWith('.json') || blobPath.endsWith('.jsonl')
    ? 'application/json'
    : blobPath.endsWith('.txt') || blobPath.endsWith('.log')
      ? 'text/plain'
      : 'application/octet-stream'
