import {readFileSync} from 'node:fs'
import path from 'node:path'

import {trace as otelTrace} from '@opentelemetry/api'

import type {ResolvedConnection} from '../connections/service.js'
import {PfError} from '../errors.js'
import {recordError, recordInputs, recordOutput} from '../sdk/trace.js'
import {parseYaml} from '../util/yaml.js'
import {type YamlMap, readChatSpec, readInputSpecs} from './definition.js'
import type {LoadedFlow} from './types.js'

/**
 * A `.prompty` file as prompt flow reads it: YAML front matter between `---` lines (model api, configuration,
 * parameters, inputs with defaults, sample, outputs), then the Jinja2 template. The request is the front matter's
 * parameters plus `model` (the Azure deployment or the OpenAI model) and the messages (every input escaped, as the
 * reference's prompty does). The output is the first choice's text; with `response_format: json_object` its parsed
 * JSON (only the declared `outputs`, if any); with `response: all` the whole response.
 */

const envReference = /^\$\{env:(\w+)\}$/

const fromEnv = (value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined
  const text = String(value)
  const ref = envReference.exec(text.trim())
  return ref ? process.env[ref[1]] : text
}

/** prompt flow's split: the front matter runs to the last `---` line (its regex is greedy). */
export const splitPrompty = (text: string, file: string): {frontMatter: string; template: string} => {
  const m = /-{3,}\n([\s\S]*)-{3,}\n([\s\S]*)/.exec(text.replace(/\r\n?/g, '\n'))
  if (!m)
    throw new PfError(
      'flow_invalid',
      `${file}: a prompty file is YAML front matter between "---" lines, then the prompt template; no front matter found.`,
    )
  return {frontMatter: m[1], template: m[2]}
}

const resolvedConnection = async (
  configuration: Record<string, unknown>,
  file: string,
): Promise<{connection?: ResolvedConnection; provider: 'OpenAI' | 'AzureOpenAI'; model?: string}> => {
  const type = configuration.type
  if (type !== 'azure_openai' && type !== 'openai' && type !== 'azure_open_ai' && type !== 'open_ai')
    throw new PfError('flow_invalid', `${file}: model.configuration.type is ${JSON.stringify(type ?? null)}; use azure_openai or openai.`)
  const azure = type === 'azure_openai' || type === 'azure_open_ai'
  const model = fromEnv(azure ? configuration.azure_deployment : configuration.model)
  if (typeof configuration.connection === 'string' && configuration.connection !== '') {
    const {resolveConnection} = await import('../connections/service.js')
    const connection = resolveConnection(configuration.connection)
    return {connection, provider: connection.type === 'azure_open_ai' ? 'AzureOpenAI' : 'OpenAI', model}
  }
  const values: Record<string, string> = {}
  const set = (key: string, value: unknown) => {
    const v = fromEnv(value)
    if (v) values[key] = v
  }
  set('api_key', configuration.api_key)
  if (azure) {
    set('api_base', configuration.azure_endpoint ?? configuration.api_base)
    set('api_version', configuration.api_version)
  } else {
    set('base_url', configuration.base_url)
    set('organization', configuration.organization)
  }
  // Nothing configured: the client reads the environment (OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT, …), as from_env does.
  if (Object.keys(values).length === 0) return {provider: azure ? 'AzureOpenAI' : 'OpenAI', model}
  return {
    connection: {name: path.basename(file), type: azure ? 'azure_open_ai' : 'open_ai', values},
    provider: azure ? 'AzureOpenAI' : 'OpenAI',
    model,
  }
}

