import {isDeepStrictEqual} from 'node:util'

import {trace as otelTrace} from '@opentelemetry/api'

import {PfError} from '../../errors.js'
import type {PromptResult} from '../../llm/templates.js'
import {recordError, recordInputs, recordOutput} from '../../sdk/trace.js'
import {withLineAttributes} from '../../tracing/line-context.js'
import {parseJsonOrText} from '../../util/json.js'
import {coerceInput} from '../inputs.js'
import type {InputSpec} from '../types.js'
import {topologicalOrder} from './graph.js'
import type {DagNode} from './nodes.js'
import {type Ref, pick} from './refs.js'

/**
 * Runs a DAG's lines as prompt flow's executor does: each node starts when the nodes it references are done (so
 * independent nodes run concurrently); a node whose `activate.when` is not met, or whose activate condition or
 * every node input reads a bypassed node, is bypassed (no span, output null); an input that reads a bypassed node
 * is null for prompt and llm nodes and left out for code nodes (so a parameter default applies, as a Python default
 * does in the reference); a flow output that reads a bypassed node is null. Aggregation nodes run once over all
 * lines. Every node is a span (span_type Function, `node_name` on it and its children) under the line's root.
 */

export interface DagRunnerOptions {
  nodes: Map<string, DagNode>
  inputSpecs: Record<string, InputSpec>
  outputs: Record<string, Ref>
  file: string
}

export interface DagRunner {
  invoke(inputs: Record<string, unknown>, options?: {node?: string}): Promise<unknown>
  aggregate?(lines: Array<{inputs: Record<string, unknown>; output: unknown}>): Promise<unknown>
}

/** Python's `==` for the values an activate condition compares (1 == True, 1 == 1.0). */
const conditionMet = (value: unknown, expected: unknown): boolean => {
  const numeric = (v: unknown) => typeof v === 'number' || typeof v === 'boolean'
  if (numeric(value) && numeric(expected)) return Number(value) === Number(expected)
  return isDeepStrictEqual(value, expected)
}

/** A node output must be storable as JSON (outputs and traces are JSON): a BigInt or a cycle is the node's error. */
const checkRepresentable = (node: string, output: unknown): void => {
  try {
    JSON.stringify(output)
  } catch (error) {
    throw new PfError(
      'output_unrepresentable',
      `Node "${node}" returned a value that cannot be stored as JSON (${(error as Error).message}); return plain data (strings, numbers, lists, objects).`,
      1,
    )
  }
}

