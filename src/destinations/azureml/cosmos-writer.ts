import type {Container, CosmosClient, JSONObject, OperationInput} from '@azure/cosmos'
import type {HttpClient} from '@azure/core-rest-pipeline'

import {isPfError} from '../../errors.js'
import type {ExportContext, ExportOutcome, ExportResult, SpanExporter, SpanRecord} from '../../contract/destination.js'
import {type ContainerToken, ControlPlane, type TraceContainer, type TransientAzureError, type WorkspaceInfo} from './control-plane.js'
import {type AzureSignIn, type CreatedBy} from './credential.js'
import {
  collectionIdOf,
  collectionItem,
  collectionNameOf,
  evaluationPatch,
  finishedSummaryItem,
  finishedSummaryPatch,
  isAggregationSpan,
  isBatchSpan,
  itemBytesBound,
  mainLineOf,
  mainLineQuery,
  runningStatus,
  referenceSpan,
  runningSummaryItem,
  spanItem,
} from './cosmos-items.js'
import {describeStorageError} from './datastore.js'
import type {SpanBlobWriter} from './span-blobs.js'
import type {WorkspaceTriad} from './workspace.js'

type Outcome = ExportOutcome

const ok: Outcome = {code: 'ok'}
const rank = {ok: 0, retryable: 1, fatal: 2} as const
/** The worse of two outcomes: a span is delivered only when every item it needs is written. */
const worse = (a: Outcome, b: Outcome): Outcome => (rank[b.code] > rank[a.code] ? b : a)

/** Items are plain JSON; the SDK's JSONObject type just does not know their interfaces. */
const asBody = (item: object): JSONObject => item as JSONObject

/** Says which item a failure was about. */
const withContext = (outcome: Outcome, item: string): Outcome =>
  outcome.code === 'ok' ? outcome : {...outcome, reason: `${item}: ${outcome.reason}`}

/** The reference caches a container's resource token 4 minutes; tokens live far longer, so this renews early. */
const tokenTtlMs = 4 * 60_000
const collectionTouchIntervalMs = 10_000
/** Cosmos takes at most 100 operations per batch (or bulk) request. */
const maxBatchOperations = 100
/**
 * A transactional batch request takes at most 2 MB. Items' JSON sizes are bounded from above (itemBytesBound, up to
 * 6× a typical item's size), so a batch within this bound is always within the limit, with room for the operations'
 * own fields; a typical batch of 100 span items bounds at ≈ 1.5 MB.
 */
const maxBatchBytes = 1.75 * 2 ** 20
/**
 * How many times an evaluation line waits for the line it evaluated to appear (finished) in LineSummary before
 * it is delivered without the `evaluations` entry (the base run may have gone to another destination). With the
 * outbox's backoff (0.5 s doubling, capped at 60 s) this is about two minutes of sending.
 */
export const maxEvaluationAttempts = 8

/** Per-operation status of a Cosmos bulk response → what the outbox does with the span. */
export const classifyStatus = (status: number, create: boolean, retryAfterMs?: number): Outcome => {
  if (status >= 200 && status < 300) return ok
  if (status === 409 && create) return ok // already written (an earlier attempt got through)
  if (status === 429) return {code: 'retryable', reason: 'Cosmos DB throttled the write (HTTP 429)', retryAfterMs}
  if (status === 408 || status === 410 || status === 424 || status === 449 || status >= 500)
    return {code: 'retryable', reason: `Cosmos DB answered HTTP ${status}`}
  return {code: 'fatal', reason: `Cosmos DB rejected the item (HTTP ${status})`}
}

type Settle = (ids: string[], outcome: Outcome) => void
/** What the SDK answers for each operation of a batch or bulk request. */
type OperationResult = {statusCode: number; retryAfterMilliseconds?: number}

interface PlannedOp {
  op: OperationInput
  /** Span ids whose delivery depends on this operation. */
  spans: string[]
  /** When the create finds the item there (409): the partial update to apply to it instead. */
  onConflict?: {id: string; partitionKey: string; operations: Array<{op: 'set'; path: string; value: unknown}>}
}

