import type {TraceStore} from '../store/store.js'
import type {ExportResult, ResolvedDestination, SpanExporter} from '../contract/destination.js'
import {describeThrown} from './registry.js'

export interface DrainOptions {
  batchSize?: number
  /** Batches in flight at once. */
  concurrency?: number
  /** How long a claimed batch stays reserved for this process (a crashed process's claim then expires). */
  leaseMs?: number
  /** Retry delay cap. */
  maxBackoffMs?: number
}

export interface DrainResult {
  delivered: number
  parked: number
  pending: number
}

/** Resolves at `deadline` (ms epoch); `cancel` clears the timer so it holds nothing open. */
const sleepUntil = (deadline: number): {done: Promise<void>; cancel: () => void} => {
  let timer: NodeJS.Timeout | undefined
  const done = new Promise<void>(resolve => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))
  return {done, cancel: () => clearTimeout(timer)}
}

const outcomeCodes = new Set(['ok', 'retryable', 'fatal'])

/**
 * A plugin's answer, checked: anything that is not a valid ExportResult (nothing, a string, an unknown code) is
 * retried with a reason naming what came back, so a broken exporter never marks spans delivered.
 */
export const checkedResult = (value: unknown): ExportResult => {
  const result = value as ExportResult | undefined
  if (!result || typeof result !== 'object' || !outcomeCodes.has(result.code))
    return {
      code: 'retryable',
      reason: `the exporter returned ${describeThrown(value)} instead of an ExportResult ({code: 'ok' | 'retryable' | 'fatal'})`,
    }
  if (result.code !== 'ok' && typeof result.reason !== 'string') return {...result, reason: `${result.code} (no reason given)`}
  return result
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped, times 0.5–1. */
export const backoffMs = (attempts: number, cap: number): number => Math.min(cap, 500 * 2 ** attempts) * (0.5 + Math.random() / 2)

/**
 * Sends one remote destination's outbox through its sink. Every outcome is written back to the store, so a
 * crash at any point loses nothing: unsent items stay pending (their claim expires) and are sent again later;
 * sinks are idempotent, so a resend never duplicates.
 */
export class OutboxDrainer {
  private running: Promise<void> | undefined
  private wanted = false
  private delivered = 0
  private parked = 0
  private lastError: string | undefined
  /**
   * Set when `drainUntil` gave up at its deadline with exports still in flight: their answers are dropped (the items
   * stay claimed by this process, which releases them at once for the next pf process when it exits) and the store
   * is not touched again.
   */
  private abandoned = false
  /** Wakes idle workers when a batch is settled: items claimed by a sibling worker may have become due again. */
  private wake: {promise: Promise<void>; resolve: () => void} | undefined

  constructor(
    private readonly store: TraceStore,
    readonly destination: ResolvedDestination,
    private readonly exporter: () => SpanExporter | Promise<SpanExporter>,
    private readonly options: DrainOptions = {},
  ) {}

  /** Starts (or continues) sending in the background; cheap to call after every recorded batch. */
  kick(): void {
    this.wanted = true
    this.running ??= this.loop(Number.POSITIVE_INFINITY, false).finally(() => {
      this.running = undefined
    })
  }

  /**
   * Sends until nothing is pending or `deadline` (ms epoch) passes, waiting out retry delays that end before
   * the deadline. Returns what was delivered and parked by this drainer, and what is still pending.
   */
  async drainUntil(deadline: number): Promise<DrainResult & {lastError?: string; inFlight?: boolean}> {
    // A destination that never answers must not hold the command past its deadline (an export has no time limit pf
    // controls): the wait is a race between the work and the clock.
    const clock = sleepUntil(deadline)
    const work = (async () => {
      if (this.running) await this.running
      if (!this.abandoned) this.releaseDeadClaims()
      if (!this.abandoned) await this.loop(deadline, true)
    })()
    const finished = await Promise.race([work.then(() => true), clock.done.then(() => false)])
    clock.cancel()
    if (!finished) {
      this.abandoned = true
      work.catch(() => {})
    }
    const counts = this.store.outboxCounts(this.destination.key)[0]
    return {
      delivered: this.delivered,
      parked: this.parked,
      pending: counts?.pending ?? 0,
      lastError: this.lastError ?? (finished ? undefined : 'no answer before the wait ended'),
      ...(finished ? {} : {inFlight: true}),
    }
  }

  private lastRelease = 0

  /** Takes back dead processes' claims, at most once a second (it scans the destination's pending items). */
  private releaseDeadClaims(): boolean {
    if (Date.now() - this.lastRelease < 1000) return false
    this.lastRelease = Date.now()
    return this.store.releaseDeadClaims(this.destination.key) > 0
  }

  private async sleepUnlessSettled(ms: number): Promise<void> {
    if (!this.wake) {
      let resolve!: () => void
      const promise = new Promise<void>(r => (resolve = r))
      this.wake = {promise, resolve}
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([new Promise(resolve => (timer = setTimeout(resolve, ms))), this.wake.promise])
    clearTimeout(timer)
  }

  private async loop(deadline: number, waitForRetries: boolean): Promise<void> {
    let exporter: SpanExporter
    try {
      exporter = await this.exporter()
      if (!exporter || typeof exporter.export !== 'function')
        throw new Error(`exporter() returned ${describeThrown(exporter)} instead of {export(spans)}`)
    } catch (error) {
      // Nothing was claimed: the spans stay pending with the reason, for a later command or `pf trace sync`.
      this.lastError = `cannot start exporting: ${describeThrown(error)}`
      return
    }
    const workers = Array.from({length: this.options.concurrency ?? 4}, () => this.worker(exporter, deadline, waitForRetries))
    await Promise.all(workers)
  }

  private async worker(exporter: SpanExporter, deadline: number, waitForRetries: boolean): Promise<void> {
    const key = this.destination.key
    while (Date.now() < deadline && !this.abandoned) {
      this.wanted = false
      const items = this.store.claimOutbox(key, this.options.batchSize ?? 100, this.options.leaseMs ?? 60_000)
      if (items.length === 0) {
        if (this.wanted) continue
        // Items claimed by a pf process that died (SIGKILL, crash) are due now, not when its lease ends.
        if (this.releaseDeadClaims()) continue
        if (!waitForRetries) return
        const due = this.store.nextDue(key)
        if (due === undefined || due >= deadline) return
        // A sibling's claim also counts as "due later"; do not sleep out its lease, wake when it settles.
        await this.sleepUnlessSettled(Math.max(10, Math.min(due - Date.now(), deadline - Date.now())))
        continue
      }
      let result: ExportResult
      try {
        result = checkedResult(
          await exporter.export(
            items.map(i => i.span),
            {attempts: Object.fromEntries(items.map(i => [i.spanId, i.attempts]))},
          ),
        )
      } catch (error) {
        result = {code: 'retryable', reason: error instanceof Error ? error.message : `export threw ${describeThrown(error)}`}
      }
      if (this.abandoned) return
      const now = Date.now()
      const cap = this.options.maxBackoffMs ?? 60_000
      const outcomes = items.map(item => {
        const own = result.spans?.[item.spanId] ?? result
        const note = own.code === 'ok' ? own.warning : own.reason
        if (note) this.lastError = note
        if (own.code === 'ok') return {traceId: item.traceId, spanId: item.spanId, outcome: 'delivered' as const}
        if (own.code === 'fatal') return {traceId: item.traceId, spanId: item.spanId, outcome: 'parked' as const, error: own.reason}
        const asked = own.retryAfterMs ?? (result.code === 'retryable' ? result.retryAfterMs : undefined)
        const retryAt = now + (asked ?? backoffMs(item.attempts, cap))
        return {
          traceId: item.traceId,
          spanId: item.spanId,
          outcome: 'retry' as const,
          error: own.reason,
          retryAt,
          notBefore: asked === undefined ? undefined : retryAt,
        }
      })
      this.store.settleOutbox(key, outcomes)
      this.wake?.resolve()
      this.wake = undefined
      for (const o of outcomes) {
        if (o.outcome === 'delivered') this.delivered++
        else if (o.outcome === 'parked') this.parked++
      }
      // An exporter that answers at once (a destination that is down) makes this loop promise-only: without a turn
      // of the event loop, timers (the wait's deadline, the batch flush) and signals would never run again.
      await new Promise(resolve => setImmediate(resolve))
    }
  }
}
