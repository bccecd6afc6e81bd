import {type Span, trace as otelTrace} from '@opentelemetry/api'

import type {SpanType} from '../contract/attributes.js'
import {recordError, recordInputs, recordOutput} from '../tracing/span-io.js'

// Where they lived first: the flow executor, metrics and LLM instrumentation import them from here too.
export {recordError, recordInputs, recordOutput, toJsonAttribute} from '../tracing/span-io.js'

export interface TraceOptions {
  /** Span name; default: the function's name. */
  name?: string
  /** prompt flow span_type: Function (default), LLM, Flow, Tool, … */
  spanType?: SpanType
}

const simpleIdentifier = /^[A-Za-z_$][\w$]*$/

/** Parameter names from the function's source, best effort (destructured or rest parameters become arg<i>). */
export const parameterNames = (fn: (...args: never[]) => unknown): string[] => {
  const source = Function.prototype.toString.call(fn)
  const match = /^[^(=]*\(([^)]*)\)/.exec(source) ?? /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(source)
  if (!match) return []
  return match[1]
    .split(',')
    .map(p =>
      p
        .replace(/\/\*.*?\*\//g, '')
        .split('=')[0]
        .replace(/:.*$/, '')
        .trim(),
    )
    .filter(p => p.length > 0)
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  Boolean(v) && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype

export const inputsOf = (params: string[], args: unknown[]): Record<string, unknown> => {
  if (args.length === 1 && isPlainObject(args[0]) && !simpleIdentifier.test(params[0] ?? '')) return args[0]
  const inputs: Record<string, unknown> = {}
  args.forEach((arg, i) => {
    const name = params[i]
    inputs[name && simpleIdentifier.test(name) ? name : `arg${i}`] = arg
  })
  return inputs
}

const isPromiseLike = (v: unknown): v is PromiseLike<unknown> => Boolean(v) && typeof (v as PromiseLike<unknown>).then === 'function'

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  Boolean(v) && typeof v === 'object' && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' && !isPromiseLike(v)

/** Re-yields a stream and ends the span with everything it produced (strings joined). */
async function* traceStream(span: Span, stream: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const items: unknown[] = []
  try {
    for await (const item of stream) {
      items.push(item)
      yield item
    }
    recordOutput(span, items.every(i => typeof i === 'string') ? items.join('') : items)
  } catch (error) {
    recordError(span, error)
    throw error
  } finally {
    span.end()
  }
}

/**
 * Wraps a function so each call is a span with prompt flow's attributes (function, inputs, output, span_type)
 * and events. Works for sync and async functions and async generators (streams); errors are recorded and
 * rethrown. Without an active pf tracer it costs one no-op span.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function may be traced; its own type is kept as F
export function trace<F extends (...args: any[]) => any>(fn: F, options: TraceOptions = {}): F {
  const name = options.name ?? (fn.name || 'anonymous')
  const spanType = options.spanType ?? 'Function'
  const params = parameterNames(fn)
  const wrapped = function (this: unknown, ...args: unknown[]) {
    return otelTrace.getTracer('promptflow').startActiveSpan(name, span => {
      const recording = span.isRecording()
      if (recording) recordInputs(span, name, spanType, inputsOf(params, args))
      let result: unknown
      try {
        result = fn.apply(this, args)
      } catch (error) {
        if (recording) recordError(span, error)
        span.end()
        throw error
      }
      if (isPromiseLike(result))
        return Promise.resolve(result).then(
          value => {
            if (!isAsyncIterable(value)) {
              if (recording) recordOutput(span, value)
              span.end()
              return value
            }
            return traceStream(span, value)
          },
          error => {
            if (recording) recordError(span, error)
            span.end()
            throw error
          },
        )
      if (isAsyncIterable(result)) return traceStream(span, result)
      if (recording) recordOutput(span, result)
      span.end()
      return result
    })
  }
  Object.defineProperty(wrapped, 'name', {value: name})
  return wrapped as F
}
