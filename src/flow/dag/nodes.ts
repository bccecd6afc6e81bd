import {readFileSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../../errors.js'
import type {CompiledTemplate, PromptResult} from '../../llm/templates.js'
import type {YamlMap} from '../definition.js'
import {importUserModule, resolveModuleFile} from '../modules.js'
import {type Ref, parseRef, refDeps} from './refs.js'

/**
 * Node loading: a DAG node's definition becomes something the runner can call. Code nodes (typescript,
 * javascript, and `python` nodes whose tool was ported to a TypeScript/JavaScript file of the same name) call a
 * function; prompt nodes render a Jinja2 template; llm nodes render one and call the model through a connection.
 */

export interface NodeCall {
  /** The span's `function` attribute (code: the export; prompt: render_template_jinja2; llm: OpenAI.chat …). */
  functionName: string
  /** The span's `inputs`. */
  inputs: Record<string, unknown>
  /** Extra span attributes and events (llm nodes: the prompt template and its variables). */
  attributes?: Record<string, string>
  events?: Array<{name: string; payload: string}>
  run(): Promise<{output: unknown; promptResult?: PromptResult}>
}

export interface DagNode {
  name: string
  type: 'code' | 'prompt' | 'llm'
  inputs: Record<string, Ref>
  aggregation: boolean
  activate?: {when: Ref; is: unknown}
  /** Names of the nodes this node references (inputs and activate.when). */
  deps: string[]
  /** Inputs taken straight from flow inputs: prompt flow escapes role lines in them (prompt and llm nodes). */
  inputsToEscape: string[]
  /** A code module this node imported (decides which openai build is instrumented). */
  moduleFile?: string
  /** Prepares one call: `promptResults` are earlier prompt nodes' escaped renderings, by input name. */
  prepare(values: Record<string, unknown>, promptResults: Record<string, PromptResult>): Promise<NodeCall>
}

const codeTypes = new Set(['typescript', 'javascript', 'code', 'python'])

const sourcePath = (raw: YamlMap, name: string, file: string): string => {
  if (raw.source?.type === 'package' || raw.source?.tool)
    throw new PfError(
      'flow_invalid',
      `${file}: node "${name}" uses package tool ${JSON.stringify(raw.source?.tool ?? raw.source)}; pf runs code, prompt and llm nodes: port the tool to a TypeScript node.`,
    )
  const p = raw.source?.path ?? (typeof raw.source === 'string' ? raw.source : undefined)
  if (typeof p !== 'string' || p.trim() === '')
    throw new PfError('flow_invalid', `${file}: node "${name}" has no source; add "source: {type: code, path: <file>}".`)
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

/** A python tool `x.py` runs as `x.ts` / `x.js` (…) next to it: the port keeps the file's name. */
const codeModule = (dir: string, rel: string, name: string, file: string): string => {
  const stem = rel.endsWith('.py') ? rel.slice(0, -3) : rel
  const moduleFile = resolveModuleFile(dir, stem)
  if (moduleFile && !moduleFile.endsWith('.py')) return moduleFile
  if (rel.endsWith('.py'))
    throw new PfError(
      'flow_invalid',
      `${file}: node "${name}" is the Python tool ${rel}; pf runs it as ${stem}.ts (or .js) next to it: port the tool to a function of the same name there.`,
    )
  throw new PfError('flow_invalid', `${file}: node "${name}" source ${rel} not found in ${dir} (tried .ts, .mts, .js, .mjs, .cjs).`)
}

const loadCodeNode = async (dir: string, file: string, name: string, raw: YamlMap) => {
  const rel = sourcePath(raw, name, file)
  const moduleFile = codeModule(dir, rel, name, file)
  const mod = await importUserModule(moduleFile)
  const functions = Object.keys(mod).filter(k => k !== 'default' && typeof mod[k] === 'function')
  let exportName: string | undefined = typeof raw.function === 'string' ? raw.function : undefined
  if (exportName === undefined) {
    if (typeof mod.default === 'function') exportName = 'default'
    else if (functions.length === 1) exportName = functions[0]
    else if (rel.endsWith('.py') && functions.includes(path.basename(rel, '.py'))) exportName = path.basename(rel, '.py')
    else
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name}": ${path.relative(dir, moduleFile)} has ${functions.length === 0 ? 'no exported function' : `several exported functions (${functions.join(', ')})`}; name one with "function:".`,
      )
  }
  const fn = mod[exportName]
  if (typeof fn !== 'function')
    throw new PfError(
      'flow_invalid',
      `${file}: node "${name}": ${path.relative(dir, moduleFile)} does not export a function "${exportName}"` +
        (functions.length > 0 ? `; it exports: ${functions.join(', ')}.` : '.'),
    )
  const functionName = exportName === 'default' ? fn.name || 'default' : exportName
  return {fn: fn as (inputs: Record<string, unknown>) => unknown, functionName, moduleFile}
}

