import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../errors.js'
import {parseYaml} from '../util/yaml.js'
import type {ChatSpec, InputSpec, InputType} from './types.js'

export const flexFileName = 'flow.flex.yaml'
export const dagFileName = 'flow.dag.yaml'

/** Finds the flow definition in a folder (or accepts the file itself). */
export const locateFlow = (flowPath: string): {dir: string; file: string; kind: 'flex' | 'dag' | 'prompty'} => {
  const target = path.resolve(flowPath)
  if (!existsSync(target))
    throw new PfError(
      'flow_not_found',
      `Flow folder ${target} does not exist; pass --flow with a folder that has ${flexFileName} or ${dagFileName}.`,
    )
  if (statSync(target).isFile()) {
    const base = path.basename(target)
    const kind =
      base.endsWith('.flex.yaml') || base.endsWith('.flex.yml')
        ? 'flex'
        : base.endsWith('.dag.yaml') || base.endsWith('.dag.yml')
          ? 'dag'
          : base.endsWith('.prompty')
            ? 'prompty'
            : undefined
    if (!kind)
      throw new PfError(
        'flow_not_found',
        `${target} is not a flow definition; expected ${flexFileName}, ${dagFileName} or a .prompty file.`,
      )
    return {dir: path.dirname(target), file: target, kind}
  }
  for (const [name, kind] of [
    [flexFileName, 'flex'],
    ['flow.flex.yml', 'flex'],
    [dagFileName, 'dag'],
    ['flow.dag.yml', 'dag'],
  ] as const) {
    const file = path.join(target, name)
    if (existsSync(file)) return {dir: target, file, kind}
  }
  throw new PfError('flow_not_found', `No ${flexFileName} or ${dagFileName} in ${target}; pass --flow with a flow folder.`)
}

/** A mapping read from YAML: each field's shape is checked where it is used (with a message naming the field). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fields are checked where they are read
export type YamlMap = Record<string, any>

/** Reads a flow definition file as a mapping. */
export const readFlowYaml = async (file: string): Promise<YamlMap> => {
  const data = await parseYaml(readFileSync(file, 'utf8'), file, 'flow_invalid')
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw new PfError('flow_invalid', `${file}:1: a flow definition must be a YAML mapping.`)
  return data as YamlMap
}

const inputTypes: InputType[] = ['string', 'int', 'double', 'bool', 'list', 'object']

/** Reads an `inputs:` section: `name: {type, default, description}` or `name: <type>`. */
export const readInputSpecs = (section: unknown, file: string, what = 'inputs'): Record<string, InputSpec> => {
  if (section === undefined || section === null) return {}
  if (typeof section !== 'object' || Array.isArray(section))
    throw new PfError('flow_invalid', `${file}: "${what}" must be a mapping of names to specs.`)
  const specs: Record<string, InputSpec> = {}
  for (const [name, raw] of Object.entries(section as Record<string, unknown>)) {
    const spec: InputSpec = typeof raw === 'string' ? {type: raw as InputType} : ((raw ?? {}) as InputSpec)
    if (spec.type !== undefined && !inputTypes.includes(spec.type))
      throw new PfError('flow_invalid', `${file}: ${what}.${name} has unknown type "${spec.type}"; use one of ${inputTypes.join(', ')}.`)
    specs[name] = spec
  }
  return specs
}

/** `sample:` may be a mapping or a path to a JSON file relative to the flow folder. */
export const readSample = (sample: unknown, dir: string, file: string): Record<string, unknown> | undefined => {
  if (sample === undefined || sample === null) return undefined
  if (typeof sample === 'string') {
    const samplePath = path.resolve(dir, sample)
    try {
      return JSON.parse(readFileSync(samplePath, 'utf8'))
    } catch (error) {
      throw new PfError('flow_invalid', `${file}: sample ${samplePath} cannot be read as JSON (${(error as Error).message}).`)
    }
  }
  if (typeof sample !== 'object' || Array.isArray(sample))
    throw new PfError('flow_invalid', `${file}: "sample" must be a mapping or a JSON file path.`)
  return sample as Record<string, unknown>
}

/**
 * The chat roles of a flow's inputs and outputs, as prompt flow finds them: `is_chat_input: true`; `is_chat_history:
 * true` or else a list input named chat_history; `is_chat_output: true` or else the only output.
 */
export const readChatSpec = (inputs: Record<string, InputSpec>, outputs: unknown): ChatSpec | undefined => {
  const names = Object.keys(inputs)
  const history =
    names.find(n => inputs[n].is_chat_history === true) ??
    (inputs.chat_history && inputs.chat_history.type !== 'string' ? 'chat_history' : undefined)
  let input = names.find(n => inputs[n].is_chat_input === true)
  // Without a marker, a flow with a history and one other string input chats through that input (prompty files).
  const others = names.filter(n => n !== history && (inputs[n].type ?? 'string') === 'string')
  if (!input && history && others.length === 1) input = others[0]
  const outputSpecs = outputs && typeof outputs === 'object' && !Array.isArray(outputs) ? (outputs as YamlMap) : {}
  const outputNames = Object.keys(outputSpecs)
  const output = outputNames.find(n => outputSpecs[n]?.is_chat_output === true) ?? (outputNames.length === 1 ? outputNames[0] : undefined)
  if (!input && !history && !outputNames.some(n => outputSpecs[n]?.is_chat_output === true)) return undefined
  return {input, history, output}
}
