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
  return checkWorkspaceIds({subscriptionId, resourceGroup, workspaceName}, value)
}

/**
 * Azure's naming rules for the three ids (subscription: a GUID-like token; resource group: letters, digits, `_ ( ) - .`,
 * not ending in `.`; workspace: letters, digits, `_ -`). They go into authenticated ARM URLs, so a value such as
 * `ws1/../../x` must never reach one: refused here, and every id is URL-encoded when a URL is built anyway.
 */
const idRules: Array<[keyof WorkspaceTriad, string, RegExp, string]> = [
  ['subscriptionId', 'subscription_id', /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'letters, digits and "-" (a subscription GUID)'],
  [
    'resourceGroup',
    'resource_group',
    /^[\p{L}\p{N}_().-]{0,89}[\p{L}\p{N}_()-]$/u,
    'up to 90 letters, digits, "_", "(", ")", "-", "." (not ending in ".")',
  ],
  ['workspaceName', 'workspace_name', /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/, 'letters, digits, "_" and "-", starting with a letter or digit'],
]

export const checkWorkspaceIds = (ws: WorkspaceTriad, source: string): WorkspaceTriad => {
  for (const [field, name, pattern, accepted] of idRules)
    if (!pattern.test(ws[field]))
      throw new PfError(
        'invalid_value',
        `${source}: ${name} ${JSON.stringify(ws[field].slice(0, 100))} is not a valid Azure id; it may hold ${accepted}.`,
      )
  return ws
}

export const workspaceArmPath = (ws: WorkspaceTriad): string =>
  `/subscriptions/${encodeURIComponent(ws.subscriptionId)}/resourceGroups/${encodeURIComponent(ws.resourceGroup)}` +
  `/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(ws.workspaceName)}`

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
  let data: Record<string, unknown> | null
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new PfError('workspace_config_invalid', `${file} is not valid JSON (${(error as Error).message}); fix or replace it.`)
  }
  const fields = ['subscription_id', 'resource_group', 'workspace_name'] as const
  const text = (f: (typeof fields)[number]): string => {
    const value = data?.[f]
    return typeof value === 'string' ? value.trim() : ''
  }
  const missing = fields.filter(f => text(f) === '')
  if (missing.length > 0)
    throw new PfError(
      'workspace_config_invalid',
      `${file} is missing ${missing.join(', ')}; a workspace config.json needs subscription_id, resource_group and workspace_name.`,
    )
  return checkWorkspaceIds(
    {subscriptionId: text('subscription_id'), resourceGroup: text('resource_group'), workspaceName: text('workspace_name')},
    file,
  )
}
