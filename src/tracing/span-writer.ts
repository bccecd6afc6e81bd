import path from 'node:path'
import {Worker} from 'node:worker_threads'

import type {SpanRecord} from '../contract/destination.js'
import {type SpanRow, type TraceStore, spanRows} from '../store/store.js'
import type {SpanWriterReply, SpanWriterRequest} from './span-writer-worker.js'

/**
 * Writes span batches to the local store, on a thread of its own once a command has written `threadAfterSpans`
 * spans: the SQLite work (inserts, index pages, commits) then runs beside the traced code instead of between its
 * calls (docs/benchmarks.md: traced calls and the openai call). A thread costs ≈ 30–40 ms to start on the other
 * core, more than a short command (`pf flow test`, a few spans) spends writing, so those write on the calling
 * thread. Batches are written in the order given; `write` resolves once its batch is committed. If the thread
 * cannot start or dies, what it had not committed, and every later batch, is written on the calling thread, so no
 * span is lost to it.
 */
export class SpanWriter {
  private worker: Worker | undefined
  private state: 'inline' | 'thread' | 'thread-gone' = 'inline'
  private spansWritten = 0
  private nextId = 0
  /** Rows sent to the thread, and (shared with it) rows it has done: their difference is its queue. */
  private rowsSent = 0
  private readonly rowsDone = new Int32Array(new SharedArrayBuffer(4))
  /** Batches sent and not yet acknowledged, by id, with whoever waits for them. */
  private readonly unacknowledged = new Map<number, {rows: SpanRow[]; resolve: () => void; reject: (error: Error) => void}>()

  constructor(
    private readonly store: TraceStore,
    private readonly remoteDestinations: string[],
    private readonly options: {threadAfterSpans?: number; maxQueuedRows?: number; workerUrl?: URL} = {},
  ) {}

  /** Resolves once the batch is in the store (rejects with the error of its transaction). */
  write(spans: SpanRecord[]): Promise<void> {
    const rows = spanRows(spans)
    if (this.state === 'inline' && this.spansWritten >= (this.options.threadAfterSpans ?? 512)) this.startThread()
    this.spansWritten += spans.length
    const worker = this.worker
    if (!worker) return this.writeInline(rows)
    const id = this.nextId++
    const written = new Promise<void>((resolve, reject) => this.unacknowledged.set(id, {rows, resolve, reject}))
    // A batch on its way keeps the process alive until it is written (an idle thread does not).
    if (this.unacknowledged.size === 1) worker.ref()
    worker.postMessage({id, rows} satisfies SpanWriterRequest)
    this.rowsSent = (this.rowsSent + rows.length) | 0
    this.waitForRoom()
    return written
  }

  /**
   * Backpressure: while the thread's queue holds more than `maxQueuedRows`, the calling thread sleeps until it
   * shrinks, as it would have spent that time writing inline. Without it a fast producer (a batch run of a trivial
   * flow) outran the writes and queued hundreds of MB. A thread that makes no progress for a second (stuck, or
   * dead) holds it no longer.
   */
  private waitForRoom(): void {
    const max = this.options.maxQueuedRows ?? 4096
    let waitedFor = -1
    let since = 0
    for (;;) {
      const done = Atomics.load(this.rowsDone, 0)
      if (((this.rowsSent - done) | 0) <= max) return
      // No row done for a second: the thread is stuck or gone (its exit event cannot run while this one sleeps).
      if (done !== waitedFor) [waitedFor, since] = [done, Date.now()]
      else if (Date.now() - since >= 1000) return
      Atomics.wait(this.rowsDone, 0, done, 100)
    }
  }

  /** Ends the thread (if one was started) once every batch sent is written, and waits for that. */
  async close(): Promise<void> {
    const worker = this.worker
    if (!worker) return
    this.worker = undefined
    worker.removeAllListeners('exit')
    const ended = new Promise<void>(resolve => worker.once('exit', () => resolve()))
    worker.ref()
    worker.postMessage(null satisfies SpanWriterRequest)
    await ended
    // Acknowledgements arrive before the thread's exit; anything still unacknowledged was not written by it.
    this.fallBack()
  }

  private startThread(): void {
    this.state = 'thread'
    try {
      const worker = new Worker(this.options.workerUrl ?? new URL('span-writer-worker.js', import.meta.url), {
        workerData: {home: path.dirname(this.store.db.name), remoteDestinations: this.remoteDestinations, written: this.rowsDone},
        // The thread runs pf's own modules only: none of the user's flags (--inspect, --cpu-prof) or loader hooks.
        execArgv: [],
      })
      worker.on('message', (reply: SpanWriterReply) => this.acknowledge(reply))
      worker.on('error', () => this.fallBack())
      worker.on('exit', () => this.fallBack())
      worker.unref()
      this.worker = worker
    } catch {
      this.state = 'thread-gone'
    }
  }

  private acknowledge({ids, error}: SpanWriterReply): void {
    for (const id of ids) {
      const waiter = this.unacknowledged.get(id)
      if (!waiter) continue
      this.unacknowledged.delete(id)
      if (error) waiter.reject(Object.assign(new Error(error.message), error.code ? {code: error.code} : {}))
      else waiter.resolve()
    }
    if (this.unacknowledged.size === 0) this.worker?.unref()
  }

  /** The thread is gone: its unwritten batches, in order, and every later one are written on this thread. */
  private fallBack(): void {
    this.worker = undefined
    this.state = 'thread-gone'
    const left = [...this.unacknowledged.values()]
    this.unacknowledged.clear()
    for (const {rows, resolve, reject} of left) this.writeInline(rows).then(resolve, reject)
  }

  private writeInline(rows: SpanRow[]): Promise<void> {
    try {
      this.store.recordRows(rows, this.remoteDestinations)
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }
}
