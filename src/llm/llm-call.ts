import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {resolveConnection} from '../connections/service.js'
import {PfError} from '../errors.js'
import {instrumentOpenAI} from './instrument.js'
import {parseChat} from './templates.js'

/**
 * What a DAG `llm` node calls: pf's own `openai` package (instrumented like the user's, so the call is an LLM
 * span), with a client built from the node's connection (or OPENAI_* variables without one).
 */

export type LlmApi = 'chat' | 'completion'

/** Node inputs that are API parameters rather than template variables. */
export const apiParameters = new Set([
  'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias',
  'user', 'seed', 'n', 'response_format', 'tools', 'tool_choice', 'logprobs', 'top_logprobs', 'best_of', 'echo', 'suffix',
])
const numeric = new Set(['temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'presence_penalty', 'frequency_penalty', 'seed', 'n', 'top_logprobs', 'best_of'])

export interface LlmRequest {
  node: string
  api: LlmApi
  connection?: string
  /** OpenAI model, or the Azure deployment name. */
  model: string
  prompt: string
  /** Sampling parameters from the node's inputs (empty values are dropped). */
  parameters: Record<string, unknown>
}

const pfDir = path.dirname(fileURLToPath(import.meta.url))
const clients = new Map<string, Promise<unknown>>()

const isEmpty = (v: unknown): boolean =>
  v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)

export const requestParameters = (node: string, values: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, raw] of Object.entries(values)) {
    if (!apiParameters.has(key) || isEmpty(raw)) continue
    let value = raw
    if (numeric.has(key) && typeof value === 'string') {
      value = Number(value)
      if (!Number.isFinite(value)) throw new PfError('flow_invalid', `Node "${node}": ${key} must be a number; got ${JSON.stringify(raw)}.`)
    }
    if (key === 'response_format' && typeof value === 'string') value = {type: value}
    out[key] = value
  }
  return out
}

/** One client per resolved connection (values resolved at use time: a changed variable makes a new client). */
const clientFor = async (connectionName: string | undefined): Promise<any> => {
  const connection = connectionName ? resolveConnection(connectionName) : undefined
  const key = JSON.stringify(connection ?? null)
  let client = clients.get(key)
  if (!client) {
    client = (async () => {
      const openai = await import('openai')
      await instrumentOpenAI(pfDir, ['esm'])
      if (!connection) return new openai.OpenAI()
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

/** Calls the model; the result is the text of the first choice (a chat message with tool calls is returned whole). */
export const callLlm = async (request: LlmRequest): Promise<unknown> => {
  const client = await clientFor(request.connection)
  if (request.api === 'chat') {
    const messages = parseChat(request.prompt)
    const response = await client.chat.completions.create({model: request.model, messages, ...request.parameters})
    const message = response.choices?.[0]?.message
    return message?.tool_calls?.length ? message : (message?.content ?? '')
  }
  const response = await client.completions.create({model: request.model, prompt: request.prompt, ...request.parameters})
  return response.choices?.[0]?.text ?? ''
}
