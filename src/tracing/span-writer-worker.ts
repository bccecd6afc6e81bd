/**
 * The thread that writes a command's spans to the local store (see span-writer.ts). It receives rows built by
 * `spanRows` (strings: cheap to pass between threads, where span objects cost ≈ 8 µs each to copy). Batches that
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

port.on('message', (first: SpanWriterRequest) => {
  const requests = [first]
  for (let next; requests.at(-1) !== null && (next = receiveMessageOnPort(port));) requests.push(next.message as SpanWriterRequest)
  const batches = requests.filter(request => request !== null)
  if (batches.length > 0) {
    const ids = batches.map(batch => batch.id)
    const rows = batches.reduce((sum, batch) => sum + batch.rows.length, 0)
    try {
      store.recordRows(batches.length === 1 ? batches[0].rows : batches.flatMap(batch => batch.rows), remoteDestinations)
      port.postMessage({ids} satisfies SpanWriterReply)
    } catch (error) {
      const {message, code} = error as {message: string; code?: string}
      port.postMessage({ids, error: {message, ...(code ? {code} : {})}} satisfies SpanWriterReply)
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
