/* eslint-disable @typescript-eslint/no-explicit-any -- openai's bodies, results and streams come from the user's copy of the package, any version: they are read defensively, not typed */
import {type Span, SpanStatusCode, context, trace as otelTrace} from '@opentelemetry/api'

import {Attr, Events} from '../contract/attributes.js'
import {genAiOperation, genAiRequestAttributes, genAiResponseAttributes} from './genai.js'
import {maskString, masked} from './masking.js'
import {recordInputs, recordOutput} from './span-io.js'

/**
 * LLM spans for calls made through the `openai` package: the `create` methods of the chat completions,
 * completions and embeddings resources are wrapped on their prototypes, so every client (OpenAI, AzureOpenAI,
 * created before or after) is traced. The wrapper keeps openai's return types intact (`APIPromise` with
 * `withResponse()`, `Stream` with `tee()`), records the request body as inputs, the response as output and
 * `llm.usage.*` token counts; streams are recorded when they end.
 */

export type ResourceKind = 'chat' | 'completion' | 'embedding'

const spanNames: Record<ResourceKind, {name: string; fn: string; spanType: string}> = {
  chat: {name: 'openai_chat', fn: 'openai.resources.chat.completions.Completions.create', spanType: 'LLM'},
  completion: {name: 'openai_completion', fn: 'openai.resources.completions.Completions.create', spanType: 'LLM'},
  embedding: {name: 'openai_embeddings', fn: 'openai.resources.embeddings.Embeddings.create', spanType: 'Embedding'},
}

const patched = Symbol.for('pf.openai.traced')

interface Usage {
  prompt_tokens?: number
  completion_tokens?: number
  total_tokens?: number
}

type Create = (this: {_client?: {apiKey?: unknown; constructor?: {name?: string}}}, body: Record<string, any>, options?: unknown) => any

const recordUsage = (span: Span, usage: Usage | undefined | null): void => {
  if (!usage) return
  if (typeof usage.completion_tokens === 'number') span.setAttribute(Attr.usageCompletion, usage.completion_tokens)
  if (typeof usage.prompt_tokens === 'number') span.setAttribute(Attr.usagePrompt, usage.prompt_tokens)
  if (typeof usage.total_tokens === 'number') span.setAttribute(Attr.usageTotal, usage.total_tokens)
}

/** Removes the client's API key (and anything key-like) from an error before it reaches a span or the user. */
const scrubError = (error: unknown, apiKey: string | undefined): Error => {
  const err = error instanceof Error ? error : new Error(String(error))
  const scrub = (text: string): string => maskString(apiKey && apiKey.length >= 4 ? text.split(apiKey).join(masked) : text)
  try {
    // openai's error classes (AuthenticationError, RateLimitError, …) keep the generic name "Error".
    const className = err.constructor?.name
    if (err.name === 'Error' && className && className !== 'Error') err.name = className
    err.message = scrub(err.message)
    if (err.stack) err.stack = scrub(err.stack)
    const body = (err as {error?: {message?: unknown}}).error
    if (body && typeof body === 'object' && typeof body.message === 'string') body.message = scrub(body.message)
  } catch {
    // A frozen error object: the span still gets a scrubbed copy below.
  }
  return err
}

/** prompt flow's `llm.generated_message` (attribute and event): the first choice's message, or its text. */
const recordGeneratedMessage = (span: Span, message: unknown): void => {
  if (message === undefined) return
  const payload = JSON.stringify(message)
  span.setAttribute(Attr.generatedMessage, payload)
  span.addEvent(Events.generatedMessage, {payload})
}

const endWithError = (span: Span, error: Error): void => {
  const status = (error as {status?: unknown}).status
  if (typeof status === 'number') span.setAttribute('http.response.status_code', status)
  span.recordException({name: error.name, message: error.message, stack: error.stack})
  span.setStatus({code: SpanStatusCode.ERROR, message: `${error.name}: ${error.message}`})
  span.end()
}

/** Joins what a stream produced into the output a non-streamed call would have had (text, model, usage). */
class StreamCollector {
  private readonly text: string[] = []
  private readonly toolCalls: unknown[] = []
  model: string | undefined
  usage: Usage | undefined
  finishReason: string | undefined

  constructor(private readonly kind: ResourceKind) {}

  add(chunk: any): void {
    if (!chunk || typeof chunk !== 'object') return
    this.model ??= chunk.model
    if (chunk.usage) this.usage = chunk.usage
    const choice = chunk.choices?.find((c: any) => (c.index ?? 0) === 0)
    if (!choice) return
    const piece = this.kind === 'chat' ? choice.delta?.content : choice.text
    if (typeof piece === 'string') this.text.push(piece)
    if (this.kind === 'chat' && Array.isArray(choice.delta?.tool_calls)) this.toolCalls.push(...choice.delta.tool_calls)
    if (choice.finish_reason) this.finishReason = choice.finish_reason
  }

  output(): unknown {
    const text = this.text.join('')
    return this.toolCalls.length > 0 ? {content: text, tool_calls: this.toolCalls} : text
  }
}

/**
 * Wraps a `Stream` in place (its iterator feeds `tee()`, `toReadableStream()` and `for await`): the span ends
 * with the joined content and usage when the stream ends, fails or is abandoned. A usage-only chunk that pf asked
 * for (the caller did not set `stream_options`) is recorded but not passed on, so the caller sees what it asked for.
 */