export const loadPromptyFlow = async (file: string): Promise<LoadedFlow> => {
  const {frontMatter, template: templateText} = splitPrompty(readFileSync(file, 'utf8'), file)
  const config = (await parseYaml(frontMatter, file, 'flow_invalid')) as YamlMap | null
  if (!config || typeof config !== 'object' || Array.isArray(config))
    throw new PfError('flow_invalid', `${file}: the front matter must be a YAML mapping.`)
  const model = (config.model ?? {}) as YamlMap
  const api = model.api ?? 'chat'
  if (api !== 'chat' && api !== 'completion')
    throw new PfError('flow_invalid', `${file}: model.api is ${JSON.stringify(api)}; use chat or completion.`)
  const configuration = (model.configuration ?? {}) as Record<string, unknown>
  if (typeof configuration !== 'object' || Array.isArray(configuration))
    throw new PfError('flow_invalid', `${file}: model.configuration must be a mapping.`)
  const type = configuration.type
  if (!['azure_openai', 'openai', 'azure_open_ai', 'open_ai'].includes(String(type)))
    throw new PfError('flow_invalid', `${file}: model.configuration.type is ${JSON.stringify(type ?? null)}; use azure_openai or openai.`)
  const parameters = (model.parameters ?? {}) as Record<string, unknown>
  if (typeof parameters !== 'object' || Array.isArray(parameters))
    throw new PfError('flow_invalid', `${file}: model.parameters must be a mapping.`)
  const outputs = config.outputs && typeof config.outputs === 'object' ? Object.keys(config.outputs) : []
  const dir = path.dirname(file)
  const {compileTemplate, renderEscaped, parseChat} = await import('../llm/templates.js')
  const template = await compileTemplate(templateText, file, path.basename(file))
  const inputs = readInputSpecs(config.inputs, file)

  const invoke = async (values: Record<string, unknown>): Promise<unknown> => {
    const span = otelTrace.getActiveSpan()
    const variables = Object.fromEntries(Object.entries(values).filter(([k]) => template.identifiers.has(k)))
    const promptInfo = {'prompt.template': templateText, 'prompt.variables': JSON.stringify(variables)}
    span?.setAttributes(promptInfo)
    span?.addEvent('promptflow.prompt.template', {payload: JSON.stringify(promptInfo)})
    const resolved = await resolvedConnection(configuration, file)
    if (!resolved.model)
      throw new PfError(
        'flow_invalid',
        `${file}: model.configuration needs ${resolved.provider === 'AzureOpenAI' ? 'azure_deployment' : 'model'}.`,
        1,
      )
    // The rendering is its own span, as the reference traces convert_prompt_template.
    const prompt = await otelTrace.getTracer('promptflow').startActiveSpan('convert_prompt_template', async child => {
      recordInputs(child, 'convert_prompt_template', 'Function', {template: templateText, inputs: values})
      try {
        const out =
          api === 'completion'
            ? template.render(values)
            : (() => {
                const {text, escaped} = renderEscaped(template, values, Object.keys(values))
                return escaped ? parseChat(escaped.escaped, escaped.mapping) : parseChat(text)
              })()
        recordOutput(child, out)
        return out
      } catch (error) {
        recordError(child, error)
        throw error
      } finally {
        child.end()
      }
    })
    const body = {...parameters, model: resolved.model, ...(api === 'completion' ? {prompt} : {messages: prompt})}
    const {callLlmRaw} = await import('../llm/llm-call.js')
    const response = (await callLlmRaw({provider: resolved.provider, connection: resolved.connection}, api, body)) as YamlMap
    if (model.response === 'all') return response
    const choice = response?.choices?.[0]
    const content =
      api === 'completion'
        ? choice?.text
        : ['tool_calls', 'function_call'].includes(choice?.finish_reason)
          ? choice?.message
          : choice?.message?.content
    const format = parameters.response_format as {type?: string} | undefined
    if (format?.type !== 'json_object' || typeof content !== 'string') return content ?? ''
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(content)
    } catch {
      throw new PfError(
        'llm_output_invalid',
        `${path.basename(file)}: response_format is json_object but the model answered ${JSON.stringify(content.slice(0, 80))}, which is not JSON.`,
        1,
      )
    }
    if (outputs.length === 0) return parsed
    const missing = outputs.filter(k => !(k in parsed))
    if (missing.length > 0)
      throw new PfError(
        'llm_output_invalid',
        `${path.basename(file)}: cannot find ${missing.join(', ')} in the response (it has ${Object.keys(parsed).join(', ')}).`,
        1,
      )
    return Object.fromEntries(outputs.map(k => [k, parsed[k]]))
  }

  return {
    kind: 'prompty',
    dir,
    file,
    name: path.basename(file, '.prompty'),
    inputs,
    chat: readChatSpec(inputs, undefined),
    sample: readPromptySample(config.sample, dir, file),
    invoke,
  }
}

/** `sample:` is a mapping or `${file:sample.json}` relative to the prompty file. */
const readPromptySample = (sample: unknown, dir: string, file: string): Record<string, unknown> | undefined => {
  if (sample === undefined || sample === null) return undefined
  const ref = typeof sample === 'string' ? /^\$\{file:(.+)\}$/.exec(sample.trim()) : null
  if (ref) {
    try {
      return JSON.parse(readFileSync(path.resolve(dir, ref[1]), 'utf8'))
    } catch (error) {
      throw new PfError('flow_invalid', `${file}: sample ${ref[1]} cannot be read as JSON (${(error as Error).message}).`)
    }
  }
  if (typeof sample !== 'object' || Array.isArray(sample))
    throw new PfError('flow_invalid', `${file}: "sample" must be a mapping or \${file:<json file>}.`)
  return sample as Record<string, unknown>
}