/**
 * Operations → transactional batches: grouped by partition key (a batch addresses one), in order, each at most
 * maxBatchOperations and maxBatchBytes (by an upper bound of the items' JSON).
 */
export const batchesOf = <T extends {op: OperationInput}>(planned: T[]): T[][] => {
  const byKey = new Map<unknown, T[]>()
  for (const p of planned) {
    const key = p.op.partitionKey
    const group = byKey.get(key)
    if (group) group.push(p)
    else byKey.set(key, [p])
  }
  const batches: T[][] = []
  for (const group of byKey.values()) {
    let batch: T[] = []
    let bytes = 0
    for (const p of group) {
      const size = itemBytesBound((p.op as {resourceBody: object}).resourceBody)
      if (batch.length === maxBatchOperations || (batch.length > 0 && bytes + size > maxBatchBytes)) {
        batches.push(batch)
        batch = []
        bytes = 0
      }
      batch.push(p)
      bytes += size
    }
    if (batch.length > 0) batches.push(batch)
  }
  return batches
}

/**
 * Writes spans to a workspace: first each span's data to the default datastore (span.json and its events, see
 * span-blobs.ts), then `Span` items (create; 409 = already there), `LineSummary` items
 * (placeholder create from child spans; the root span creates the finished line, or sets its fields on an existing
 * item so its `evaluations` stay; an evaluation line's root also sets its entry in the evaluated line's
 * `evaluations`) and `Collection` items (not for batch runs), through Cosmos transactional batches (bulk requests
 * for what a failed batch leaves) with per-container resource tokens from the flow service.
 * Every item id is derived from the span, so sending a span again never duplicates anything.
 */
export class CosmosSpanExporter implements SpanExporter {
  private client: Promise<{cosmos: CosmosClient; databaseName: string}> | undefined
  private readonly tokens = new Map<TraceContainer, {token: Promise<ContainerToken>; fetchedAt: number}>()
  /** Collection items created (or being created) by this process: one create per collection, not per batch. */
  private readonly collectionsCreated = new Map<string, Promise<void>>()
  /** Traces whose LineSummary item this process already wrote: no more placeholders for them. */
  private readonly summariesWritten = new Set<string>()
  private readonly collectionsTouchedAt = new Map<string, number>()
  private readonly controlPlane: ControlPlane
  /** Until when Cosmos asked us to hold off (its last 429's retry-after), ms epoch. */
  private throttledUntil = 0

  constructor(
    private readonly workspace: WorkspaceTriad,
    private readonly info: () => Promise<WorkspaceInfo>,
    private readonly signIn: AzureSignIn,
    env: NodeJS.ProcessEnv,
    /** Where span data goes (the workspace's default datastore); without it items carry their events (cut). */
    private readonly spanBlobs?: SpanBlobWriter,
  ) {
    this.controlPlane = new ControlPlane(signIn, env)
  }

