import type {DestinationContext, ResolvedDestination, TraceDestinationProvider} from '../../tracing/destination.js'
import {PfError} from '../../errors.js'
import {findWorkspaceConfig, parseWorkspaceId, workspaceArmPath, type WorkspaceTriad} from './workspace.js'

export interface AzureMlDestination extends ResolvedDestination {
  workspace: WorkspaceTriad
}

const isBare = (value: string) => value.trim().toLowerCase() === 'azureml'

/** The built-in Azure ML / AI project destination. Heavy code (Azure, Cosmos) is imported only when exporting. */
export const azuremlProvider: TraceDestinationProvider = {
  scheme: 'azureml',
  description: 'An Azure ML workspace or Azure AI project (traces go to its Cosmos DB)',
  examples: [
    'azureml',
    'azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>',
  ],
  async validate(value: string) {
    if (isBare(value)) return
    parseWorkspaceId(value)
  },
  async resolve(value: string, ctx: DestinationContext): Promise<AzureMlDestination> {
    const workspace = isBare(value) ? findWorkspaceConfig(ctx.flowDir ?? ctx.cwd).workspace : parseWorkspaceId(value)
    return {scheme: 'azureml', value, key: 'azureml:' + workspaceArmPath(workspace).toLowerCase(), workspace}
  },
  exporter() {
    throw new PfError('not_available', 'Exporting to azureml is not available in this build yet.', 1)
  },
}
