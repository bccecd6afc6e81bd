import {PfError} from '../errors.js'
import {locateFlow} from './definition.js'
import type {LoadedFlow} from './types.js'

export interface LoadFlowOptions {
  /** Values for a class entry's `init` (flex flows). */
  init?: Record<string, unknown>
  /** DAG flows: `${node.variant_id}` to run that node's variant. */
  variant?: string
}

/** Loads a flex or DAG flow from a folder (or its definition file); every problem is a PfError naming the file. */
export const loadFlow = async (flowPath: string, options: LoadFlowOptions = {}): Promise<LoadedFlow> => {
  const {dir, file, kind} = locateFlow(flowPath)
  if (options.variant && kind !== 'dag') throw new PfError('invalid_arguments', `--variant selects a node variant of a DAG flow; ${file} is a flex flow.`)
  const flow =
    kind === 'flex'
      ? await (await import('./flex.js')).loadFlexFlow(dir, file, options.init)
      : kind === 'prompty'
        ? await (await import('./prompty.js')).loadPromptyFlow(file)
        : await (await import('./dag.js')).loadDagFlow(dir, file, {variant: options.variant})
  for (const warning of flow.warnings ?? []) process.stderr.write(`Warning: ${warning}\n`)
  // LLM calls the flow makes through the openai package become LLM spans (patched after the flow's modules
  // loaded, so a flow that already imported openai costs no extra import).
  const {instrumentFlowModules} = await import('../llm/instrument.js')
  await instrumentFlowModules(dir, flow.modules ?? [])
  return flow
}