  async export(spans: SpanRecord[], context?: ExportContext): Promise<ExportResult> {
    let createdBy: CreatedBy
    let database: {cosmos: CosmosClient; databaseName: string}
    try {
      createdBy = await this.signIn.createdBy()
      database = await this.connect()
    } catch (error) {
      this.client = undefined
      return {code: 'retryable', reason: describeError(error), retryAfterMs: (error as TransientAzureError).retryAfterMs}
    }
    const db = database.cosmos.database(database.databaseName)
    const objectId = createdBy.object_id

    // Span data first: a span's item is written only once its blobs are, so the item never points at nothing.
    const outcomes = new Map<string, Outcome>(spans.map(s => [s.context.span_id, ok]))
    const settle: Settle = (ids, outcome) => {
      for (const id of ids) outcomes.set(id, worse(outcomes.get(id) ?? ok, outcome))
    }
    const prepared = spans.map(span => {
      const collectionId = collectionIdOf(span, objectId)
      return {span, collectionId, ref: referenceSpan(span, collectionId)}
    })
    let blobBaseUri: string | undefined
    if (this.spanBlobs) {
      try {
        blobBaseUri = await this.spanBlobs.baseUri()
      } catch (error) {
        return {
          code: 'retryable',
          reason: `blob storage: ${describeStorageError(error)}`,
          retryAfterMs: (error as TransientAzureError).retryAfterMs,
        }
      }
      await Promise.all(
        prepared.map(async ({span, collectionId, ref}) => {
          const outcome = await this.spanBlobs!.write(collectionId, ref)
          if (outcome.code !== 'ok') settle([span.context.span_id], outcome)
        }),
      )
    }

    const spanOps: PlannedOp[] = []
    const summaryOps: PlannedOp[] = []
    const placeholders = new Map<string, PlannedOp>()
    const rootsInBatch = new Set(spans.filter(s => s.parent_id === null).map(s => s.context.trace_id))
    const collections = new Map<string, {name: string; spans: string[]}>()
    const evaluations: Array<{root: SpanRecord; collectionId: string}> = []

    for (const {span, collectionId, ref} of prepared) {
      const spanId = span.context.span_id
      // Blobs not written: nothing of this span goes to Cosmos now; the whole span is sent again.
      if (outcomes.get(spanId)!.code !== 'ok') continue
      spanOps.push({
        op: {
          operationType: 'Create',
          partitionKey: collectionId,
          resourceBody: asBody(spanItem(ref, collectionId, createdBy, blobBaseUri)),
        },
        spans: [spanId],
      })
      const traceId = span.context.trace_id
      if (isAggregationSpan(span)) {
        // An aggregation node belongs to no line: no LineSummary item, no evaluation entry.
      } else if (span.parent_id === null) {
        // Create, or set the finished fields on the existing item: an upsert would wipe its `evaluations`.
        const item = finishedSummaryItem(span, collectionId, createdBy)
        summaryOps.push({
          op: {operationType: 'Create', partitionKey: collectionId, resourceBody: asBody(item)},
          spans: [spanId],
          onConflict: {id: item.id, partitionKey: collectionId, operations: finishedSummaryPatch(item)},
        })
        if (mainLineOf(span)) evaluations.push({root: span, collectionId})
      } else if (!rootsInBatch.has(traceId) && !this.summariesWritten.has(traceId)) {
        const placeholder = placeholders.get(traceId)
        if (placeholder) placeholder.spans.push(spanId)
        else {
          const planned = {
            op: {
              operationType: 'Create',
              partitionKey: collectionId,
              resourceBody: asBody(runningSummaryItem(span, collectionId, createdBy)),
            },
            spans: [spanId],
          } as PlannedOp
          placeholders.set(traceId, planned)
          summaryOps.push(planned)
        }
      }
      if (!isBatchSpan(span)) {
        const entry = collections.get(collectionId) ?? {name: collectionNameOf(span), spans: []}
        entry.spans.push(spanId)
        collections.set(collectionId, entry)
      }
    }

    const traceOf = new Map(spans.map(s => [s.context.span_id, s.context.trace_id]))
    await Promise.all([
      this.write(db.container('Span'), 'Span', spanOps, settle),
      this.write(db.container('LineSummary'), 'LineSummary', summaryOps, settle),
      ...[...collections].map(async ([id, {name, spans: ids}]) =>
        settle(ids, await this.touchCollection(db.container('Collection'), id, name, createdBy)),
      ),
      ...evaluations.map(async ({root, collectionId}) => {
        const id = root.context.span_id
        settle([id], await this.recordEvaluation(db.container('LineSummary'), root, collectionId, createdBy, context?.attempts?.[id] ?? 0))
      }),
    ])

    // Only an optimization (a placeholder create is harmless), so it is kept small for long batch runs.
    if (this.summariesWritten.size > 10_000) this.summariesWritten.clear()
    for (const planned of summaryOps)
      if (planned.spans.every(id => outcomes.get(id)?.code === 'ok')) this.summariesWritten.add(traceOf.get(planned.spans[0])!)

    // Every span has its own outcome; the batch's is the worst of them (for callers that look at it alone).
    const spansOutcome = Object.fromEntries(outcomes)
    return {...[...outcomes.values()].reduce(worse, ok), spans: spansOutcome}
  }