const traceStream = (span: Span, stream: any, kind: ResourceKind, hideUsageChunk: boolean, apiKey: string | undefined): any => {
  const original = stream.iterator
  if (typeof original !== 'function') {
    span.end()
    return stream
  }
  const collector = new StreamCollector(kind)
  let ended = false
  const end = (error?: unknown) => {
    if (ended) return
    ended = true
    if (collector.model) span.setAttribute('llm.response.model', collector.model)
    recordUsage(span, collector.usage)
    span.setAttributes(genAiResponseAttributes(collector.model, collector.usage))
    if (error) return endWithError(span, scrubError(error, apiKey))
    const output = collector.output()
    recordGeneratedMessage(
      span,
      kind === 'chat'
        ? typeof output === 'string'
          ? {role: 'assistant', content: output}
          : {role: 'assistant', ...(output as object)}
        : output,
    )
    recordOutput(span, output)
    span.end()
  }
  stream.iterator = async function* () {
    try {
      for await (const chunk of original.call(stream)) {
        collector.add(chunk)
        if (hideUsageChunk && chunk?.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0) continue
        yield chunk
      }
      end()
    } catch (error) {
      end(error)
      throw error
    } finally {
      // The consumer stopped early (break): record what arrived.
      end()
    }
  }
  return stream
}

const wrapCreate = (original: Create, kind: ResourceKind): Create => {
  const names = spanNames[kind]
  return function tracedCreate(body, options) {
    const tracer = otelTrace.getTracer('promptflow')
    const span = tracer.startSpan(names.name, {}, context.active())
    if (!span.isRecording()) {
      span.end()
      return original.call(this, body, options)
    }
    const apiKey = typeof this?._client?.apiKey === 'string' ? (this._client.apiKey as string) : undefined
    recordInputs(span, names.fn, names.spanType, body)
    if (body?.model) span.setAttribute('llm.request.model', String(body.model))
    // OpenTelemetry's GenAI names beside prompt flow's, so OTLP backends show the span as an LLM call.
    span.setAttributes(genAiRequestAttributes(genAiOperation[kind], body?.model, this?._client?.constructor?.name === 'AzureOpenAI'))
    let request = body
    let hideUsageChunk = false
    if (body?.stream === true && kind !== 'embedding' && body.stream_options === undefined) {
      // Ask for the usage chunk so a streamed call has token counts too (hidden from the caller again).
      request = {...body, stream_options: {include_usage: true}}
      hideUsageChunk = true
    }
    let result: any
    try {
      result = original.call(this, request, options)
    } catch (error) {
      endWithError(span, scrubError(error, apiKey))
      throw error
    }
    const onError = (error: unknown) => endWithError(span, scrubError(error, apiKey))
    const onData = (data: any) => {
      if (data && typeof data === 'object' && typeof data.iterator === 'function' && typeof data.controller === 'object')
        return traceStream(span, data, kind, hideUsageChunk, apiKey)
      if (data?.model) span.setAttribute('llm.response.model', String(data.model))
      recordUsage(span, data?.usage)
      span.setAttributes(genAiResponseAttributes(data?.model, data?.usage))
      if (kind !== 'embedding') recordGeneratedMessage(span, kind === 'chat' ? data?.choices?.[0]?.message : data?.choices?.[0]?.text)
      recordOutput(span, kind === 'embedding' ? summarizeEmbeddings(data) : data)
      span.end()
      return data
    }
    if (result && typeof result._thenUnwrap === 'function') {
      // APIPromise: the HTTP failure rejects responsePromise; we see it first and scrub it before the caller does.
      result.responsePromise?.then(undefined, onError)
      return result._thenUnwrap((data: unknown) => onData(data))
    }
    return Promise.resolve(result).then(onData, error => {
      onError(error)
      throw error
    })
  }
}

/** Embedding vectors are large and not useful in a trace: keep their count and dimensions. */
const summarizeEmbeddings = (data: any): unknown => {
  if (!data || !Array.isArray(data.data)) return data
  return {
    ...data,
    data: data.data.map((d: any) => ({
      index: d.index,
      dimensions: Array.isArray(d.embedding) ? d.embedding.length : typeof d.embedding === 'string' ? 'base64' : undefined,
    })),
  }
}

/** Wraps `create` on a resource class's prototype once (a second call is a no-op). */
export const patchResourceClass = (cls: unknown, kind: ResourceKind): boolean => {
  const proto = (cls as {prototype?: Record<string | symbol, unknown>})?.prototype
  if (!proto || typeof proto.create !== 'function' || proto[patched]) return false
  const original = proto.create as Create
  Object.defineProperty(proto, 'create', {value: wrapCreate(original, kind), writable: true, configurable: true})
  Object.defineProperty(proto, patched, {value: original})
  return true
}

/** Restores the original methods (tests). */
export const unpatchResourceClass = (cls: unknown): void => {
  const proto = (cls as {prototype?: Record<string | symbol, unknown>})?.prototype
  if (proto?.[patched]) {
    Object.defineProperty(proto, 'create', {value: proto[patched], writable: true, configurable: true})
    delete proto[patched]
  }
}
