import {readFileSync} from 'node:fs'
import path from 'node:path'

import {trace as otelTrace} from '@opentelemetry/api'
import {closest} from 'fastest-levenshtein'

import {PfError} from '../errors.js'
import {recordError, recordInputs, recordOutput} from '../sdk/trace.js'
import {parseJsonOrText} from '../util/json.js'
import {readFlowYaml, readInputSpecs, readSample} from './definition.js'
import {coerceInput} from './inputs.js'
import {importUserModule, resolveModuleFile} from './modules.js'
import type {LoadedFlow} from './types.js'

/**
 * DAG flows (flow.dag.yaml): nodes of type typescript/javascript (a function from a code file), prompt (a
 * Jinja2 template rendered with nunjucks) and llm (a rendered template sent to the OpenAI API through a
 * connection). Node inputs are literals or references (`${inputs.x}`, `${node.output}`, `${node.output.a.b}`);
 * each node starts as soon as the nodes it references are done, so independent nodes run concurrently.
 * Every node is a child span of the line's root span (span_type Function); an llm node's API call is an LLM span
 * under it. Aggregation nodes (`aggregation: true`) run once over all lines, through `aggregate()`.
 *
 * A code node calls `function:` (an export name) or, without it, the module's default export, else its only
 * exported function. It is called with ONE object holding the node's inputs by name (like a flex entry).
 */

type Ref = {kind: 'input'; name: string} | {kind: 'node'; node: string; path: string[]} | {kind: 'literal'; value: unknown}

interface DagNode {
  name: string
  type: 'code' | 'prompt' | 'llm'
  /** The `function` attribute of the node's span. */
  functionName: string
  inputs: Record<string, Ref>
  aggregation: boolean
  activate?: {when: Ref; is: unknown}
  /** Names of the nodes this node references. */
  deps: string[]
  run(values: Record<string, unknown>): Promise<unknown>
}

const refPattern = /^\$\{([^}]*)\}$/
const codeTypes = new Set(['typescript', 'javascript', 'code'])

const parseRef = (value: unknown, where: string, file: string): Ref => {
  if (typeof value !== 'string') return {kind: 'literal', value}
  const m = refPattern.exec(value.trim())
  if (!m) return {kind: 'literal', value}
  const parts = m[1].trim().split('.')
  if (parts[0] === 'inputs' && parts.length === 2 && parts[1]) return {kind: 'input', name: parts[1]}
  if (parts.length >= 2 && parts[1] === 'output' && parts[0] && parts[0] !== 'inputs') return {kind: 'node', node: parts[0], path: parts.slice(2)}
  throw new PfError('flow_invalid', `${file}: ${where} has reference ${value}; use \${inputs.NAME}, \${NODE.output} or \${NODE.output.FIELD}.`)
}

const refDeps = (refs: Ref[]): string[] => [...new Set(refs.flatMap(r => (r.kind === 'node' ? [r.node] : [])))]

const pick = (value: unknown, fieldPath: string[]): unknown => {
  let v = value
  for (const key of fieldPath) v = v === null || v === undefined ? undefined : (v as Record<string, unknown>)[key]
  return v
}

const sourcePath = (raw: Record<string, any>, name: string, file: string): string => {
  const p = raw.source?.path ?? (typeof raw.source === 'string' ? raw.source : undefined)
  if (typeof p !== 'string' || p.trim() === '') throw new PfError('flow_invalid', `${file}: node "${name}" has no source; add "source: {type: code, path: <file>}".`)
  return p.trim()
}

const readTemplateFile = (dir: string, rel: string, name: string, file: string): {text: string; templateFile: string} => {
  const templateFile = path.resolve(dir, rel)
  try {
    return {text: readFileSync(templateFile, 'utf8'), templateFile}
  } catch {
    throw new PfError('flow_invalid', `${file}: node "${name}" source ${rel} not found in ${dir}.`)
  }
}

const loadCodeNode = async (dir: string, file: string, name: string, raw: Record<string, any>): Promise<{fn: (inputs: Record<string, unknown>) => unknown; functionName: string; moduleFile: string}> => {
  const rel = sourcePath(raw, name, file)
  const moduleFile = resolveModuleFile(dir, rel)
  if (!moduleFile) throw new PfError('flow_invalid', `${file}: node "${name}" source ${rel} not found in ${dir} (tried .ts, .mts, .js, .mjs, .cjs).`)
  const mod = await importUserModule(moduleFile)
  const functions = Object.keys(mod).filter(k => k !== 'default' && typeof mod[k] === 'function')
  let exportName: string | undefined = typeof raw.function === 'string' ? raw.function : undefined
  if (exportName === undefined) {
    if (typeof mod.default === 'function') exportName = 'default'
    else if (functions.length === 1) exportName = functions[0]
    else
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name}": ${rel} has ${functions.length === 0 ? 'no exported function' : `several exported functions (${functions.join(', ')})`}; name one with "function:".`,
      )
  }
  const fn = mod[exportName]
  if (typeof fn !== 'function')
    throw new PfError('flow_invalid', `${file}: node "${name}": ${rel} does not export a function "${exportName}"` + (functions.length > 0 ? `; it exports: ${functions.join(', ')}.` : '.'))
  const functionName = exportName === 'default' ? (fn.name || 'default') : exportName
  return {fn: fn as (inputs: Record<string, unknown>) => unknown, functionName, moduleFile}
}

