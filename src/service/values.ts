import type {SpanRecord} from '../contract/destination.js'
import {parseJsonOrText} from '../util/json.js'

/**
 * Bounded viewer responses: a value longer than its cap is sent as a marker with a preview and the address of
 * the full value, so a 50 MB input costs the page a few KB until the user asks for it (docs/viewer-api.md).
 */
export interface TruncatedValue {
  $pfTruncated: true
  /** The first characters of the value as stored (JSON text for inputs/outputs). */
  preview: string
  /** The stored value's length in characters. */
  length: number
  /** GET this for `{"value": <the full stored text>}`. */
  href: string
}

/** Characters of inputs/outputs kept in a trace or run-line summary (lists show ~120). */
export const summaryCap = 2000
/** Characters of one attribute / event attribute value kept in a trace's span details. */
export const attributeCap = 32_768

export const valueHref = (traceId: string, spanId: string, attribute: string, event?: number): string =>
  `/v1.0/api/traces/${traceId}/spans/${spanId}/value?${event === undefined ? '' : `event=${event}&`}attribute=${encodeURIComponent(attribute)}`

export const truncated = (text: string, cap: number, href: string): TruncatedValue => ({
  $pfTruncated: true,
  preview: text.slice(0, cap),
  length: text.length,
  href,
})

/** A stored JSON text as a value for a summary: parsed when short, else a truncation marker. */
export const summaryValue = (text: string | null, href: () => string, cap = summaryCap): unknown => {
  if (text === null) return null
  return text.length > cap ? truncated(text, cap, href()) : parseJsonOrText(text)
}

const capAttributes = (attributes: Record<string, unknown>, href: (key: string) => string, cap: number): Record<string, unknown> => {
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(attributes)) {
    const text = typeof value === 'string' ? value : undefined
    if (text !== undefined && text.length > cap) (out ??= {...attributes})[key] = truncated(text, cap, href(key))
  }
  return out ?? attributes
}

/** A span with every string attribute (its own and its events') over `cap` characters replaced by a marker. */
export const capSpan = (span: SpanRecord, cap = attributeCap): SpanRecord => {
  const {trace_id: traceId, span_id: spanId} = span.context
  const attributes = capAttributes(span.attributes, key => valueHref(traceId, spanId, key), cap)
  let events = span.events
  span.events.forEach((event, i) => {
    const capped = capAttributes(event.attributes, key => valueHref(traceId, spanId, key, i), cap)
    if (capped !== event.attributes) {
      if (events === span.events) events = [...span.events]
      events[i] = {...event, attributes: capped}
    }
  })
  return attributes === span.attributes && events === span.events ? span : {...span, attributes, events}
}

/** The full stored value of one attribute of a span (or of one of its events), as text; undefined when absent. */
export const spanValue = (span: SpanRecord, attribute: string, event?: number): string | undefined => {
  const attributes = event === undefined ? span.attributes : span.events[event]?.attributes
  const value = attributes?.[attribute]
  return value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value)
}
