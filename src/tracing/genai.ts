import {Attr} from '../contract/attributes.js'
import {parseJsonOrText} from '../util/json.js'

/**
 * OpenTelemetry's GenAI semantic conventions, in and out.
 *
 * In: spans written by other LLM frameworks name an LLM call in one of three dialects: OpenTelemetry GenAI
 * (`gen_ai.*`), the Vercel AI SDK (`ai.*`, plus `gen_ai.*` on its provider-call spans) and OpenInference
 * (`llm.*`, Arize Phoenix / LangChain / LlamaIndex instrumentations). `normalizeLlmSpan` recognises an LLM call
 * in any of them and adds prompt flow's own attributes (span_type, llm.usage.*, inputs, output) when they are
 * missing, so token roll-up, line totals, the viewer's chat view and Cosmos line
 * summaries treat the span as one of pf's own LLM spans. Attributes the span had are never changed.
 *
 * Only the span of the call itself is recognised, not wrappers that repeat its usage (the AI SDK's
 * `ai.generateText` around `ai.generateText.doGenerate`, GenAI `invoke_agent` spans): counting both would
 * count the tokens twice when they roll up.
 *
 * Out: `genAiAttributes` gives the GenAI attributes pf's own openai spans carry beside prompt flow's.
 */

type Attributes = Record<string, unknown>
interface SpanEvent {
  name: string
  attributes: Attributes
}

export interface ChatMessage {
  role: string
  content?: unknown
  tool_calls?: unknown
}

/** The token counts an LLM span reports, in whichever dialect. */
interface TokenUsage {
  prompt?: number
  completion?: number
  total?: number
}

const llmOperations = new Set(['chat', 'text_completion', 'generate_content'])
const embeddingOperations = new Set(['embeddings'])
/** The AI SDK's provider-call spans (`ai.generateText.doGenerate`, `ai.streamObject.doStream`, `ai.embed.doEmbed`). */
const aiSdkCall = /\.(doGenerate|doStream)$/
const aiSdkEmbed = /\.doEmbed$/

const num = (value: unknown): number | undefined => {
  if (value === undefined || value === null || value === '') return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined)

/** An attribute that may hold JSON text (messages, tool calls): parsed, or as it is. */
const parseJson = (value: unknown): unknown => (typeof value === 'string' ? parseJsonOrText(value) : value)

/** `llm.input_messages.0.message.role` style flattened lists → [{role, content}, …] (OpenInference, OpenLLMetry). */
const flattenedMessages = (attributes: Attributes, prefix: string, inner: string): ChatMessage[] => {
  const byIndex = new Map<number, ChatMessage>()
  const head = prefix + '.'
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.startsWith(head)) continue
    const match = /^(\d+)\.(.+)$/.exec(key.slice(head.length))
    if (!match) continue
    const field = inner ? match[2].replace(inner, '') : match[2]
    const index = Number(match[1])
    const message = byIndex.get(index) ?? {role: ''}
    if (field === 'role') message.role = String(value)
    else if (field === 'content') message.content = value
    byIndex.set(index, message)
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => ({...m, role: m.role || 'message'}))
}

/** GenAI ≥ 1.37 `parts` ([{type: 'text', content}, {type: 'tool_call', …}]) → OpenAI-style content / tool_calls. */
type Fields = Record<string, unknown>
const objects = (value: unknown[]): Fields[] => value.filter((v): v is Fields => Boolean(v) && typeof v === 'object')

const fromParts = (message: Fields): ChatMessage => {
  const role = String(message.role ?? 'message')
  const parts = Array.isArray(message.parts) ? objects(message.parts) : undefined
  if (!parts) return {role, content: message.content}
  const texts = parts.filter(p => p.type === 'text').map(p => String(p.content ?? p.text ?? ''))
  const toolCalls = parts.filter(p => p.type === 'tool_call')
  const out: ChatMessage = {role, content: texts.length > 0 ? texts.join('') : undefined}
  if (toolCalls.length > 0)
    out.tool_calls = toolCalls.map(p => ({
      id: p.id,
      type: 'function',
      function: {name: p.name, arguments: JSON.stringify(p.arguments ?? {})},
    }))
  return out
}