/** Reads one node definition (after variants) into a DagNode. */
export const loadNode = async (dir: string, file: string, raw: YamlMap, index: number): Promise<DagNode> => {
  if (!raw || typeof raw !== 'object' || typeof raw.name !== 'string' || raw.name.trim() === '')
    throw new PfError('flow_invalid', `${file}: nodes[${index}] needs a "name".`)
  const name = raw.name.trim()
  const type = String(raw.type ?? '')
  if (!codeTypes.has(type) && type !== 'llm' && type !== 'prompt')
    throw new PfError(
      'flow_invalid',
      `${file}: node "${name}" has type ${JSON.stringify(raw.type ?? null)}; use typescript, javascript, python (ported), llm or prompt.`,
    )
  if (raw.inputs !== undefined && raw.inputs !== null && (typeof raw.inputs !== 'object' || Array.isArray(raw.inputs)))
    throw new PfError('flow_invalid', `${file}: node "${name}": "inputs" must be a mapping.`)
  const inputs: Record<string, Ref> = {}
  for (const [key, value] of Object.entries((raw.inputs ?? {}) as Record<string, unknown>))
    inputs[key] = parseRef(value, `node "${name}" input "${key}"`, file)
  let activate: DagNode['activate']
  if (raw.activate !== undefined && raw.activate !== null) {
    if (typeof raw.activate !== 'object' || !('when' in raw.activate) || !('is' in raw.activate))
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name}": "activate" needs "when" (a reference) and "is" (the value that activates the node).`,
      )
    activate = {when: parseRef(raw.activate.when, `node "${name}" activate.when`, file), is: raw.activate.is}
  }
  const kind: DagNode['type'] = codeTypes.has(type) ? 'code' : (type as 'llm' | 'prompt')
  const base = {
    name,
    type: kind,
    inputs,
    aggregation: raw.aggregation === true,
    activate,
    deps: refDeps([...Object.values(inputs), ...(activate ? [activate.when] : [])]),
    inputsToEscape:
      kind === 'code'
        ? []
        : Object.entries(inputs)
            .filter(([, r]) => r.kind === 'input')
            .map(([k]) => k),
  }
  if (kind === 'code') {
    const {fn, functionName, moduleFile} = await loadCodeNode(dir, file, name, raw)
    return {
      ...base,
      moduleFile,
      prepare: async values => ({functionName, inputs: values, run: async () => ({output: await fn(values)})}),
    }
  }
  const {text, templateFile} = readTemplateFile(dir, sourcePath(raw, name, file), name, file)
  const templates = await import('../../llm/templates.js')
  const template = await templates.compileTemplate(text, templateFile, name)
  if (kind === 'prompt') {
    return {
      ...base,
      prepare: async (values, promptResults) => ({
        functionName: 'render_template_jinja2',
        inputs: {template: text, ...values},
        run: async () => {
          const {text: output, escaped} = templates.renderEscaped(template, values, base.inputsToEscape, promptResults)
          return {output, promptResult: escaped}
        },
      }),
    }
  }
  return {...base, prepare: await llmNode(file, name, raw, template, base.inputsToEscape)}
}

const llmNode = async (
  file: string,
  name: string,
  raw: YamlMap,
  template: CompiledTemplate,
  inputsToEscape: string[],
): Promise<DagNode['prepare']> => {
  const api = raw.api ?? 'chat'
  if (api !== 'chat' && api !== 'completion')
    throw new PfError('flow_invalid', `${file}: node "${name}" has api ${JSON.stringify(api)}; use chat or completion.`)
  const hasModel = [raw.deployment_name, raw.model, raw.inputs?.deployment_name, raw.inputs?.model].some(
    v => v !== undefined && v !== null && v !== '',
  )
  if (!hasModel)
    throw new PfError(
      'flow_invalid',
      `${file}: node "${name}" needs a model: add "deployment_name" (Azure OpenAI) and/or "model" (OpenAI) to its inputs.`,
    )
  const connection = raw.connection === undefined || raw.connection === null ? undefined : String(raw.connection)
  const {llmRequest, callLlm, connectionFor} = await import('../../llm/llm-call.js')
  const nodeLevel = {deployment_name: raw.deployment_name, model: raw.model}
  return async (values, promptResults) => {
    const resolved = connectionFor(connection)
    const request = llmRequest({
      node: name,
      api,
      provider: resolved.provider,
      values: {...nodeLevel, ...values},
      template,
      inputsToEscape,
      promptResults,
    })
    const variables = Object.fromEntries(Object.entries(values).filter(([k]) => template.identifiers.has(k)))
    const promptInfo = {'prompt.template': template.source, 'prompt.variables': JSON.stringify(variables)}
    return {
      functionName: `${resolved.provider}.${api}`,
      inputs: {prompt: template.source, ...values},
      attributes: promptInfo,
      events: [{name: 'promptflow.prompt.template', payload: JSON.stringify(promptInfo)}],
      run: async () => ({output: await callLlm(resolved, request)}),
    }
  }
}