export const createDagRunner = ({nodes, inputSpecs, outputs, file}: DagRunnerOptions): DagRunner => {
  const nodeNames = [...nodes.keys()]
  const lineNodes = topologicalOrder(
    [...nodes.values()].filter(n => !n.aggregation),
    nodes,
  )
  const aggregationNodes = topologicalOrder(
    [...nodes.values()].filter(n => n.aggregation),
    nodes,
  ).filter(n => n.aggregation)
  /** Node outputs of each line, keyed by the outputs object the line returned (for aggregation). */
  const lineNodeOutputs = new WeakMap<object, Map<string, unknown>>()

  const runTraced = (
    node: DagNode,
    values: Record<string, unknown>,
    promptResults: Record<string, PromptResult>,
  ): Promise<{output: unknown; promptResult?: PromptResult}> =>
    withLineAttributes({node_name: node.name}, () =>
      otelTrace.getTracer('promptflow').startActiveSpan(node.name, async span => {
        const recording = span.isRecording()
        try {
          const call = await node.prepare(values, promptResults)
          if (recording) {
            recordInputs(span, call.functionName, 'Function', call.inputs)
            if (call.attributes) span.setAttributes(call.attributes)
            for (const event of call.events ?? []) span.addEvent(event.name, {payload: event.payload})
          }
          const result = await call.run()
          checkRepresentable(node.name, result.output)
          if (recording) recordOutput(span, result.output)
          return result
        } catch (error) {
          if (recording) recordError(span, error)
          throw error
        } finally {
          span.end()
        }
      }),
    )

  const runSingleNode = async (name: string, given: Record<string, unknown>): Promise<unknown> => {
    const node = nodes.get(name)
    if (!node) throw new PfError('invalid_arguments', `No node "${name}" in ${file}; nodes are: ${nodeNames.join(', ')}.`)
    const values: Record<string, unknown> = {}
    for (const [key, ref] of Object.entries(node.inputs)) {
      if (key in given) values[key] = given[key]
      else if (ref.kind === 'literal') values[key] = ref.value
      else if (ref.kind === 'input') {
        const value = ref.name in given ? given[ref.name] : inputSpecs[ref.name]?.default
        if (value === undefined)
          throw new PfError(
            'missing_input',
            `Node "${name}" input "${key}" needs flow input "${ref.name}"; pass --inputs ${ref.name}=… (or ${key}=…).`,
          )
        values[key] = coerceInput(ref.name, value, inputSpecs[ref.name])
      } else {
        const raw = given[`${ref.node}.output`] ?? given[ref.node]
        if (raw === undefined)
          throw new PfError(
            'missing_input',
            `Node "${name}" input "${key}" needs the output of node "${ref.node}"; pass --inputs ${ref.node}=… (or ${key}=…).`,
          )
        values[key] = pick(typeof raw === 'string' && ref.path.length > 0 ? parseJsonOrText(raw) : raw, ref.path, ref.node, ref.text)
      }
    }
    return (await runTraced(node, values, {})).output
  }

  const invoke = async (inputs: Record<string, unknown>, options: {node?: string} = {}): Promise<unknown> => {
    if (options.node) return runSingleNode(options.node, inputs)
    const started = new Map<string, Promise<void>>()
    const done = new Map<string, unknown>()
    const bypassed = new Set<string>()
    const promptResults = new Map<string, PromptResult>()
    const value = (ref: Ref): unknown =>
      ref.kind === 'literal'
        ? ref.value
        : ref.kind === 'input'
          ? inputs[ref.name]
          : bypassed.has(ref.node)
            ? null
            : pick(done.get(ref.node), ref.path, ref.node, ref.text)

    const isBypassed = (node: DagNode): boolean => {
      if (node.activate) {
        const when = node.activate.when
        if (when.kind === 'node' && bypassed.has(when.node)) return true
        return !conditionMet(value(when), node.activate.is)
      }
      const nodeRefs = Object.values(node.inputs).filter(r => r.kind === 'node')
      return nodeRefs.length > 0 && nodeRefs.every(r => bypassed.has(r.node))
    }

    const start = (node: DagNode): Promise<void> => {
      let promise = started.get(node.name)
      if (!promise) {
        promise = (async () => {
          await Promise.all(node.deps.map(d => start(nodes.get(d)!)))
          if (isBypassed(node)) {
            bypassed.add(node.name)
            done.set(node.name, null)
            return
          }
          const values: Record<string, unknown> = {}
          const fromPrompts: Record<string, PromptResult> = {}
          for (const [key, ref] of Object.entries(node.inputs)) {
            if (ref.kind === 'node' && bypassed.has(ref.node)) {
              if (node.type !== 'code') values[key] = null
              continue
            }
            values[key] = value(ref)
            const result = ref.kind === 'node' && ref.path.length === 0 ? promptResults.get(ref.node) : undefined
            if (result) fromPrompts[key] = result
          }
          const {output, promptResult} = await runTraced(node, values, fromPrompts)
          done.set(node.name, output)
          if (promptResult) promptResults.set(node.name, promptResult)
        })()
        started.set(node.name, promise)
      }
      return promise
    }
    const settled = await Promise.allSettled(lineNodes.map(start))
    const failed = settled.find(s => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    const out: Record<string, unknown> = {}
    for (const [key, ref] of Object.entries(outputs)) out[key] = value(ref)
    lineNodeOutputs.set(out, done)
    return out
  }

  /** Aggregation nodes: inputs become lists over the lines (`${inputs.x}`, `${line_node.output}`). */
  const aggregate =
    aggregationNodes.length === 0
      ? undefined
      : async (lines: Array<{inputs: Record<string, unknown>; output: unknown}>): Promise<unknown> => {
          const nodeOutputOfLine = (line: {output: unknown}, ref: Extract<Ref, {kind: 'node'}>): unknown => {
            const saved = line.output && typeof line.output === 'object' ? lineNodeOutputs.get(line.output) : undefined
            if (saved) return saved.get(ref.node) === null ? null : pick(saved.get(ref.node), ref.path, ref.node, ref.text)
            // A line whose node outputs are gone (e.g. read back from disk): use a flow output that exposes the node.
            const exposed = Object.entries(outputs).find(([, r]) => r.kind === 'node' && r.node === ref.node && r.path.length === 0)
            if (!exposed)
              throw new PfError(
                'aggregation_failed',
                `Aggregation needs the output of node "${ref.node}" for every line; add a flow output "reference: \${${ref.node}.output}".`,
                1,
              )
            return pick((line.output as Record<string, unknown> | undefined)?.[exposed[0]], ref.path, ref.node, ref.text)
          }
          const done = new Map<string, unknown>()
          const bypassed = new Set<string>()
          const resolve = (ref: Ref): unknown => {
            if (ref.kind === 'literal') return ref.value
            if (ref.kind === 'input') return lines.map(l => l.inputs[ref.name])
            if (nodes.get(ref.node)!.aggregation)
              return bypassed.has(ref.node) ? null : pick(done.get(ref.node), ref.path, ref.node, ref.text)
            return lines.map(l => nodeOutputOfLine(l, ref))
          }
          for (const node of aggregationNodes) {
            const when = node.activate?.when
            if (
              node.activate &&
              ((when?.kind === 'node' && bypassed.has(when.node)) || !conditionMet(resolve(node.activate.when), node.activate.is))
            ) {
              bypassed.add(node.name)
              done.set(node.name, null)
              continue
            }
            const values = Object.fromEntries(Object.entries(node.inputs).map(([k, r]) => [k, resolve(r)]))
            done.set(node.name, (await withLineAttributes({is_aggregation: true}, () => runTraced(node, values, {}))).output)
          }
          return Object.fromEntries(done)
        }

  return {invoke, aggregate}
}
