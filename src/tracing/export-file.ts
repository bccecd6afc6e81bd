import {chmodSync, createWriteStream, renameSync, rmSync} from 'node:fs'
import path from 'node:path'
import type {Writable} from 'node:stream'

import {pfHome} from '../paths.js'
import {TraceStore} from '../store/store.js'
import {PfError} from '../errors.js'
import type {SpanRecord} from '../contract/destination.js'
import {spanTimeMicros} from '../util/span-time.js'

export const exportFormats = ['jsonl', 'otlp-json'] as const
export type ExportFormat = (typeof exportFormats)[number]

export interface ExportFileOptions {
  format: ExportFormat
  collection?: string
  run?: string
  /** A file to write (user-only); stdout when undefined. */
  output?: string
  env?: NodeJS.ProcessEnv
  stdout?: Writable
}

export interface ExportFileReport {
  format: ExportFormat
  spans: number
  /** The file written, or null for stdout. */
  output: string | null
}

// OTLP/JSON (ExportTraceServiceRequest, proto3 JSON mapping as OpenTelemetry JS writes it: hex ids, times as
// nanosecond strings, enum values as numbers).

type AnyValue =
  | {stringValue: string}
  | {boolValue: boolean}
  | {intValue: number}
  | {doubleValue: number}
  | {arrayValue: {values: AnyValue[]}}
  | {kvlistValue: {values: KeyValue[]}}
  | Record<string, never>
type KeyValue = {key: string; value: AnyValue}

export const toAnyValue = (value: unknown): AnyValue => {
  if (typeof value === 'string') return {stringValue: value}
  if (typeof value === 'boolean') return {boolValue: value}
  if (typeof value === 'number') return Number.isInteger(value) ? {intValue: value} : {doubleValue: value}
  if (Array.isArray(value)) return {arrayValue: {values: value.map(toAnyValue)}}
  if (value && typeof value === 'object') return {kvlistValue: {values: toKeyValues(value as Record<string, unknown>)}}
  return {}
}

const toKeyValues = (attributes: Record<string, unknown>): KeyValue[] =>
  Object.entries(attributes).map(([key, value]) => ({key, value: toAnyValue(value)}))

const nanos = (time: string): string => (BigInt(spanTimeMicros(time)) * 1000n).toString()

const otlpKinds: Record<string, number> = {
  'SpanKind.INTERNAL': 1,
  'SpanKind.SERVER': 2,
  'SpanKind.CLIENT': 3,
  'SpanKind.PRODUCER': 4,
  'SpanKind.CONSUMER': 5,
}
const otlpStatus: Record<string, number> = {Unset: 0, Ok: 1, Error: 2}

/** One span record as an OTLP/JSON span. */
export const toOtlpSpan = (span: SpanRecord) => ({
  traceId: span.context.trace_id,
  spanId: span.context.span_id,
  ...(span.parent_id ? {parentSpanId: span.parent_id} : {}),
  ...(span.context.trace_state ? {traceState: span.context.trace_state} : {}),
  name: span.name,
  kind: otlpKinds[span.kind] ?? 0,
  startTimeUnixNano: nanos(span.start_time),
  endTimeUnixNano: nanos(span.end_time),
  attributes: toKeyValues(span.attributes),
  droppedAttributesCount: 0,
  events: span.events.map(e => ({
    name: e.name,
    timeUnixNano: nanos(e.timestamp),
    attributes: toKeyValues(e.attributes ?? {}),
    droppedAttributesCount: 0,
  })),
  droppedEventsCount: 0,
  status: span.status.description
    ? {code: otlpStatus[span.status.status_code] ?? 0, message: span.status.description}
    : {code: otlpStatus[span.status.status_code] ?? 0},
  links: span.links.map(l => ({
    traceId: l.context.trace_id,
    spanId: l.context.span_id,
    attributes: toKeyValues(l.attributes ?? {}),
    droppedAttributesCount: 0,
  })),
  droppedLinksCount: 0,
})

export const otlpScope = {name: 'promptflow'}

