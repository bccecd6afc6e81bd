import {type Span, SpanStatusCode} from '@opentelemetry/api'

import {Attr, Events, type SpanType, frameworkName} from '../contract/attributes.js'
import {maskSecrets, maskingReplacer} from './masking.js'

/** prompt flow's inputs/output/error recording on a span: shared by `trace()` (pf/sdk), flows and LLM instrumentation. */

/** Serializes a value for a span attribute, masking secrets. */
export const toJsonAttribute = (value: unknown): string => {
  try {
    return JSON.stringify(value, maskingReplacer) ?? 'null'
  } catch {
    // A cycle, or what JSON cannot hold (a BigInt): the masked copy names cycles.
    try {
      return JSON.stringify(maskSecrets(value) ?? null)
    } catch {
      return JSON.stringify(String(value))
    }
  }
}

/** `fnName` undefined: no `function` attribute (prompt flow's DAG root span has none). */
export const recordInputs = (span: Span, fnName: string | undefined, spanType: SpanType, inputs: unknown): void => {
  const payload = toJsonAttribute(inputs)
  span.setAttributes({
    [Attr.framework]: frameworkName,
    [Attr.spanType]: spanType,
    ...(fnName === undefined ? {} : {[Attr.function]: fnName}),
    [Attr.inputs]: payload,
  })
  span.addEvent(Events.inputs, {payload})
}

export const recordOutput = (span: Span, output: unknown): void => {
  const payload = toJsonAttribute(output)
  span.setAttribute(Attr.output, payload)
  span.addEvent(Events.output, {payload})
  span.setStatus({code: SpanStatusCode.OK})
}

export const recordError = (span: Span, error: unknown): void => {
  const err = error instanceof Error ? error : new Error(String(error))
  span.recordException(err)
  span.setStatus({code: SpanStatusCode.ERROR, message: `${err.name}: ${err.message}`})
}
