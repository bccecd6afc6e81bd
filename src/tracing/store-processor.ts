import type {Context} from '@opentelemetry/api'
import type {ReadableSpan, Span, SpanProcessor} from '@opentelemetry/sdk-trace-base'

import type {TraceStore} from '../destinations/local/store.js'
import type {SpanRecord} from './destination.js'
import {currentLineAttributes} from './line-context.js'
import {type TokenCounts, ownUsage, toSpanRecord} from './span-record.js'

const addCounts = (a: TokenCounts | undefined, b: TokenCounts | undefined): TokenCounts | undefined =>
  !a ? b : !b ? a : {completion: a.completion + b.completion, prompt: a.prompt + b.prompt, total: a.total + b.total}

/**
 * Records every finished span in the local store, with an outbox row for each remote destination in the same
 * transaction. Spans are written in batches (on size, on a short timer, and on flush/shutdown) so a traced
 * call does not pay a transaction each.
 */
export class StoreSpanProcessor implements SpanProcessor {
  private buffer: SpanRecord[] = []
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  /** Token counts reported by finished children, waiting for their parent to end. */
  private readonly childUsage = new Map<string, TokenCounts>()

  constructor(
    private readonly store: TraceStore,
    private readonly remoteDestinations: string[],
    private readonly options: {maxBatch?: number; flushIntervalMs?: number; onRecorded?: (spans: SpanRecord[]) => void} = {},
  ) {}

  onStart(span: Span, parentContext: Context): void {
    const line = currentLineAttributes(parentContext)
    if (line) span.setAttributes(line)
  }

  onEnd(span: ReadableSpan): void {
    const spanId = span.spanContext().spanId
    const cumulative = addCounts(ownUsage(span.attributes as Record<string, unknown>), this.childUsage.get(spanId))
    this.childUsage.delete(spanId)
    const parentId = span.parentSpanContext?.spanId
    if (parentId && cumulative) this.childUsage.set(parentId, addCounts(this.childUsage.get(parentId), cumulative)!)
    this.buffer.push(toSpanRecord(span, cumulative))
    // A root span ends a line: write it as soon as the current I/O round is done, so the line is visible (and
    // exportable) without waiting, and lines of a batch run that end together share one transaction.
    if (this.buffer.length >= (this.options.maxBatch ?? 512)) this.flushNow()
    else if (!parentId) this.immediate ??= setImmediate(() => this.flushNow())
    else this.timer ??= setTimeout(() => this.flushNow(), this.options.flushIntervalMs ?? 200).unref()
  }

  flushNow(): void {
    if (this.timer) clearTimeout(this.timer)
    if (this.immediate) clearImmediate(this.immediate)
    this.timer = undefined
    this.immediate = undefined
    if (this.buffer.length === 0) return
    const batch = this.buffer
    this.buffer = []
    this.store.recordSpans(batch, this.remoteDestinations)
    this.options.onRecorded?.(batch)
  }

  async forceFlush(): Promise<void> {
    this.flushNow()
  }

  async shutdown(): Promise<void> {
    this.flushNow()
  }
}