  async shutdown(): Promise<void> {
    const client = await this.client?.catch(() => undefined)
    client?.cosmos.dispose()
  }

  /**
   * Sets `evaluations/<evaluation>` on the LineSummary item of the line an evaluation line evaluated. That line
   * may not be there yet (its run still exporting): retried, up to maxEvaluationAttempts, then the evaluation
   * line is delivered without the entry rather than held forever.
   */
  private async recordEvaluation(
    container: Container,
    root: SpanRecord,
    collectionId: string,
    createdBy: CreatedBy,
    attempts: number,
  ): Promise<Outcome> {
    const ref = mainLineOf(root)!
    const {partitionKey, ...query} = mainLineQuery(ref)
    const what = 'batchRunId' in ref ? `line ${ref.lineNumber} of run ${ref.batchRunId}` : `line run ${ref.lineRunId}`
    const waitOrGiveUp = (reason: string): Outcome =>
      attempts + 1 >= maxEvaluationAttempts
        ? ok
        : {code: 'retryable', reason: `LineSummary: evaluation waits for the evaluated line: ${reason}`}
    try {
      const {resources} = await container.items
        .query<{id: string; partition_key: string; status: string}>(query, partitionKey === undefined ? {} : {partitionKey})
        .fetchAll()
      const main = resources.find(r => r.status !== runningStatus)
      if (!main) return waitOrGiveUp(resources.length > 0 ? `${what} is still running` : `${what} is not in the trace store yet`)
      await container.item(main.id, main.partition_key).patch(evaluationPatch(root, collectionId, createdBy))
      return ok
    } catch (error) {
      const code = (error as {code?: number | string}).code
      // Gone between the query and the patch: as if not there yet.
      if (code === 404) return waitOrGiveUp(`${what} is not in the trace store yet`)
      if (typeof code === 'number') {
        const outcome = classifyStatus(code, false, (error as {retryAfterInMs?: number}).retryAfterInMs)
        return withContext(outcome, 'LineSummary (evaluation)')
      }
      this.tokens.delete('LineSummary')
      return {code: 'retryable', reason: `LineSummary (evaluation): ${describeError(error)}`}
    }
  }

  /**
   * Sends operations as transactional batches: one request per partition key of at most 100 operations and
   * maxBatchBytes. The SDK's bulk path hashes every operation's partition key and stringifies every item once more to
   * measure it (≈ 35–40 µs an item of client CPU, 10k items measured); a batch hashes its partition key once and sends
   * its body as it is. A batch is all or nothing: when one operation fails (a create that finds its item there, an
   * item Cosmos rejects), the others answer 424, were not applied, and are sent at once in bulk, each on its own.
   */
  private async write(container: Container, name: TraceContainer, planned: PlannedOp[], settle: Settle): Promise<void> {
    await Promise.all(batchesOf(planned).map(batch => this.writeBatch(container, name, batch, settle)))
  }

  private async writeBatch(container: Container, name: TraceContainer, batch: PlannedOp[], settle: Settle): Promise<void> {
    let responses: OperationResult[]
    try {
      // Copies: the SDK rewrites an operation's partition key in place, and a failed batch sends them again in bulk.
      const partitionKey = batch[0].op.partitionKey as string
      responses =
        (
          await container.items.batch(
            batch.map(p => ({...p.op}) as OperationInput),
            partitionKey,
          )
        ).result ?? []
    } catch (error) {
      return this.requestFailed(name, batch, error, settle)
    }
    const answers = batch.map((p, i) => ({p, response: responses[i] as OperationResult | undefined}))
    const failed = answers.find(({response}) => response && response.statusCode >= 300 && response.statusCode !== 424)
    const failure = failed && classifyStatus(failed.response!.statusCode, true, failed.response!.retryAfterMilliseconds)
    // Throttled or unavailable: nothing was applied, and sending the rest again now would not help.
    if (failure?.code === 'retryable') {
      for (const p of batch) settle(p.spans, withContext(failure, name))
      return
    }
    const notApplied = answers.filter(({response}) => response?.statusCode === 424).map(({p}) => p)
    await Promise.all([
      this.settleAnswered(
        container,
        name,
        answers.filter(({response}) => response?.statusCode !== 424),
        settle,
      ),
      notApplied.length > 0 ? this.bulk(container, name, notApplied, settle) : undefined,
    ])
  }

