/**
 * pf's destination contract, version 1: what a plugin (built-in or installed) contributes through the oclif hook
 * `trace-destination`. Plugins import these types from `pf/destination` and nothing else from pf.
 *
 * Words: a *destination* is where spans go (`trace.destination` values, resolved to a `ResolvedDestination`);
 * a *provider* is what a plugin contributes for one scheme; an *exporter* is what receives batches of spans.
 */

/** The contract version this pf implements. A provider declares the version it was written for. */
export const destinationContractVersion = 1

/** Schemes pf owns: no plugin may declare them. */
export const builtInSchemes = ['local', 'none', 'azureml'] as const

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

/** A config value as pf stores it (pf.yaml scalars). */
export type ConfigValue = string | number | boolean

/** Reads the effective pf config (the nearest project pf.yaml over the user pf.yaml), key by dotted key. */
export interface ConfigReader {
  /** The value of `key` (e.g. `trace.otlp.headers`), or undefined when unset or not a scalar. */
  get(key: string): ConfigValue | undefined
  /** The value of `key` as text, or undefined when unset. */
  string(key: string): string | undefined
}

/** What pf passes to a provider. */
export interface DestinationContext {
  cwd: string
  /** The flow folder the destination is resolved for, when there is one. */
  flowDir?: string
  config: ConfigReader
  env: NodeJS.ProcessEnv
  /** How long set-time validation may take (e.g. provisioning), in ms. */
  timeoutMs?: number
  /** Reports progress of long validation steps; pf shows it on a TTY only. */
  progress?: (message: string) => void
}

/**
 * A destination value resolved to something an exporter can use. A provider extends it with its own fields
 * (`TraceDestinationProvider<MyDestination>`); pf stores it as JSON for `pf trace sync`, so keep it plain data
 * and free of secrets.
 */
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
}

/**
 * The outcome of exporting spans. `ok`: delivered (an "already exists" counts as delivered). `retryable`: not
 * delivered yet; pf sends it again later, not before `retryAfterMs` when given. `fatal`: will never be accepted;
 * pf parks it with the reason (shown by `pf trace list --pending`).
 */
export type ExportOutcome =
  | {code: 'ok'; /** Delivered, with something worth telling (e.g. the receiver dropped some spans). */ warning?: string}
  | {code: 'retryable'; reason: string; retryAfterMs?: number}
  | {code: 'fatal'; reason: string}

/**
 * The outcome of one `export` call: one outcome for the batch, optionally refined per span (`spans`: span_id →
 * outcome) when a batch partly succeeds. A span without its own entry gets the batch's outcome.
 */
export type ExportResult = ExportOutcome & {spans?: Record<string, ExportOutcome>}

/** What pf knows about a batch besides its spans. */
export interface ExportContext {
  /** How many times each span (by span_id) was sent before this call and not delivered (0 = first try). */
  attempts: Record<string, number>
}

/** Receives batches of finished spans. Must be idempotent: pf may send a span again after a crash. */
export interface SpanExporter {
  export(spans: SpanRecord[], context: ExportContext): Promise<ExportResult>
  shutdown?(): Promise<void>
}

/** An extra config key a plugin declares (e.g. `trace.otlp.headers`). */
export interface ConfigKeySpec {
  key: string
  description: string
  /** Returns the value to store, or throws an Error whose message says what is wrong. */
  parse?(value: string): ConfigValue
}

export interface LinkRef {
  run?: string
  collection: string
  traceId?: string
}

export interface TraceDestinationProvider<D extends ResolvedDestination = ResolvedDestination> {
  /** The contract version the provider was written for: `1` (pf refuses other versions, naming the plugin). */
  contractVersion: number
  /** `otlp`, …: claims the bare value `<scheme>` and values starting with `<scheme>://`. Not local/none/azureml. */
  scheme: string
  description?: string
  /** Accepted forms, shown in errors and help. */
  examples?: string[]
  configKeys?: ConfigKeySpec[]
  /** On `pf config set`: throw an Error with a one-line message when the value is unusable. May provision. */
  validate(value: string, ctx: DestinationContext): Promise<void>
  resolve(value: string, ctx: DestinationContext): Promise<D>
  exporter(dest: D, ctx: DestinationContext): SpanExporter | Promise<SpanExporter>
  /** Links to print after a flow test or run (e.g. a portal URL). */
  links?(dest: D, ref: LinkRef): string[] | Promise<string[]>
}

/**
 * What a `trace-destination` hook returns. A provider typed with its own destination
 * (`TraceDestinationProvider<OtlpDestination>`) is accepted as is: no casts.
 */
export type TraceDestinationHookResult = TraceDestinationProvider | TraceDestinationProvider[]

declare module '@oclif/core' {
  interface Hooks {
    'trace-destination': {options: Record<string, never>; return: TraceDestinationHookResult}
  }
}
