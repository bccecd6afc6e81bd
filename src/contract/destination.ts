/**
 * The trace-destination contract: what a plugin (built-in or installed) contributes through the oclif hook
 * `trace-destination`. Plugins import these types from `pf/destination` and nothing else from pf.
 */

/** A finished span, as stored locally and handed to exporters (prompt flow's span JSON shape). */
export interface SpanRecord {
  name: string
  context: {trace_id: string; span_id: string; trace_state: string}
  kind: string
  parent_id: string | null
  /** ISO 8601 UTC with microseconds, e.g. 2026-11-26T05:30:30.123456Z */
  start_time: string
  end_time: string
  status: {status_code: 'Ok' | 'Error' | 'Unset'; description?: string}
  attributes: Record<string, unknown>
  events: Array<{name: string; timestamp: string; attributes: Record<string, unknown>}>
  links: Array<{context: {trace_id: string; span_id: string}; attributes: Record<string, unknown>}>
  resource: {attributes: Record<string, unknown>; schema_url: string}
}

/** What pf passes to a provider. `config` is the merged pf config (a plugin reads its own keys there). */
export interface DestinationContext {
  cwd: string
  /** The flow folder the destination is resolved for, when there is one. */
  flowDir?: string
  config: Record<string, unknown>
  env: NodeJS.ProcessEnv
  /** How long set-time validation may take (e.g. provisioning), in ms. */
  timeoutMs?: number
  /** Reports progress of long validation steps; pf shows it on a TTY only. */
  progress?: (message: string) => void
}

/** A destination value resolved to something an exporter can use. */
export interface ResolvedDestination {
  scheme: string
  /** The configured value it came from. */
  value: string
  /**
   * A stable key naming where spans go (e.g. the workspace id). The outbox is kept per key, so two values
   * that resolve to the same place share one outbox.
   */
  key: string
  /** Resource attributes spans get when this destination is active (e.g. the workspace triad). */
  resource?: Record<string, string>
  [field: string]: unknown
}

/**
 * The outcome of one export call. `ok`: every span is delivered (an "already exists" counts as delivered).
 * `retryable`: nothing or part was delivered; pf retries the rest later (honouring retryAfterMs).
 * `fatal`: these spans will never be accepted; pf parks them with the reason.
 * Per-span outcomes may be given in `spans` (span_id → outcome) when a batch partly succeeds.
 */
export interface ExportResult {
  code: 'ok' | 'retryable' | 'fatal'
  error?: string
  retryAfterMs?: number
  spans?: Record<string, {code: 'ok' | 'retryable' | 'fatal'; error?: string}>
}

/** What pf knows about a batch besides its spans. */
export interface ExportContext {
  /** How many times each span (by span_id) was sent before this call and not delivered (0 = first try). */
  attempts: Record<string, number>
}

/** Receives batches of finished spans. Must be idempotent: pf may send a span again after a crash. */
export interface SpanSink {
  export(spans: SpanRecord[], context?: ExportContext): Promise<ExportResult>
  shutdown?(): Promise<void>
}

/** An extra config key a plugin declares (e.g. `trace.otlp.headers`). */
export interface ConfigKeySpec {
  key: string
  description: string
  /** Returns the value to store, or throws an Error whose message says what is wrong. */
  parse?(value: string): unknown
}

export interface LinkRef {
  run?: string
  collection: string
  traceId?: string
}

export interface TraceDestinationProvider {
  /** `azureml`, `otlp`, …: claims the bare value `<scheme>` and values starting with `<scheme>://`. */
  scheme: string
  description?: string
  /** Accepted forms, shown in errors and help. */
  examples?: string[]
  configKeys?: ConfigKeySpec[]
  /** Local destinations (the SQLite store) are written in the span's own transaction, not through an outbox. */
  local?: boolean
  /** On `pf config set`: throw an Error with a one-line message when the value is unusable. May provision. */
  validate(value: string, ctx: DestinationContext): Promise<void>
  resolve(value: string, ctx: DestinationContext): Promise<ResolvedDestination>
  exporter(dest: ResolvedDestination, ctx: DestinationContext): SpanSink | Promise<SpanSink>
  links?(dest: ResolvedDestination, ref: LinkRef): string[] | Promise<string[]>
}

/** What a `trace-destination` hook returns. */
export type TraceDestinationHookResult = TraceDestinationProvider | TraceDestinationProvider[]

declare module '@oclif/core' {
  interface Hooks {
    'trace-destination': {options: Record<string, never>; return: TraceDestinationHookResult}
  }
}
