import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../../errors.js'

export interface WorkspaceTriad {
  subscriptionId: string
  resourceGroup: string
  workspaceName: string
}

const armIdPattern =
  /^azureml:\/\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.machinelearningservices\/workspaces\/([^/]+)\/?$/i

/** Parses `azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>`. */
export const parseWorkspaceId = (value: string): WorkspaceTriad => {
  const match = armIdPattern.exec(value.trim())
  if (!match)
    throw new PfError(
      'invalid_value',
      'Malformed trace provider string, expected azureml://subscriptions/<subscription_id>/resourceGroups/<resource_group>/providers/Microsoft.MachineLearningServices/workspaces/<workspace_name>, ' +
        `got ${value}`,
    )
  const [, subscriptionId, resourceGroup, workspaceName] = match
  return {subscriptionId, resourceGroup, workspaceName}
}

export const workspaceArmPath = (ws: WorkspaceTriad): string =>
  `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.workspaceName}`

/** How far up `azureml` resolution walks from the flow folder (the reference's limit). */
const maxLevels = 20

const walkUp = (start: string, relative: string): {found?: string; searched: string[]} => {
  const searched: string[] = []
  let dir = start
  for (let level = 0; level <= maxLevels; level++) {
    const candidate = path.join(dir, relative)
    searched.push(candidate)
    if (existsSync(candidate)) return {found: candidate, searched}
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return {searched}
}

/**
 * Resolves bare `azureml` for a flow: `.azureml/config.json` walking up from the flow folder, then a plain
 * `config.json` the same way (the reference's order).
 */
export const findWorkspaceConfig = (from: string): {file: string; workspace: WorkspaceTriad} => {
  let start = path.resolve(from)
  if (existsSync(start) && statSync(start).isFile()) start = path.dirname(start)
  const first = walkUp(start, path.join('.azureml', 'config.json'))
  const second = first.found ? first : walkUp(start, 'config.json')
  if (!second.found)
    throw new PfError(
      'workspace_config_not_found',
      `trace.destination is "azureml" but no .azureml/config.json or config.json was found in ${start} or its parents ` +
        `(searched up to ${maxLevels} levels); create one with subscription_id, resource_group and workspace_name.`,
    )
  return {file: second.found, workspace: readWorkspaceConfig(second.found)}
}

export const readWorkspaceConfig = (file: string): WorkspaceTriad => {
  let data: any
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new PfError('workspace_config_invalid', `${file} is not valid JSON (${(error as Error).message}); fix or replace it.`)
  }
  const fields = ['subscription_id', 'resource_group', 'workspace_name'] as const
  const missing = fields.filter(f => typeof data?.[f] !== 'string' || data[f].trim() === '')
  if (missing.length > 0)
    throw new PfError('workspace_config_invalid', `${file} is missing ${missing.join(', ')}; a workspace config.json needs subscription_id, resource_group and workspace_name.`)
  return {subscriptionId: data.subscription_id.trim(), resourceGroup: data.resource_group.trim(), workspaceName: data.workspace_name.trim()}
}