/** The AI SDK's message content ([{type: 'text', text}, …]) stays as OpenAI's array form, which the viewer reads. */
const aiSdkMessages = (value: unknown): ChatMessage[] => {
  const parsed = parseJson(value)
  return Array.isArray(parsed) ? objects(parsed).map(m => ({role: String(m.role ?? 'message'), content: m.content})) : []
}

const eventRoles: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
}

/** Messages in the conventions' event forms: one event per message (1.27–1.36), or the older prompt/completion events. */
const eventMessages = (events: SpanEvent[]): {input: ChatMessage[]; output: ChatMessage[]} => {
  const input: ChatMessage[] = []
  const output: ChatMessage[] = []
  for (const event of events) {
    const a = event.attributes ?? {}
    const role = eventRoles[event.name]
    if (role) input.push({role: str(a.role) ?? role, content: parseJson(a.content ?? a['gen_ai.event.content'])})
    else if (event.name === 'gen_ai.choice') {
      const message = parseJson(a.message) as Record<string, unknown> | undefined
      output.push({role: 'assistant', content: message && typeof message === 'object' ? message.content : parseJson(a.content)})
    } else if (event.name === 'gen_ai.content.prompt') input.push(...aiSdkMessages(a['gen_ai.prompt']))
    else if (event.name === 'gen_ai.content.completion') output.push(...aiSdkMessages(a['gen_ai.completion']))
    else if (event.name === 'gen_ai.client.inference.operation.details') {
      input.push(...partsMessages(a['gen_ai.input.messages']))
      output.push(...partsMessages(a['gen_ai.output.messages']))
    }
  }
  return {input, output}
}

const partsMessages = (value: unknown): ChatMessage[] => {
  const parsed = parseJson(value)
  return Array.isArray(parsed) ? objects(parsed).map(fromParts) : []
}

const firstNonEmpty = (...lists: ChatMessage[][]): ChatMessage[] => lists.find(l => l.length > 0) ?? []

/**
 * The kind of LLM call a span's attributes describe in GenAI, AI SDK or OpenInference terms; undefined for any other
 * span.
 */
const llmSpanType = (a: Attributes): 'LLM' | 'Embedding' | undefined => {
  const operation = str(a['gen_ai.operation.name'])
  if (operation) return llmOperations.has(operation) ? 'LLM' : embeddingOperations.has(operation) ? 'Embedding' : undefined
  const aiOperation = str(a['ai.operationId'])
  if (aiOperation) return aiSdkCall.test(aiOperation) ? 'LLM' : aiSdkEmbed.test(aiOperation) ? 'Embedding' : undefined
  const openInferenceKind = str(a['openinference.span.kind'])?.toUpperCase()
  if (openInferenceKind) return openInferenceKind === 'LLM' ? 'LLM' : openInferenceKind === 'EMBEDDING' ? 'Embedding' : undefined
  // Older GenAI instrumentations (OpenLLMetry) name the system and model without an operation.
  if ((a['gen_ai.system'] !== undefined || a['gen_ai.provider.name'] !== undefined) && a['gen_ai.request.model'] !== undefined) return 'LLM'
  return undefined
}

const usageOf = (a: Attributes): TokenUsage => ({
  prompt:
    num(a['gen_ai.usage.input_tokens']) ??
    num(a['gen_ai.usage.prompt_tokens']) ??
    num(a['ai.usage.inputTokens']) ??
    num(a['ai.usage.promptTokens']) ??
    num(a['llm.token_count.prompt']),
  completion:
    num(a['gen_ai.usage.output_tokens']) ??
    num(a['gen_ai.usage.completion_tokens']) ??
    num(a['ai.usage.outputTokens']) ??
    num(a['ai.usage.completionTokens']) ??
    num(a['llm.token_count.completion']),
  total: num(a['gen_ai.usage.total_tokens']) ?? num(a['ai.usage.totalTokens']) ?? num(a['llm.token_count.total']),
})

const modelOf = (a: Attributes): string | undefined =>
  str(a['gen_ai.request.model']) ?? str(a['ai.model.id']) ?? str(a['llm.model_name']) ?? str(a['gen_ai.response.model'])

