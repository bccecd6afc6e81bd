/**
 * The thread that writes a command's spans to the local store (see span-writer.ts). It receives rows built by
 * `spanRows` (arrays of values: cheap to pass between threads, where span objects cost ≈ 10 µs each). Batches that
 * queued while a transaction ran are written together in the next one; each is acknowledged by id once committed,
 * or with the error that stopped its transaction.
 */
import {type MessagePort, parentPort, receiveMessageOnPort, workerData} from 'node:worker_threads'

import {type SpanRow, TraceStore} from '../store/store.js'

/** What the main thread sends: a batch to write, or `null` to close the store and end the thread. */
export type SpanWriterRequest = {id: number; rows: SpanRow[]} | null
/** What this thread answers for every batch id, in order. */
export interface SpanWriterReply {
  ids: number[]
  error?: {message: string; code?: string}
}

const port = parentPort as MessagePort
const {home, remoteDestinations, written} = workerData as {home: string; remoteDestinations: string[]; written: Int32Array}
const store = TraceStore.open(home)

/** Writes rows in one transaction and acknowledges their batches; a refusal is answered only when `final`. */
const write = (ids: number[], rows: SpanRow[], final = false): boolean => {
  try {
    store.recordRows(rows, remoteDestinations)
    port.postMessage({ids} satisfies SpanWriterReply)
    return true
  } catch (error) {
    const {message, code} = error as {message: string; code?: string}
    if (final) port.postMessage({ids, error: {message, ...(code ? {code} : {})}} satisfies SpanWriterReply)
    return false
  }
}

port.on('message', (first: SpanWriterRequest) => {
  const requests = [first]
  for (let next; requests.at(-1) !== null && (next = receiveMessageOnPort(port));) requests.push(next.message as SpanWriterRequest)
  const batches = requests.filter(request => request !== null)
  if (batches.length > 0) {
    const rows = batches.reduce((sum, batch) => sum + batch.rows.length, 0)
    // One transaction for every queued batch; if it is refused, each batch alone, so only a bad one fails.
    if (
      batches.length === 1 ||
      !write(
        batches.map(batch => batch.id),
        batches.flatMap(batch => batch.rows),
      )
    ) {
      for (const batch of batches) write([batch.id], batch.rows, true)
    }
    // Rows done (written or refused) so far, for a caller waiting for room in the queue (SpanWriter.waitForRoom).
    Atomics.add(written, 0, rows)
    Atomics.notify(written, 0)
  }
  if (requests.at(-1) === null) {
    store.close()
    port.close()
  }
})