/**
 * Writes OTLP/JSON incrementally: spans arrive ordered by collection, and each run of spans with the same
 * resource becomes one resourceSpans entry, so the document is never built in memory.
 */
class OtlpJsonWriter {
  private resourceKey: string | undefined
  private first = true

  constructor(private readonly write: (text: string) => Promise<void>) {}

  async begin(): Promise<void> {
    await this.write('{"resourceSpans":[')
  }

  async span(span: SpanRecord): Promise<void> {
    const key = JSON.stringify(span.resource)
    let text = ''
    if (key !== this.resourceKey) {
      if (this.resourceKey !== undefined) text += ']}]},'
      const resource = {attributes: toKeyValues(span.resource.attributes), droppedAttributesCount: 0}
      const schemaUrl = span.resource.schema_url ? `,"schemaUrl":${JSON.stringify(span.resource.schema_url)}` : ''
      text += `{"resource":${JSON.stringify(resource)}${schemaUrl},"scopeSpans":[{"scope":${JSON.stringify(otlpScope)},"spans":[`
      this.resourceKey = key
      this.first = true
    }
    text += (this.first ? '' : ',') + JSON.stringify(toOtlpSpan(span))
    this.first = false
    await this.write(text)
  }

  async end(): Promise<void> {
    await this.write((this.resourceKey === undefined ? '' : ']}]}') + ']}\n')
  }
}

/** The reader went away (e.g. `pf trace export … | head`): stop quietly, like any Unix filter. */
class ReaderGone extends Error {}

/** Writes text honouring back-pressure (a slow pipe or disk never makes pf buffer the whole export). */
const writerFor = (stream: Writable) => {
  let gone = false
  stream.on('error', error => {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') gone = true
  })
  return (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (gone) reject(new ReaderGone())
      else if (stream.write(text)) resolve()
      else {
        const onDrain = () => {
          stream.off('error', onError)
          resolve()
        }
        const onError = (error: Error) => {
          stream.off('drain', onDrain)
          reject(error)
        }
        stream.once('drain', onDrain)
        stream.once('error', onError)
      }
    })
}

/**
 * `pf trace export`: streams the selected spans from the local store as JSON lines (one SpanRecord each) or as
 * one OTLP/JSON ExportTraceServiceRequest. A file is written user-only, through a temporary name, so a failed
 * export never leaves half a file under the requested name.
 */
export const exportTraces = async (options: ExportFileOptions): Promise<ExportFileReport> => {
  if (!exportFormats.includes(options.format))
    throw new PfError('invalid_arguments', `--format "${options.format}" is not supported; use ${exportFormats.join(' or ')}.`)
  const output = options.output ? path.resolve(options.output) : undefined
  const store = TraceStore.openExisting(pfHome(options.env))
  const temp = output ? `${output}.${process.pid}.tmp` : undefined
  let stream: Writable
  if (temp) {
    const file = createWriteStream(temp, {mode: 0o600})
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve())
      file.once('error', error => reject(new PfError('output_unwritable', `Cannot write ${output}: ${error.message}`)))
    })
    stream = file
  } else stream = options.stdout ?? process.stdout
  const write = writerFor(stream)
  let count = 0
  try {
    const spans = store ? store.iterateSpans({collection: options.collection, run: options.run}) : ([] as SpanRecord[])
    if (options.format === 'jsonl') {
      for (const span of spans) {
        await write(JSON.stringify(span) + '\n')
        count++
      }
    } else {
      const otlp = new OtlpJsonWriter(write)
      await otlp.begin()
      for (const span of spans) {
        await otlp.span(span)
        count++
      }
      await otlp.end()
    }
    if (temp) {
      await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())))
      chmodSync(temp, 0o600)
      renameSync(temp, output!)
    }
  } catch (error) {
    if (error instanceof ReaderGone || (error as NodeJS.ErrnoException).code === 'EPIPE')
      return {format: options.format, spans: count, output: null}
    if (temp) {
      stream.destroy()
      rmSync(temp, {force: true})
    }
    throw error
  } finally {
    store?.close()
  }
  return {format: options.format, spans: count, output: output ?? null}
}
