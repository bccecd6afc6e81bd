import type {LinkRef} from '../../contract/destination.js'
import {type WorkspaceTriad, workspaceArmPath} from './workspace.js'

/**
 * Portal links (spec: "Links printed"): ml.azure.com for ML workspaces, ai.azure.com for AI projects. A run links
 * to its run page; a trace to its detail page, followed by its collection's list.
 */
export const portalLinks = (
  workspace: WorkspaceTriad,
  kind: 'workspace' | 'project',
  collectionId: string | undefined,
  ref: LinkRef,
): string[] => {
  const project = kind === 'project'
  const base = project ? 'https://ai.azure.com' : 'https://ml.azure.com'
  const url = (query: string) => `${base}/${query}?wsid=${workspaceArmPath(workspace)}`
  if (ref.run) return [url(`${project ? 'projectflows' : 'prompts'}/trace/run/${encodeURIComponent(ref.run)}/details`)]
  const links: string[] = []
  if (ref.traceId) links.push(url(`${project ? 'projecttrace' : 'trace'}/detail/${encodeURIComponent(ref.traceId)}`))
  if (collectionId) links.push(url(`${project ? 'projecttrace' : 'trace'}/collection/${encodeURIComponent(collectionId)}/list`))
  return links
}
