import {closest} from 'fastest-levenshtein'

import {PfError} from '../../errors.js'
import type {InputSpec} from '../types.js'
import type {DagNode} from './nodes.js'
import type {Ref} from './refs.js'

/**
 * Checks of the node graph before anything runs: every reference names an existing input or node, line nodes do
 * not read aggregation nodes, and there is no cycle. Also the topological order the runners use.
 */
export const checkGraph = (
  nodes: Map<string, DagNode>,
  inputSpecs: Record<string, InputSpec>,
  outputs: Record<string, Ref>,
  file: string,
): void => {
  const nodeNames = [...nodes.keys()]
  const checkRef = (ref: Ref, where: string, fromAggregation: boolean): void => {
    if (ref.kind === 'input' && !(ref.name in inputSpecs)) {
      const near = Object.keys(inputSpecs).length > 0 ? closest(ref.name, Object.keys(inputSpecs)) : undefined
      throw new PfError(
        'flow_invalid',
        `${file}: ${where} references unknown flow input "${ref.name}"` +
          (near ? `; did you mean "${near}"?` : '; declare it under "inputs".'),
      )
    }
    if (ref.kind === 'node') {
      const target = nodes.get(ref.node)
      if (!target)
        throw new PfError('flow_invalid', `${file}: ${where} references unknown node "${ref.node}"; nodes are: ${nodeNames.join(', ')}.`)
      if (target.aggregation && !fromAggregation)
        throw new PfError(
          'flow_invalid',
          `${file}: ${where} references aggregation node "${ref.node}", which runs once after all lines; only aggregation nodes can use it.`,
        )
    }
  }
  for (const node of nodes.values()) {
    for (const [key, ref] of Object.entries(node.inputs)) checkRef(ref, `node "${node.name}" input "${key}"`, node.aggregation)
    if (node.activate) checkRef(node.activate.when, `node "${node.name}" activate.when`, node.aggregation)
    if (node.deps.includes(node.name))
      throw new PfError('flow_invalid', `${file}: node "${node.name}" is in a cycle: it references its own output.`)
  }
  for (const [key, ref] of Object.entries(outputs)) checkRef(ref, `output "${key}"`, false)
  checkCycles(nodes, file)
}

/** Throws a PfError naming the nodes of a cycle, if any. */
const checkCycles = (nodes: Map<string, DagNode>, file: string): void => {
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name]
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name}" is in a cycle: ${cycle.join(' -> ')}; a node cannot depend on its own output.`,
      )
    }
    state.set(name, 'visiting')
    for (const dep of nodes.get(name)!.deps) visit(dep, [...trail, name])
    state.set(name, 'done')
  }
  for (const name of nodes.keys()) visit(name, [])
}

/** Topological order (dependencies first) of the given nodes and what they depend on. */
export const topologicalOrder = (start: DagNode[], all: Map<string, DagNode>): DagNode[] => {
  const out: DagNode[] = []
  const seen = new Set<string>()
  const visit = (n: DagNode) => {
    if (seen.has(n.name)) return
    seen.add(n.name)
    for (const d of n.deps) visit(all.get(d)!)
    out.push(n)
  }
  start.forEach(visit)
  return out
}
