import {PfError} from '../errors.js'
import {readFlowYaml} from './definition.js'
import {loadFlow} from './load.js'
import type {LoadedFlow} from './types.js'

export interface ValidateResult {
  flow: string
  kind: LoadedFlow['kind']
  inputs: string[]
  nodes?: string[]
  valid: true
}

/**
 * `pf flow validate`: loads the flow as `pf flow test` would (definition, entry or node code, references, cycles)
 * without running it, and checks that the connections its llm nodes name exist. A problem is a PfError (exit 2).
 */
export const validateFlow = async (flowPath: string): Promise<ValidateResult> => {
  const flow = await loadFlow(flowPath)
  if (flow.kind === 'dag') {
    const {showConnection} = await import('../connections/service.js')
    const nodes = ((await readFlowYaml(flow.file)).nodes ?? []) as Array<{name?: string; connection?: unknown}>
    for (const node of nodes) {
      if (typeof node.connection !== 'string') continue
      try {
        showConnection(node.connection)
      } catch (error) {
        throw new PfError('connection_not_found', `${flow.file}: node "${node.name}": ${(error as Error).message}`)
      }
    }
  }
  return {flow: flow.dir, kind: flow.kind, inputs: Object.keys(flow.inputs), ...(flow.nodes ? {nodes: flow.nodes} : {}), valid: true}
}