const inputMessages = (a: Attributes, events: SpanEvent[]): ChatMessage[] =>
  firstNonEmpty(
    partsMessages(a['gen_ai.input.messages']),
    eventMessages(events).input,
    aiSdkMessages(a['ai.prompt.messages']),
    flattenedMessages(a, 'llm.input_messages', 'message.'),
    flattenedMessages(a, 'gen_ai.prompt', ''),
  )

const outputMessages = (a: Attributes, events: SpanEvent[]): ChatMessage[] => {
  const aiText = str(a['ai.response.text'])
  const aiToolCalls = parseJson(a['ai.response.toolCalls'])
  const aiOutput: ChatMessage[] =
    aiText !== undefined || Array.isArray(aiToolCalls)
      ? [{role: 'assistant', content: aiText ?? '', ...(Array.isArray(aiToolCalls) ? {tool_calls: aiToolCalls} : {})}]
      : []
  return firstNonEmpty(
    partsMessages(a['gen_ai.output.messages']),
    eventMessages(events).output,
    aiOutput,
    flattenedMessages(a, 'llm.output_messages', 'message.'),
    flattenedMessages(a, 'gen_ai.completion', ''),
  )
}

/**
 * Adds prompt flow's names for an LLM call written in another dialect: span_type, llm.usage.* (so tokens roll
 * up), and inputs/output holding the chat (so the viewer shows it). Returns `attributes` itself when the span
 * is not such a call or already has them all. The messages are read only for what is missing: a collector
 * takes thousands of spans a second, and most instrumentations' LLM spans that pass through it already have
 * neither or both.
 */
export const normalizeLlmSpan = (attributes: Attributes, events: SpanEvent[] = []): Attributes => {
  if (attributes[Attr.framework] === 'promptflow') return attributes
  const spanType = llmSpanType(attributes)
  if (!spanType) return attributes
  const out: Attributes = {...attributes}
  out[Attr.spanType] ??= spanType
  if (out[Attr.usagePrompt] === undefined && out[Attr.usageCompletion] === undefined && out[Attr.usageTotal] === undefined) {
    const {prompt, completion, total} = usageOf(attributes)
    if (prompt !== undefined) out[Attr.usagePrompt] = prompt
    if (completion !== undefined) out[Attr.usageCompletion] = completion
    const sum = total ?? (prompt !== undefined || completion !== undefined ? (prompt ?? 0) + (completion ?? 0) : undefined)
    if (sum !== undefined) out[Attr.usageTotal] = sum
  }
  if (out[Attr.inputs] === undefined) {
    const messages = inputMessages(attributes, events)
    const model = modelOf(attributes)
    if (messages.length > 0) out[Attr.inputs] = JSON.stringify({...(model ? {model} : {}), messages})
  }
  if (out[Attr.output] === undefined) {
    const output = outputMessages(attributes, events)
    const only = output[0]
    if (output.length > 0)
      out[Attr.output] = JSON.stringify(
        output.length === 1 && typeof only.content === 'string' && !only.tool_calls
          ? only.content
          : {choices: output.map((message, index) => ({index, message}))},
      )
  }
  return out
}

/** OpenTelemetry GenAI names for the openai resources pf traces (gen_ai.operation.name). */
export const genAiOperation = {chat: 'chat', completion: 'text_completion', embedding: 'embeddings'} as const

/** GenAI attributes of a request pf traces through the openai package: system, operation and requested model. */
export const genAiRequestAttributes = (operation: string, model: unknown, azure: boolean): Record<string, string> => ({
  'gen_ai.system': azure ? 'az.ai.openai' : 'openai',
  'gen_ai.operation.name': operation,
  ...(model ? {'gen_ai.request.model': String(model)} : {}),
})

/** GenAI attributes of a response: the model that answered and the token usage (input/output, as the conventions name them). */
export const genAiResponseAttributes = (
  model: unknown,
  usage: {prompt_tokens?: number; completion_tokens?: number} | undefined | null,
): Record<string, string | number> => {
  const out: Record<string, string | number> = {}
  if (model) out['gen_ai.response.model'] = String(model)
  if (typeof usage?.prompt_tokens === 'number') out['gen_ai.usage.input_tokens'] = usage.prompt_tokens
  if (typeof usage?.completion_tokens === 'number') out['gen_ai.usage.output_tokens'] = usage.completion_tokens
  return out
}
