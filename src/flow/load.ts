import {PfError} from '../errors.js'
import {locateFlow} from './definition.js'
import type {LoadedFlow} from './types.js'

export interface LoadFlowOptions {
  /** Values for a class entry's `init` (flex flows). */
  init?: Record<string, unknown>
  /** DAG flows: `${node.variant_id}` to run that node's variant. */
  variant?: string
  /** DAG flows: per llm node, `connection` and input overrides (`deployment_name`, `model`…), as `--connections`. */
  connections?: Record<string, Record<string, unknown>>
  /** Set in the environment before the flow loads; `${env:NAME}` reads the current environment. */
  environmentVariables?: Record<string, unknown>
}

/** Parses `--connections node.key=value` pairs into per-node overrides. */
export const parseConnectionOverrides = (pairs: string[] | undefined): Record<string, Record<string, string>> => {
  const out: Record<string, Record<string, string>> = {}
  for (const pair of pairs ?? []) {
    const m = /^([\w-]+)\.(\w+)=(.*)$/s.exec(pair)
    if (!m)
      throw new PfError(
        'invalid_arguments',
        `--connections "${pair}" is not NODE.KEY=VALUE; e.g. --connections classify.connection=my_azure classify.deployment_name=gpt-4o.`,
      )
    ;(out[m[1]] ??= {})[m[2]] = m[3]
  }
  return out
}

/** Sets environment variables for the flow (`${env:NAME}` values read the current environment). */
export const applyEnvironmentVariables = (variables: Record<string, unknown> | undefined, where: string): void => {
  for (const [name, raw] of Object.entries(variables ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new PfError('invalid_arguments', `${where}: "${name}" is not an environment variable name.`)
    const ref = typeof raw === 'string' ? /^\$\{env:(\w+)\}$/.exec(raw.trim()) : null
    if (ref && process.env[ref[1]] === undefined)
      throw new PfError('invalid_arguments', `${where}: ${name} is \${env:${ref[1]}} but ${ref[1]} is not set.`)
    process.env[name] = ref ? process.env[ref[1]]! : typeof raw === 'string' ? raw : JSON.stringify(raw)
  }
}

/** Loads a flex or DAG flow from a folder (or its definition file); every problem is a PfError naming the file. */
export const loadFlow = async (flowPath: string, options: LoadFlowOptions = {}): Promise<LoadedFlow> => {
  const {dir, file, kind} = locateFlow(flowPath)
  applyEnvironmentVariables(options.environmentVariables, '--environment-variables')
  if (options.connections && Object.keys(options.connections).length > 0 && kind !== 'dag')
    throw new PfError('invalid_arguments', `--connections overrides llm nodes of a DAG flow; ${file} is not one.`)
  if (options.variant && kind !== 'dag')
    throw new PfError('invalid_arguments', `--variant selects a node variant of a DAG flow; ${file} is a flex flow.`)
  const flow =
    kind === 'flex'
      ? await (await import('./flex.js')).loadFlexFlow(dir, file, options.init)
      : kind === 'prompty'
        ? await (await import('./prompty.js')).loadPromptyFlow(file)
        : await (await import('./dag.js')).loadDagFlow(dir, file, {variant: options.variant, connections: options.connections})
  for (const warning of flow.warnings ?? []) process.stderr.write(`Warning: ${warning}\n`)
  // LLM calls the flow makes through the openai package become LLM spans (patched after the flow's modules
  // loaded, so a flow that already imported openai costs no extra import).
  const {instrumentFlowModules} = await import('../tracing/openai-instrument.js')
  await instrumentFlowModules(dir, flow.modules ?? [])
  return flow
}
