import type {ReadableSpan} from '@opentelemetry/sdk-trace-base'

import {Attr} from '../contract/attributes.js'
import type {SpanRecord} from '../contract/destination.js'
import {normalizeLlmSpan} from './genai.js'
import {isSecretName, maskString, masked} from './masking.js'

type HrTime = [number, number]

/** `2026-11-26T05:30:30.123456Z`: prompt flow's `%Y-%m-%dT%H:%M:%S.%fZ` (microseconds). */
export const formatHrTime = ([seconds, nanos]: HrTime): string => {
  // Spans end in bursts within the same second: format that second once.
  if (seconds !== lastSecond) {
    lastSecond = seconds
    lastSecondText = new Date(seconds * 1000).toISOString().slice(0, 19)
  }
  return lastSecondText + '.' + String(Math.floor(nanos / 1000)).padStart(6, '0') + 'Z'
}

let lastSecond = Number.NaN
let lastSecondText = ''

const kindNames = ['SpanKind.INTERNAL', 'SpanKind.SERVER', 'SpanKind.CLIENT', 'SpanKind.PRODUCER', 'SpanKind.CONSUMER']
const statusNames = ['Unset', 'Ok', 'Error'] as const

/** Attribute names that look secret-ish but are pf's own counters. */
const ownAttributes = new Set<string>(Object.values(Attr))

/** Whether an attribute's value is masked whole (its last name part looks secret), remembered per key: keys repeat on every span. */
const secretAttribute = (key: string): boolean => {
  let secret = secretAttributes.get(key)
  if (secret === undefined) {
    secret = !ownAttributes.has(key) && isSecretName(key.slice(key.lastIndexOf('.') + 1))
    if (secretAttributes.size < 10_000) secretAttributes.set(key, secret)
  }
  return secret
}
const secretAttributes = new Map<string, boolean>()

/**
 * Masks secret-looking attribute values (by name, and key-like strings in any value), and adds the span's cumulative
 * token counts to the same copy.
 */
export const maskAttributes = (attributes: Record<string, unknown>, cumulative?: TokenCounts): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key in attributes) {
    const value = attributes[key]
    out[key] = typeof value !== 'string' ? value : secretAttribute(key) ? masked : maskString(value)
  }
  if (cumulative) {
    // Literal keys (Attr.cumulative*), not computed ones: past ~18 properties V8 turns an object that grows by
    // computed keys into a slow dictionary-mode object, which cost an openai span ≈ 1.5 µs here and in its JSON.
    out['__computed__.cumulative_token_count.completion'] = cumulative.completion
    out['__computed__.cumulative_token_count.prompt'] = cumulative.prompt
    out['__computed__.cumulative_token_count.total'] = cumulative.total
  }
  return out
}

export interface TokenCounts {
  completion: number
  prompt: number
  total: number
}

/** The span's own LLM usage plus what its children reported (cumulative counts roll up to parents). */
export const ownUsage = (attributes: Record<string, unknown>): TokenCounts | undefined => {
  const completion = Number(attributes[Attr.usageCompletion] ?? Number.NaN)
  const prompt = Number(attributes[Attr.usagePrompt] ?? Number.NaN)
  const total = Number(attributes[Attr.usageTotal] ?? Number.NaN)
  if (Number.isNaN(completion) && Number.isNaN(prompt) && Number.isNaN(total)) return undefined
  const c = Number.isNaN(completion) ? 0 : completion
  const p = Number.isNaN(prompt) ? 0 : prompt
  return {completion: c, prompt: p, total: Number.isNaN(total) ? c + p : total}
}

const addCounts = (a: TokenCounts | undefined, b: TokenCounts | undefined): TokenCounts | undefined =>
  !a ? b : !b ? a : {completion: a.completion + b.completion, prompt: a.prompt + b.prompt, total: a.total + b.total}

/**
 * Rolls token counts up the span tree as spans finish (children before their parent): each span gets the counts
 * of itself and its descendants as `__computed__.cumulative_token_count.*` (maskAttributes writes them). Counts of
 * children whose parent has not finished yet wait in memory (bounded: the oldest are dropped past `maxWaiting`,
 * e.g. parents never sent).
 */
export class TokenRollup {
  private readonly waiting = new Map<string, TokenCounts>()

  constructor(private readonly maxWaiting = 100_000) {}

  /** The counts of a finished span and its descendants, given its (normalized) attributes; passes them to its parent. */
  cumulative(spanId: string, parentId: string | null, attributes: Record<string, unknown>): TokenCounts | undefined {
    const children = this.waiting.get(spanId)
    if (children) this.waiting.delete(spanId)
    const cumulative = addCounts(ownUsage(attributes), children)
    if (parentId && cumulative) {
      this.waiting.set(parentId, addCounts(this.waiting.get(parentId), cumulative)!)
      if (this.waiting.size > this.maxWaiting) this.waiting.delete(this.waiting.keys().next().value!)
    }
    return cumulative
  }
}

/**
 * Converts a finished OTel span to the span record pf stores and exports, its token counts rolled up by `tokens`. An
 * LLM call traced by another framework (GenAI / AI SDK / OpenInference attributes) also gets prompt flow's names (see
 * tracing/genai.ts).
 */
export const toSpanRecord = (span: ReadableSpan, tokens: TokenRollup): SpanRecord => {
  const ctx = span.spanContext()
  const parentId = span.parentSpanContext?.spanId ?? null
  const normalized = normalizeLlmSpan(
    span.attributes as Record<string, unknown>,
    span.events as Array<{name: string; attributes: Record<string, unknown>}>,
  )
  const attributes = maskAttributes(normalized, tokens.cumulative(ctx.spanId, parentId, normalized))
  const status = span.status
  return {
    name: span.name,
    context: {trace_id: ctx.traceId, span_id: ctx.spanId, trace_state: ctx.traceState?.serialize() ?? ''},
    kind: kindNames[span.kind] ?? 'SpanKind.INTERNAL',
    parent_id: parentId,
    start_time: formatHrTime(span.startTime as HrTime),
    end_time: formatHrTime(span.endTime as HrTime),
    status: status.message ? {status_code: statusNames[status.code], description: status.message} : {status_code: statusNames[status.code]},
    attributes,
    events: span.events.map(e => ({
      name: e.name,
      timestamp: formatHrTime(e.time as HrTime),
      attributes: maskAttributes((e.attributes ?? {}) as Record<string, unknown>),
    })),
    links: span.links.map(l => ({
      context: {trace_id: l.context.traceId, span_id: l.context.spanId},
      attributes: (l.attributes ?? {}) as Record<string, unknown>,
    })),
    resource: {attributes: {...span.resource.attributes} as Record<string, unknown>, schema_url: span.resource.schemaUrl ?? ''},
  }
}
