import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {type ResolvedConnection, resolveConnection} from '../connections/service.js'
import {PfError} from '../errors.js'
import {instrumentOpenAI} from '../tracing/openai-instrument.js'
import {type CompiledTemplate, type PromptResult, parseChat, renderEscaped} from './templates.js'

/**
 * What a DAG `llm` node calls: pf's own `openai` package (instrumented like the user's, so the call is an LLM
 * span), with a client built from the node's connection (or OPENAI_* variables without one). The request body is
 * the one prompt flow's llm tool sends (promptflow-tools openai.py / aoai.py): an `open_ai` connection sends the
 * node's `model`, an `azure_open_ai` connection its `deployment_name`; temperature and top_p always (default 1),
 * `stream: false`, and the optional parameters only when set.
 */

export type LlmApi = 'chat' | 'completion'
export type LlmProvider = 'OpenAI' | 'AzureOpenAI'

/** Node inputs the llm tool takes as parameters; every other input is a template variable. */
const toolParameters = new Set([
  'deployment_name',
  'model',
  'temperature',
  'top_p',
  'stream',
  'stop',
  'max_tokens',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'tool_choice',
  'tools',
  'response_format',
  'seed',
  'suffix',
  'logprobs',
  'echo',
  'best_of',
  'user',
  'function_call',
  'functions',
])
const floats = new Set(['temperature', 'top_p', 'presence_penalty', 'frequency_penalty'])
const ints = new Set(['max_tokens', 'seed', 'n', 'logprobs', 'best_of'])

export interface ResolvedLlmConnection {
  name?: string
  connection?: ResolvedConnection
  provider: LlmProvider
}

export interface LlmRequest {
  api: LlmApi
  body: Record<string, unknown>
  /** Tools or functions were sent: the whole message is the output, not only its text. */
  wantsMessage: boolean
}

const pfDir = path.dirname(fileURLToPath(import.meta.url))
const clients = new Map<string, Promise<unknown>>()

/** The connection an llm node names (resolved at call time: a changed variable is seen at once). */
export const connectionFor = (name: string | undefined): ResolvedLlmConnection => {
  if (!name) return {provider: 'OpenAI'}
  const connection = resolveConnection(name)
  if (connection.type !== 'open_ai' && connection.type !== 'azure_open_ai')
    throw new PfError(
      'connection_invalid',
      `Connection "${name}" is of type ${connection.type}; an llm node needs an open_ai or azure_open_ai connection.`,
      1,
    )
  return {name, connection, provider: connection.type === 'azure_open_ai' ? 'AzureOpenAI' : 'OpenAI'}
}

const given = (v: unknown): boolean => v !== undefined && v !== null && v !== ''

const numberParameter = (node: string, key: string, raw: unknown): number => {
  const value = typeof raw === 'string' ? Number(raw.trim()) : raw
  if (typeof value !== 'number' || !Number.isFinite(value) || (typeof raw === 'string' && raw.trim() === ''))
    throw new PfError('flow_invalid', `Node "${node}": ${key} must be a number; got ${JSON.stringify(raw)}.`, 1)
  return ints.has(key) ? Math.trunc(value) : value
}

const boolParameter = (raw: unknown): boolean => String(raw).toLowerCase() === 'true'

