/**
 * Span data in the workspace's default datastore, as the reference keeps it: per span `span.json` (the whole
 * span, nothing cut) and one blob per event under `.promptflow/.trace/{collection_id}/{trace_id}/{span_id}/`.
 * Uploads overwrite, so a span sent again (after a crash, a 429, storage down) writes the same blobs.
 */
import pLimit from 'p-limit'

import type {ExportOutcome} from '../../contract/destination.js'
import {isPfError} from '../../errors.js'
import {TransientAzureError} from './control-plane.js'
import {type ReferenceSpan, spanBlobs} from './cosmos-items.js'
import {type DatastoreBlobs, datastoreUri, describeStorageError} from './datastore.js'

export type BlobOutcome = ExportOutcome

/** Uploads in flight at once per process (a batch of 100 spans has at least 100 blobs). */
const maxConcurrentUploads = 48

/**
 * How long one upload may take before it is given up (and retried later): a storage that accepts connections but
 * never answers must not hold the export, and so the command, forever. 30 s, plus 2 s per MB for large spans.
 */
export const uploadTimeoutMs = (bytes: number): number => 30_000 + Math.ceil(bytes / 1_000_000) * 2_000

/** What the outbox does with a span whose blobs failed: wait for the storage, the role or the datastore to be fixed, or give up. */
export const classifyBlobError = (error: unknown): BlobOutcome => {
  const message = `blob storage: ${describeStorageError(error)}`
  if (error instanceof TransientAzureError) return {code: 'retryable', reason: message, retryAfterMs: error.retryAfterMs}
  // A missing role, a non-blob default datastore, a missing container: the user can fix these; the spans wait.
  if (isPfError(error)) return {code: 'retryable', reason: message, retryAfterMs: 10_000}
  const status = (error as {statusCode?: number}).statusCode
  if (status === 404) return {code: 'retryable', reason: message, retryAfterMs: 10_000}
  return {code: 'fatal', reason: message}
}

export class SpanBlobWriter {
  private readonly limit = pLimit(maxConcurrentUploads)

  constructor(private readonly blobs: DatastoreBlobs) {}

  /** `azureml://…/datastores/{default datastore}/paths/`: what the item's URIs start with. */
  async baseUri(): Promise<string> {
    return datastoreUri(this.blobs.workspace, (await this.blobs.datastore()).name)
  }

  /** Writes one span's blobs; `ok` only when every one of them is written. */
  async write(collectionId: string, ref: ReferenceSpan): Promise<BlobOutcome> {
    try {
      await Promise.all(
        spanBlobs(collectionId, ref).map(({path, body}) =>
          this.limit(() =>
            this.blobs.withContainer(container => {
              const data = Buffer.from(body, 'utf8')
              return container.getBlockBlobClient(path).uploadData(data, {
                blobHTTPHeaders: {blobContentType: 'application/json'},
                abortSignal: AbortSignal.timeout(uploadTimeoutMs(data.length)),
              })
            }),
          ),
        ),
      )
      return {code: 'ok'}
    } catch (error) {
      return classifyBlobError(error)
    }
  }
}