  /** Sends operations in one bulk request (Cosmos takes at most 100), each applied or failing on its own. */
  private async bulk(container: Container, name: TraceContainer, planned: PlannedOp[], settle: Settle): Promise<void> {
    let responses: OperationResult[]
    try {
      responses = (await container.items.bulk(
        planned.map(p => p.op),
        {continueOnError: true},
      )) as OperationResult[]
    } catch (error) {
      return this.requestFailed(name, planned, error, settle)
    }
    await this.settleAnswered(
      container,
      name,
      planned.map((p, i) => ({p, response: responses[i]})),
      settle,
    )
  }

  /**
   * Each operation's answer → its spans' outcome; a create that found its item there and has a partial update for
   * it (the finished line over a placeholder) applies it, one request each: not every Cosmos speaks Patch in bulk or
   * batch (the emulator does not).
   */
  private async settleAnswered(
    container: Container,
    name: TraceContainer,
    answers: Array<{p: PlannedOp; response: OperationResult | undefined}>,
    settle: Settle,
  ): Promise<void> {
    const conflicts: PlannedOp[] = []
    for (const {p, response} of answers) {
      if (!response) {
        settle(p.spans, {code: 'retryable', reason: `no answer for a ${name} item`})
        continue
      }
      if (response.statusCode === 409 && p.onConflict) {
        conflicts.push(p)
        continue
      }
      const outcome = classifyStatus(response.statusCode, p.op.operationType === 'Create', response.retryAfterMilliseconds)
      settle(p.spans, withContext(outcome, name))
    }
    await Promise.all(conflicts.map(async p => settle(p.spans, await this.patchItem(container, name, p.onConflict!))))
  }

  /**
   * The request as a whole failed (throttled past the SDK's own retries, 503, connection lost, timeout, token
   * refused): nothing in it is known to be written; all of it is sent again later.
   */
  private requestFailed(name: TraceContainer, planned: PlannedOp[], error: unknown, settle: Settle): void {
    this.tokens.delete(name)
    const message = describeError(error)
    const retryAfterMs = this.throttledUntil > Date.now() ? this.throttledUntil - Date.now() : undefined
    for (const p of planned) settle(p.spans, {code: 'retryable', reason: `${name}: ${message}`, retryAfterMs})
  }

  private async patchItem(container: Container, name: TraceContainer, patch: NonNullable<PlannedOp['onConflict']>): Promise<Outcome> {
    try {
      await container.item(patch.id, patch.partitionKey).patch(patch.operations)
      return ok
    } catch (error) {
      const code = (error as {code?: number | string}).code
      // The item the create collided with is gone: the next attempt creates it.
      if (code === 404) return {code: 'retryable', reason: `${name}: the item to update disappeared (HTTP 404)`}
      if (typeof code === 'number') {
        const outcome = classifyStatus(code, false, (error as {retryAfterInMs?: number}).retryAfterInMs)
        return withContext(outcome, name)
      }
      this.tokens.delete(name)
      return {code: 'retryable', reason: `${name}: ${describeError(error)}`}
    }
  }

