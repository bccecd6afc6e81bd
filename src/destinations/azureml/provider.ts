import {ExitCode, PfError} from '../../errors.js'
import {Resource} from '../../contract/attributes.js'
import type {DestinationContext, LinkRef, ResolvedDestination, SpanExporter, TraceDestinationProvider} from '../../contract/destination.js'
import type {WorkspaceInfo} from './control-plane.js'
import {portalLinks} from './portal.js'
import {type WorkspaceTriad, findWorkspaceConfig, parseWorkspaceId, workspaceArmPath} from './workspace.js'

/** What `resolve` records about an Azure ML destination; saved in the store (no secrets) for `pf trace sync`. */
export interface AzureMlDestination extends ResolvedDestination {
  workspace: WorkspaceTriad
  /** Known when ARM answered at resolve time; the exporter asks again otherwise. */
  info?: WorkspaceInfo
  /** The signed-in user's object id: part of collection ids and links. */
  objectId?: string
}

const isBare = (value: string) => value.trim().toLowerCase() === 'azureml'

/** One exporter per workspace per process: its Cosmos client, resource tokens and written-collection cache are reused. */
const exporters = new Map<string, Promise<SpanExporter>>()

// Azure and Cosmos code is imported only on the paths that talk to Azure: loading the provider stays cheap.
const azure = async (ctx: DestinationContext) => {
  const [{signInFor}, {ControlPlane, TransientAzureError}] = await Promise.all([import('./credential.js'), import('./control-plane.js')])
  const signIn = signInFor(ctx.config, ctx.env)
  return {signIn, controlPlane: new ControlPlane(signIn, ctx.env, ctx.config.string('user_agent')), TransientAzureError}
}

/** The built-in Azure ML workspace / Azure AI project destination (traces go to the workspace's Cosmos DB). */
export const azuremlProvider: TraceDestinationProvider<AzureMlDestination> = {
  contractVersion: 1,
  scheme: 'azureml',
  description: 'An Azure ML workspace or Azure AI project (traces go to its Cosmos DB, span data to its default blob datastore)',
  examples: ['azureml', 'azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>'],
  configKeys: [
    {
      key: 'azureml.credential',
      description:
        'How pf signs in to Azure: default (Azure CLI login, then a service principal from AZURE_* variables) or managed_identity',
      parse(value: string) {
        const v = value.trim().toLowerCase()
        if (v === 'default' || v === 'managed_identity') return v
        throw new PfError('invalid_value', `Invalid value "${value}" for azureml.credential; accepted: default, managed_identity.`)
      },
    },
  ],

  /** `pf config set`: the workspace must exist, not be a hub, and have a usable trace store (set up if needed). */
  async validate(value: string, ctx: DestinationContext) {
    if (isBare(value)) return // resolved per flow, from config.json, when a flow runs
    const workspace = parseWorkspaceId(value)
    const {controlPlane, TransientAzureError} = await azure(ctx)
    try {
      const info = await controlPlane.workspace(workspace)
      await controlPlane.ensureTraceStore(workspace, info, {timeoutMs: ctx.timeoutMs ?? 600_000, progress: ctx.progress})
    } catch (error) {
      if (error instanceof TransientAzureError)
        throw new PfError('azure_unreachable', `${error.message}; nothing was saved, try again.`, ExitCode.failure)
      throw error
    }
  },

  async resolve(value: string, ctx: DestinationContext): Promise<AzureMlDestination> {
    const workspace = isBare(value) ? findWorkspaceConfig(ctx.flowDir ?? ctx.cwd).workspace : parseWorkspaceId(value)
    const {signIn, controlPlane, TransientAzureError} = await azure(ctx)
    // Not signed in (or the sign-in service is unreachable) is a delivery problem, not a reason to drop the flow: it
    // runs and is recorded locally, and its spans wait in the outbox with the sign-in error as their reason.
    let createdBy: {object_id: string} | undefined
    try {
      createdBy = await signIn.createdBy()
    } catch (error) {
      if (!(error instanceof PfError && error.code === 'azure_login_required')) throw error
    }
    let info: WorkspaceInfo | undefined
    if (createdBy)
      try {
        info = await controlPlane.workspace(workspace)
      } catch (error) {
        // Azure unreachable: spans still queue locally and go out on a later `pf trace sync`.
        if (!(error instanceof TransientAzureError)) throw error
      }
    return {
      scheme: 'azureml',
      value,
      key: 'azureml:' + workspaceArmPath(workspace).toLowerCase(),
      workspace,
      info,
      objectId: createdBy?.object_id,
      resource: {
        [Resource.subscriptionId]: workspace.subscriptionId,
        [Resource.resourceGroup]: workspace.resourceGroup,
        [Resource.workspaceName]: workspace.workspaceName,
      },
    }
  },

  exporter(dest: AzureMlDestination, ctx: DestinationContext) {
    let exporter = exporters.get(dest.key)
    if (!exporter) {
      exporter = (async () => {
        const {workspace, info} = dest
        const [{signIn, controlPlane}, {CosmosSpanExporter}, {datastoreBlobs}, {SpanBlobWriter}] = await Promise.all([
          azure(ctx),
          import('./cosmos-writer.js'),
          import('./datastore.js'),
          import('./span-blobs.js'),
        ])
        let known = info
        const blobs = new SpanBlobWriter(datastoreBlobs(controlPlane, signIn, workspace, ctx.env))
        return new CosmosSpanExporter(workspace, async () => (known ??= await controlPlane.workspace(workspace)), signIn, ctx.env, blobs)
      })()
      exporters.set(dest.key, exporter)
      exporter.catch(() => exporters.delete(dest.key))
    }
    return exporter
  },

  links(dest: AzureMlDestination, ref: LinkRef): string[] {
    const {workspace, info, objectId} = dest
    if (!info || info.kind === 'hub') return []
    // The collection id the items were written under (batch runs link to the run instead).
    const collectionId = objectId ? `${ref.collection}_${objectId}` : undefined
    return portalLinks(workspace, info.kind, collectionId, ref)
  },
}
