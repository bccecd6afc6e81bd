import {locateFlow} from './definition.js'
import type {LoadedFlow} from './types.js'

export interface LoadFlowOptions {
  /** Values for a class entry's `init` (flex flows). */
  init?: Record<string, unknown>
}

/** Loads a flex or DAG flow from a folder (or its definition file); every problem is a PfError naming the file. */
export const loadFlow = async (flowPath: string, options: LoadFlowOptions = {}): Promise<LoadedFlow> => {
  const {dir, file, kind} = locateFlow(flowPath)
  const flow =
    kind === 'flex' ? await (await import('./flex.js')).loadFlexFlow(dir, file, options.init) : await (await import('./dag.js')).loadDagFlow(dir, file)
  // LLM calls the flow makes through the openai package become LLM spans (patched after the flow's modules
  // loaded, so a flow that already imported openai costs no extra import).
  const {instrumentFlowModules} = await import('../llm/instrument.js')
  await instrumentFlowModules(dir, flow.modules ?? [])
  return flow
}