/** Builds the request body prompt flow's llm tool would send for this node and these input values. */
export const llmRequest = (options: {
  node: string
  api: LlmApi
  provider: LlmProvider
  values: Record<string, unknown>
  template: CompiledTemplate
  inputsToEscape: string[]
  promptResults: Record<string, PromptResult>
}): LlmRequest => {
  const {node, api, provider, values} = options
  const azure = provider === 'AzureOpenAI'
  const p = (key: string): unknown => {
    const raw = values[key]
    if (!given(raw)) return undefined
    if (floats.has(key) || ints.has(key)) return numberParameter(node, key, raw)
    return raw
  }
  // An azure connection sends the deployment, an openai one the model; a flow that names only one still works.
  const model = azure ? (p('deployment_name') ?? p('model')) : (p('model') ?? p('deployment_name'))
  if (!given(model))
    throw new PfError(
      'flow_invalid',
      `Node "${node}": an ${azure ? 'azure_open_ai' : 'open_ai'} connection needs "${azure ? 'deployment_name' : 'model'}" in the node's inputs.`,
      1,
    )
  // Template variables: the inputs that are not parameters of the tool (Azure's chat also takes `n`).
  const isParameter = (k: string) => toolParameters.has(k) || (k === 'n' && (azure || api === 'completion'))
  const variables = Object.fromEntries(Object.entries(values).filter(([k]) => !isParameter(k)))
  const temperature = p('temperature') ?? 1
  const topP = p('top_p') ?? 1
  if (api === 'completion') {
    const prompt = options.template.render(variables)
    const body: Record<string, unknown> = {
      prompt,
      model,
      suffix: p('suffix') ?? null,
      max_tokens: p('max_tokens') ?? 16,
      temperature,
      top_p: topP,
      n: p('n') ?? 1,
      stream: false,
      logprobs: p('logprobs') || null,
      echo: boolParameter(values.echo ?? false),
      stop: Array.isArray(values.stop) && values.stop.length === 0 ? null : (p('stop') ?? null),
      best_of: p('best_of') ?? 1,
      logit_bias: isEmptyObject(values.logit_bias) ? {} : values.logit_bias,
      user: values.user ?? '',
    }
    // The Azure tool sends the penalties only when set; the OpenAI one sends them as null.
    for (const key of ['presence_penalty', 'frequency_penalty']) if (!azure || p(key) !== undefined) body[key] = p(key) ?? null
    return {api, body, wantsMessage: false}
  }
  const {text, escaped} = renderEscaped(
    options.template,
    variables,
    options.inputsToEscape,
    pickPromptResults(options.promptResults, variables),
  )
  const messages = escaped ? parseChat(escaped.escaped, escaped.mapping) : parseChat(text)
  const body: Record<string, unknown> = {model, messages, temperature, top_p: topP, ...(azure ? {n: p('n') ?? 1} : {}), stream: false}
  const tools = values.tools
  const functions = values.functions
  if (Array.isArray(tools) && tools.length > 0) {
    body.tools = tools
    if (given(values.tool_choice)) body.tool_choice = values.tool_choice
  } else if (Array.isArray(functions) && functions.length > 0) {
    body.functions = functions
    body.function_call = given(values.function_call) ? values.function_call : 'auto'
  }
  const stop = values.stop
  if (given(stop) && !(Array.isArray(stop) && stop.length === 0)) body.stop = stop
  if (given(values.max_tokens) && String(values.max_tokens).toLowerCase() !== 'inf') body.max_tokens = p('max_tokens')
  if (given(values.logit_bias) && !isEmptyObject(values.logit_bias)) body.logit_bias = values.logit_bias
  if (given(values.response_format) && !isEmptyObject(values.response_format))
    body.response_format = typeof values.response_format === 'string' ? {type: values.response_format} : values.response_format
  for (const key of ['seed', 'presence_penalty', 'frequency_penalty']) if (p(key) !== undefined) body[key] = p(key)
  if (given(values.user)) body.user = values.user
  return {api, body, wantsMessage: Boolean(body.tools || body.functions)}
}

const isEmptyObject = (v: unknown): boolean =>
  v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0)

const pickPromptResults = (results: Record<string, PromptResult>, variables: Record<string, unknown>): Record<string, PromptResult> =>
  Object.fromEntries(Object.entries(results).filter(([k]) => k in variables))

/** One client per resolved connection (a changed variable makes a new client). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- request bodies are built to the API's shape at run time
const clientFor = async (resolved: ResolvedLlmConnection): Promise<any> => {
  const connection = resolved.connection
  const key = JSON.stringify(connection ?? resolved.provider)
  let client = clients.get(key)
  if (!client) {
    client = (async () => {
      const openai = await import('openai')
      await instrumentOpenAI(pfDir, ['esm'])
      // No connection: the client reads its environment (OPENAI_* or AZURE_OPENAI_* and OPENAI_API_VERSION).
      if (!connection) return resolved.provider === 'AzureOpenAI' ? new openai.AzureOpenAI() : new openai.OpenAI()
      const v = connection.values
      // The connection's endpoint wins over the environment: given as `baseURL` (what `endpoint` becomes), since the SDK
      // otherwise reads OPENAI_BASE_URL and refuses an endpoint next to it.
      if (connection.type === 'azure_open_ai')
        return new openai.AzureOpenAI({apiKey: v.api_key, baseURL: `${v.api_base.replace(/\/+$/, '')}/openai`, apiVersion: v.api_version})
      return new openai.OpenAI({apiKey: v.api_key, baseURL: v.base_url || undefined, organization: v.organization || undefined})
    })()
    clients.set(key, client)
  }
  return client
}

/** Sends a request body as it is and returns the whole response (prompty). */
export const callLlmRaw = async (resolved: ResolvedLlmConnection, api: LlmApi, body: Record<string, unknown>): Promise<unknown> => {
  const client = await clientFor(resolved)
  return api === 'chat' ? client.chat.completions.create(body) : client.completions.create(body)
}

/** Calls the model; the output is the text of the first choice (the whole message when tools were sent). */
export const callLlm = async (resolved: ResolvedLlmConnection, request: LlmRequest): Promise<unknown> => {
  const client = await clientFor(resolved)
  // The reference's Azure tool marks its calls with this header.
  const options = resolved.provider === 'AzureOpenAI' ? {headers: {'ms-azure-ai-promptflow-called-from': 'aoai-tool'}} : undefined
  if (request.api === 'chat') {
    const response = await client.chat.completions.create(request.body, options)
    const message = response.choices?.[0]?.message
    if (request.wantsMessage || message?.tool_calls?.length) return message
    return message?.content ?? null
  }
  const response = await client.completions.create(request.body, options)
  return response.choices?.[0]?.text ?? ''
}
