import {cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {PfError} from '../errors.js'
import {applyVariants, parseVariant, unknownTopLevelKeys} from './dag/definition.js'
import {checkGraph} from './dag/graph.js'
import {type DagNode, loadNode} from './dag/nodes.js'
import {type Ref, parseRef} from './dag/refs.js'
import {createDagRunner} from './dag/runner.js'
import {resolveModuleFile} from './modules.js'
import {type YamlMap, readChatSpec, readFlowYaml, readInputSpecs, readSample} from './definition.js'
import type {LoadedFlow} from './types.js'

/**
 * DAG flows (prompt flow's flow.dag.yaml): read the definition (dag/definition.ts: variants, known keys), load the
 * nodes (dag/nodes.ts: code, prompt and llm nodes), check the graph (dag/graph.ts) and build the runner
 * (dag/runner.ts: activate/bypass, concurrency, aggregation). A flow with `additional_includes` runs from a
 * snapshot of its folder with the included files and folders copied in, as the reference does.
 */

export interface DagLoadOptions {
  /** `${node.variant_id}`: the variant to use for that node (others use their default variant). */
  variant?: string
  /** Per llm node: `connection` and input overrides (`--connections node.connection=… node.deployment_name=…`). */
  connections?: Record<string, Record<string, unknown>>
}

export const loadDagFlow = async (
  dir: string,
  file: string,
  options: DagLoadOptions = {},
): Promise<LoadedFlow & {nodes: string[]; modules: string[]}> => {
  const def = await readFlowYaml(file)
  const warnings: string[] = []
  const unknown = unknownTopLevelKeys(def)
  if (unknown.length > 0)
    warnings.push(
      `${file}: unknown top-level key${unknown.length > 1 ? 's' : ''} ${unknown.map(k => JSON.stringify(k)).join(', ')} ignored.`,
    )
  const inputSpecs = readInputSpecs(def.inputs, file)
  if (!Array.isArray(def.nodes) || def.nodes.length === 0)
    throw new PfError('flow_invalid', `${file}: "nodes" must be a non-empty list of nodes.`)
  if (def.environment !== undefined && def.environment !== null && (typeof def.environment !== 'object' || Array.isArray(def.environment)))
    throw new PfError('flow_invalid', `${file}: "environment" must be a mapping (e.g. python_requirements_txt: requirements.txt).`)
  applyEnvironmentVariables(def.environment_variables, file)
  const selection = options.variant ? parseVariant(options.variant) : undefined
  const nodeDefs = overrideConnections(applyVariants(def, file, selection), options.connections ?? {}, file)
  const workDir =
    def.additional_includes === undefined || def.additional_includes === null
      ? dir
      : snapshotWithIncludes(dir, def.additional_includes, file)

  const nodes = new Map<string, DagNode>()
  const loaded = await Promise.all(nodeDefs.map((raw, index) => loadNode(workDir, file, raw, index)))
  for (const node of loaded) {
    if (nodes.has(node.name)) throw new PfError('flow_invalid', `${file}: two nodes are named "${node.name}"; node names must be unique.`)
    nodes.set(node.name, node)
  }

  if (def.outputs !== undefined && def.outputs !== null && (typeof def.outputs !== 'object' || Array.isArray(def.outputs)))
    throw new PfError('flow_invalid', `${file}: "outputs" must be a mapping of names to {reference: \${node.output}}.`)
  const outputs: Record<string, Ref> = {}
  for (const [key, spec] of Object.entries((def.outputs ?? {}) as YamlMap)) {
    const reference = spec && typeof spec === 'object' ? spec.reference : spec
    outputs[key] = parseRef(reference, `output "${key}"`, file)
  }
  checkGraph(nodes, inputSpecs, outputs, file)
  const runner = createDagRunner({nodes, inputSpecs, outputs, file})

  return {
    kind: 'dag',
    dir,
    file,
    name: path.basename(dir),
    inputs: inputSpecs,
    sample: readSample(def.sample, dir, file),
    invoke: runner.invoke,
    aggregate: runner.aggregate,
    nodes: [...nodes.keys()],
    modules: loaded.flatMap(n => (n.moduleFile ? [n.moduleFile] : [])),
    variant: selection ? options.variant!.trim() : undefined,
    chat: readChatSpec(inputSpecs, def.outputs),
    warnings,
  }
}

/** prompt flow's overwrite_connections: `connection` replaces the node's, other keys its inputs (deployment_name, model…). */
const overrideConnections = (nodes: Array<YamlMap>, overrides: Record<string, Record<string, unknown>>, file: string): Array<YamlMap> => {
  for (const name of Object.keys(overrides)) {
    const node = nodes.find(n => n?.name === name)
    if (!node)
      throw new PfError(
        'invalid_arguments',
        `--connections names node "${name}", which is not in ${file}; nodes are: ${nodes.map(n => n?.name).join(', ')}.`,
      )
    if (node.type !== 'llm')
      throw new PfError('invalid_arguments', `--connections: node "${name}" is a ${node.type} node; connections are set on llm nodes.`)
  }
  return nodes.map(node => {
    const values = overrides[node?.name]
    if (!values) return node
    const {connection, ...inputs} = values
    return {...node, ...(connection === undefined ? {} : {connection}), inputs: {...node.inputs, ...inputs}}
  })
}

/** `environment_variables:` of the flow are set for its nodes (`${env:NAME}` reads the current environment). */
const applyEnvironmentVariables = (section: unknown, file: string): void => {
  if (section === undefined || section === null) return
  if (typeof section !== 'object' || Array.isArray(section))
    throw new PfError('flow_invalid', `${file}: "environment_variables" must be a mapping of names to values.`)
  for (const [name, raw] of Object.entries(section as Record<string, unknown>)) {
    const ref = typeof raw === 'string' ? /^\$\{env:(\w+)\}$/.exec(raw.trim()) : null
    process.env[name] = ref ? (process.env[ref[1]] ?? '') : typeof raw === 'string' ? raw : JSON.stringify(raw)
  }
}

/**
 * Copies the flow folder and its `additional_includes` (files or folders, relative to the flow folder) into a
 * temporary folder: an included entry lands at the snapshot's top level under its own name. node_modules is linked,
 * not copied. The snapshot is removed when the process exits.
 */
const snapshotWithIncludes = (dir: string, includes: unknown, file: string): string => {
  if (!Array.isArray(includes) || includes.some(i => typeof i !== 'string' || i.trim() === ''))
    throw new PfError('flow_invalid', `${file}: "additional_includes" must be a list of file or folder paths relative to the flow folder.`)
  const sources = (includes as string[]).map(rel => {
    let source = path.resolve(dir, rel.trim())
    // A Python tool listed as x.py is included as its TypeScript port next to it (x.ts, x.js…).
    if (!existsSync(source) && source.endsWith('.py'))
      source = resolveModuleFile(path.dirname(source), path.basename(source, '.py')) ?? source
    if (!existsSync(source)) throw new PfError('flow_invalid', `${file}: additional_includes entry ${rel} not found (${source}).`)
    return source
  })
  const root = mkdtempSync(path.join(os.tmpdir(), 'pf-flow-'))
  process.once('exit', () => rmSync(root, {recursive: true, force: true}))
  const snapshot = path.join(root, path.basename(dir))
  cpSync(dir, snapshot, {recursive: true, filter: source => path.basename(source) !== 'node_modules' && path.basename(source) !== '.git'})
  if (existsSync(path.join(dir, 'node_modules')) && readdirSync(dir).includes('node_modules'))
    symlinkSync(path.join(dir, 'node_modules'), path.join(snapshot, 'node_modules'), 'dir')
  for (const source of sources) {
    const target = path.join(snapshot, path.basename(source))
    cpSync(source, target, {recursive: statSync(source).isDirectory()})
  }
  return snapshot
}
