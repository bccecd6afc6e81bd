import {locateFlow} from './definition.js'
import type {LoadedFlow} from './types.js'

export interface LoadFlowOptions {
  /** Values for a class entry's `init` (flex flows). */
  init?: Record<string, unknown>
}

/** Loads a flex or DAG flow from a folder (or its definition file); every problem is a PfError naming the file. */
export const loadFlow = async (flowPath: string, options: LoadFlowOptions = {}): Promise<LoadedFlow> => {
  const {dir, file, kind} = locateFlow(flowPath)
  if (kind === 'flex') {
    const {loadFlexFlow} = await import('./flex.js')
    return loadFlexFlow(dir, file, options.init)
  }
  const {loadDagFlow} = await import('./dag.js')
  return loadDagFlow(dir, file)
}