/** Throws a PfError naming the nodes of a cycle, if any. */
const checkCycles = (nodes: Map<string, DagNode>, file: string): void => {
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name]
      throw new PfError('flow_invalid', `${file}: node "${name}" is in a cycle: ${cycle.join(' -> ')}; a node cannot depend on its own output.`)
    }
    state.set(name, 'visiting')
    for (const dep of nodes.get(name)!.deps) visit(dep, [...trail, name])
    state.set(name, 'done')
  }
  for (const name of nodes.keys()) visit(name, [])
}

/** Topological order (dependencies first). */
const order = (nodes: DagNode[], all: Map<string, DagNode>): DagNode[] => {
  const out: DagNode[] = []
  const seen = new Set<string>()
  const visit = (n: DagNode) => {
    if (seen.has(n.name)) return
    seen.add(n.name)
    for (const d of n.deps) visit(all.get(d)!)
    out.push(n)
  }
  nodes.forEach(visit)
  return out
}

export const loadDagFlow = async (dir: string, file: string): Promise<LoadedFlow & {nodes: string[]; modules: string[]}> => {
  const def = await readFlowYaml(file)
  const inputSpecs = readInputSpecs(def.inputs, file)
  if (!Array.isArray(def.nodes) || def.nodes.length === 0) throw new PfError('flow_invalid', `${file}: "nodes" must be a non-empty list of nodes.`)

  const nodes = new Map<string, DagNode>()
  const modules: string[] = []
  const pending: Array<Promise<void>> = []
  for (const [index, raw] of (def.nodes as Array<Record<string, any>>).entries()) {
    if (!raw || typeof raw !== 'object' || typeof raw.name !== 'string' || raw.name.trim() === '')
      throw new PfError('flow_invalid', `${file}: nodes[${index}] needs a "name".`)
    const name = raw.name.trim()
    if (nodes.has(name)) throw new PfError('flow_invalid', `${file}: two nodes are named "${name}"; node names must be unique.`)
    const type = String(raw.type ?? '')
    if (!codeTypes.has(type) && type !== 'llm' && type !== 'prompt')
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name}" has type ${JSON.stringify(raw.type ?? null)}; use typescript, javascript, llm or prompt` + (type === 'python' ? ' (pf runs TypeScript/JavaScript code nodes).' : '.'),
      )
    if (raw.inputs !== undefined && raw.inputs !== null && (typeof raw.inputs !== 'object' || Array.isArray(raw.inputs)))
      throw new PfError('flow_invalid', `${file}: node "${name}": "inputs" must be a mapping.`)
    const inputs: Record<string, Ref> = {}
    for (const [key, value] of Object.entries((raw.inputs ?? {}) as Record<string, unknown>)) inputs[key] = parseRef(value, `node "${name}" input "${key}"`, file)
    let activate: DagNode['activate']
    if (raw.activate) {
      if (typeof raw.activate !== 'object' || !('when' in raw.activate)) throw new PfError('flow_invalid', `${file}: node "${name}": "activate" needs "when" and "is".`)
      activate = {when: parseRef(raw.activate.when, `node "${name}" activate.when`, file), is: raw.activate.is}
    }
    const node: DagNode = {
      name,
      type: codeTypes.has(type) ? 'code' : (type as 'llm' | 'prompt'),
      functionName: name,
      inputs,
      aggregation: raw.aggregation === true,
      activate,
      deps: refDeps([...Object.values(inputs), ...(activate ? [activate.when] : [])]),
      run: async () => undefined,
    }
    nodes.set(name, node)

    if (node.type === 'code') {
      pending.push(
        loadCodeNode(dir, file, name, raw).then(({fn, functionName, moduleFile}) => {
          node.functionName = functionName
          modules.push(moduleFile)
          node.run = async values => fn(values)
        }),
      )
      continue
    }
    const {text, templateFile} = readTemplateFile(dir, sourcePath(raw, name, file), name, file)
    const templates = await import('../llm/templates.js')
    const template = await templates.compileTemplate(text, templateFile, name)
    if (node.type === 'prompt') {
      node.functionName = 'render_template_jinja2'
      node.run = async values => template.render(values)
      continue
    }
    const api = raw.api ?? 'chat'
    if (api !== 'chat' && api !== 'completion') throw new PfError('flow_invalid', `${file}: node "${name}" has api ${JSON.stringify(api)}; use chat or completion.`)
    const modelRef = raw.deployment_name ?? raw.model
    const modelInput = raw.inputs?.deployment_name !== undefined ? 'deployment_name' : raw.inputs?.model !== undefined ? 'model' : undefined
    if (modelRef === undefined && modelInput === undefined)
      throw new PfError('flow_invalid', `${file}: node "${name}" needs a model: add "deployment_name" (Azure OpenAI) or "model" (OpenAI) to the node or its inputs.`)
    const connection = raw.connection === undefined || raw.connection === null ? undefined : String(raw.connection)
    node.functionName = api === 'chat' ? 'chat' : 'completion'
    node.run = async values => {
      const {callLlm, requestParameters} = await import('../llm/llm-call.js')
      const model = String(modelInput ? values[modelInput] : modelRef)
      return callLlm({node: name, api, connection, model, prompt: template.render(values), parameters: requestParameters(name, values)})
    }
  }
  await Promise.all(pending)

  // References: every node and input a node or output names must exist; line nodes cannot read aggregation nodes.
  const nodeNames = [...nodes.keys()]
  const checkRef = (ref: Ref, where: string, fromAggregation: boolean): void => {
    if (ref.kind === 'input' && !(ref.name in inputSpecs)) {
      const near = Object.keys(inputSpecs).length > 0 ? closest(ref.name, Object.keys(inputSpecs)) : undefined
      throw new PfError('flow_invalid', `${file}: ${where} references unknown flow input "${ref.name}"` + (near ? `; did you mean "${near}"?` : '; declare it under "inputs".'))
    }
    if (ref.kind === 'node') {
      const target = nodes.get(ref.node)
      if (!target) throw new PfError('flow_invalid', `${file}: ${where} references unknown node "${ref.node}"; nodes are: ${nodeNames.join(', ')}.`)
      if (target.aggregation && !fromAggregation)
        throw new PfError('flow_invalid', `${file}: ${where} references aggregation node "${ref.node}", which runs once after all lines; only aggregation nodes can use it.`)
    }
  }
  for (const node of nodes.values()) {
    for (const [key, ref] of Object.entries(node.inputs)) checkRef(ref, `node "${node.name}" input "${key}"`, node.aggregation)
    if (node.activate) checkRef(node.activate.when, `node "${node.name}" activate.when`, node.aggregation)
    if (node.deps.includes(node.name)) throw new PfError('flow_invalid', `${file}: node "${node.name}" is in a cycle: it references its own output.`)
  }
  checkCycles(nodes, file)

  if (def.outputs !== undefined && def.outputs !== null && (typeof def.outputs !== 'object' || Array.isArray(def.outputs)))
    throw new PfError('flow_invalid', `${file}: "outputs" must be a mapping of names to {reference: \${node.output}}.`)
  const outputs: Record<string, Ref> = {}
  for (const [key, spec] of Object.entries((def.outputs ?? {}) as Record<string, any>)) {
    const reference = spec && typeof spec === 'object' ? spec.reference : spec
    outputs[key] = parseRef(reference, `output "${key}"`, file)
    checkRef(outputs[key], `output "${key}"`, false)
  }

  const lineNodes = order(
    [...nodes.values()].filter(n => !n.aggregation),
    nodes,
  )
  const aggregationNodes = order(
    [...nodes.values()].filter(n => n.aggregation),
    nodes,
  ).filter(n => n.aggregation)
  const flowName = path.basename(dir)
  /** Node outputs of each line, keyed by the outputs object the line returned (for aggregation). */
  const lineNodeOutputs = new WeakMap<object, Map<string, unknown>>()

  const runTraced = (node: DagNode, values: Record<string, unknown>): Promise<unknown> =>
    otelTrace.getTracer('promptflow').startActiveSpan(node.name, async span => {
      const recording = span.isRecording()
      if (recording) recordInputs(span, node.functionName, 'Function', values)
      try {
        const output = await node.run(values)
        if (recording) recordOutput(span, output)
        return output
      } catch (error) {
        if (recording) recordError(span, error)
        throw error
      } finally {
        span.end()
      }
    })

  const isActive = (node: DagNode, resolve: (ref: Ref) => unknown): boolean => !node.activate || resolve(node.activate.when) === node.activate.is

  const runSingleNode = async (name: string, given: Record<string, unknown>): Promise<unknown> => {
    const node = nodes.get(name)
    if (!node) throw new PfError('invalid_arguments', `No node "${name}" in ${file}; nodes are: ${nodeNames.join(', ')}.`)
    const values: Record<string, unknown> = {}
    for (const [key, ref] of Object.entries(node.inputs)) {
      if (key in given) values[key] = given[key]
      else if (ref.kind === 'literal') values[key] = ref.value
      else if (ref.kind === 'input') {
        const value = ref.name in given ? given[ref.name] : inputSpecs[ref.name]?.default
        if (value === undefined) throw new PfError('missing_input', `Node "${name}" input "${key}" needs flow input "${ref.name}"; pass --inputs ${ref.name}=… (or ${key}=…).`)
        values[key] = coerceInput(ref.name, value, inputSpecs[ref.name])
      } else {
        const raw = given[`${ref.node}.output`] ?? given[ref.node]
        if (raw === undefined) throw new PfError('missing_input', `Node "${name}" input "${key}" needs the output of node "${ref.node}"; pass --inputs ${ref.node}=… (or ${key}=…).`)
        values[key] = pick(typeof raw === 'string' && ref.path.length > 0 ? parseJsonOrText(raw) : raw, ref.path)
      }
    }
    return runTraced(node, values)
  }

  const invoke = async (inputs: Record<string, unknown>, options: {node?: string} = {}): Promise<unknown> => {
    if (options.node) return runSingleNode(options.node, inputs)
    const results = new Map<string, Promise<unknown>>()
    const resolved = new Map<string, unknown>()
    const resolveRef = (ref: Ref): unknown =>
      ref.kind === 'literal' ? ref.value : ref.kind === 'input' ? inputs[ref.name] : pick(resolved.get(ref.node), ref.path)
    const start = (node: DagNode): Promise<unknown> => {
      let promise = results.get(node.name)
      if (!promise) {
        promise = (async () => {
          await Promise.all(node.deps.map(d => start(nodes.get(d)!)))
          // A node that is not activated is bypassed: no span, output null.
          const output = isActive(node, resolveRef) ? await runTraced(node, Object.fromEntries(Object.entries(node.inputs).map(([k, r]) => [k, resolveRef(r)]))) : null
          resolved.set(node.name, output)
          return output
        })()
        results.set(node.name, promise)
      }
      return promise
    }
    const settled = await Promise.allSettled(lineNodes.map(start))
    const failed = settled.find(s => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    const out: Record<string, unknown> = {}
    for (const [key, ref] of Object.entries(outputs)) out[key] = resolveRef(ref)
    lineNodeOutputs.set(out, resolved)
    return out
  }

  /** Aggregation nodes: inputs become lists over the lines (`${inputs.x}`, `${line_node.output}`). */
  const aggregate =
    aggregationNodes.length === 0
      ? undefined
      : async (lines: Array<{inputs: Record<string, unknown>; output: unknown}>): Promise<unknown> => {
          const nodeOutputOfLine = (line: {output: unknown}, ref: Extract<Ref, {kind: 'node'}>): unknown => {
            const saved = line.output && typeof line.output === 'object' ? lineNodeOutputs.get(line.output) : undefined
            if (saved) return pick(saved.get(ref.node), ref.path)
            // A line whose node outputs are gone (e.g. read back from disk): use a flow output that exposes the node.
            const exposed = Object.entries(outputs).find(([, r]) => r.kind === 'node' && r.node === ref.node && r.path.length === 0)
            if (!exposed) throw new PfError('aggregation_failed', `Aggregation needs the output of node "${ref.node}" for every line; add a flow output "reference: \${${ref.node}.output}".`, 1)
            return pick((line.output as Record<string, unknown> | undefined)?.[exposed[0]], ref.path)
          }
          const done = new Map<string, unknown>()
          const resolveRef = (ref: Ref): unknown => {
            if (ref.kind === 'literal') return ref.value
            if (ref.kind === 'input') return lines.map(l => l.inputs[ref.name])
            if (nodes.get(ref.node)!.aggregation) return pick(done.get(ref.node), ref.path)
            return lines.map(l => nodeOutputOfLine(l, ref))
          }
          for (const node of aggregationNodes) {
            const output = isActive(node, resolveRef) ? await runTraced(node, Object.fromEntries(Object.entries(node.inputs).map(([k, r]) => [k, resolveRef(r)]))) : null
            done.set(node.name, output)
          }
          return Object.fromEntries(done)
        }

  return {
    kind: 'dag',
    dir,
    file,
    name: flowName,
    inputs: inputSpecs,
    sample: readSample(def.sample, dir, file),
    invoke,
    aggregate,
    nodes: nodeNames,
    modules,
  }
}