  /** Creates the Collection item once (409 = exists) and bumps its `updated_at`. */
  private async touchCollection(container: Container, id: string, name: string, createdBy: CreatedBy): Promise<Outcome> {
    try {
      let created = this.collectionsCreated.get(id)
      if (!created) {
        created = (async () => {
          try {
            await container.items.create(collectionItem(id, name, createdBy))
          } catch (error) {
            if ((error as {code?: number}).code !== 409) throw error
          }
        })()
        this.collectionsCreated.set(id, created)
        created.catch(() => this.collectionsCreated.delete(id))
      }
      await created
      // `updated_at` has second granularity and only orders collections in the portal: bump it at most every 10 s.
      const now = Date.now()
      if (now - (this.collectionsTouchedAt.get(id) ?? 0) >= collectionTouchIntervalMs) {
        this.collectionsTouchedAt.set(id, now)
        await container
          .item(id, id)
          .patch([
            {op: 'replace', path: '/name', value: name},
            {op: 'replace', path: '/updated_at', value: Math.floor(now / 1000)},
          ])
          .catch(error => {
            this.collectionsTouchedAt.delete(id)
            throw error
          })
      }
      return ok
    } catch (error) {
      const code = (error as {code?: number | string}).code
      if (typeof code === 'number') {
        const outcome = classifyStatus(code, false, (error as {retryAfterInMs?: number}).retryAfterInMs)
        return withContext(outcome, 'Collection')
      }
      this.tokens.delete('Collection')
      return {code: 'retryable', reason: `Collection: ${describeError(error)}`}
    }
  }

  /** The Cosmos account of the workspace, found through the Span container's resource token. */
  private connect(): Promise<{cosmos: CosmosClient; databaseName: string}> {
    this.client ??= (async () => {
      const first = await this.containerToken('Span')
      const {CosmosClient, createDefaultHttpClient} = await import('./azure-sdk.js')
      // The SDK folds a failed bulk request into a plain Error; watching responses keeps the 429's retry-after.
      const transport = createDefaultHttpClient()
      const httpClient: HttpClient = {
        sendRequest: async request => {
          const response = await transport.sendRequest(request)
          if (response.status === 429) {
            const ms = Number(response.headers.get('x-ms-retry-after-ms') ?? Number.NaN)
            this.throttledUntil = Math.max(this.throttledUntil, Date.now() + (Number.isFinite(ms) && ms >= 0 ? ms : 1000))
          }
          return response
        },
      }
      const cosmos = new CosmosClient({
        endpoint: first.accountEndpoint,
        httpClient,
        // Each request carries the resource token of the container it addresses; tokens renew on their own.
        tokenProvider: async ({path}) => (await this.containerToken(containerOfPath(path) ?? 'Span')).resourceToken,
        connectionPolicy: {
          requestTimeout: 30_000,
          // The SDK honours a whole-request 429's retry-after a few times; beyond that the outbox retries later.
          retryOptions: {maxRetryAttemptCount: 3, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 15},
        },
      })
      return {cosmos, databaseName: first.databaseName}
    })()
    return this.client
  }

  private async containerToken(name: TraceContainer): Promise<ContainerToken> {
    const cached = this.tokens.get(name)
    if (cached && Date.now() - cached.fetchedAt < tokenTtlMs) return cached.token
    const token = (async () => this.controlPlane.containerToken(this.workspace, await this.info(), name))()
    this.tokens.set(name, {token, fetchedAt: Date.now()})
    token.catch(() => {
      if (this.tokens.get(name)?.token === token) this.tokens.delete(name)
    })
    return token
  }
}

const containers: TraceContainer[] = ['Span', 'LineSummary', 'Collection']

/** `/dbs/{db}/colls/{container}/…` → the container (the account read has no path). */
export const containerOfPath = (path: string): TraceContainer | undefined => {
  const segments = path.replace(/^\/+/, '').split('/')
  const name = segments[0] === 'dbs' && segments[2] === 'colls' ? decodeURIComponent(segments[3] ?? '') : ''
  return containers.find(c => c === name)
}

/** One line, no secrets: Cosmos and fetch errors can be long; tokens never appear in them. */
const describeError = (error: unknown): string => {
  if (isPfError(error)) return error.message
  const err = error as {code?: unknown; message?: string; cause?: {code?: string}}
  const code = err.cause?.code ?? (typeof err.code === 'string' || typeof err.code === 'number' ? err.code : undefined)
  const message = String(err.message ?? error)
    .split('\n')[0]
    .slice(0, 300)
  return code !== undefined && !message.includes(String(code)) ? `${message} (${code})` : message
}
