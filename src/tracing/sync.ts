import {pfHome} from '../paths.js'
import {TraceStore} from '../store/store.js'
import type {ConfigReader, DestinationContext, ResolvedDestination} from '../contract/destination.js'
import {OutboxDrainer} from './outbox.js'
import type {RegistryLoader} from './registry.js'
import type {ExportReport} from './session.js'

export interface SyncOptions {
  /** Only destinations whose configured value or key contains this text. */
  destination?: string
  /** Give up after this many ms; what is left stays pending. */
  timeoutMs: number
  config: ConfigReader
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/** What `pf trace sync` reports per destination. */
export interface SyncReport extends ExportReport {
  /** Whether the current trace.destination still names it (spans waiting for a destination no longer used do not fail sync). */
  configured: boolean
}

const matches = (dest: ResolvedDestination, filter?: string): boolean => !filter || dest.value.includes(filter) || dest.key.includes(filter)

/** Whether `dest` is one of the entries of the current trace.destination (compared as written, case-insensitively). */
const isConfigured = (dest: ResolvedDestination, config: ConfigReader): boolean => {
  const entries = (config.string('trace.destination') ?? 'local').split(',').map(e => e.trim().toLowerCase())
  return entries.includes(dest.value.trim().toLowerCase())
}

/** The destinations with spans waiting (pending or parked) in the outbox, optionally filtered. */
const waitingDestinations = (
  store: TraceStore,
  filter?: string,
  states: Array<'pending' | 'parked'> = ['pending'],
): ResolvedDestination[] => {
  const keys = new Set(
    store
      .outboxCounts()
      .filter(c => states.some(state => c[state] > 0))
      .map(c => c.destination),
  )
  return store.destinations().filter(d => keys.has(d.key) && matches(d, filter))
}

/**
 * Sends what is pending in every remote destination's outbox (`pf trace sync`). Each destination is rebuilt from
 * what the store recorded when spans were queued, so it works whatever the current trace.destination says. The user
 * asked for delivery now: items waiting out a retry delay are due at once, and claims of dead pf processes are
 * taken back.
 */
export const syncOutbox = async (loadRegistry: RegistryLoader, options: SyncOptions): Promise<SyncReport[]> => {
  const env = options.env ?? process.env
  const store = TraceStore.open(pfHome(env))
  try {
    const destinations = waitingDestinations(store, options.destination)
    if (destinations.length === 0) return []
    const registry = await loadRegistry()
    const ctx: DestinationContext = {cwd: options.cwd ?? process.cwd(), config: options.config, env}
    const deadline = Date.now() + options.timeoutMs
    return await Promise.all(
      destinations.map(async (dest): Promise<SyncReport> => {
        const configured = isConfigured(dest, options.config)
        const provider = registry.find(dest.value)
        if (!provider) {
          const pending = store.outboxCounts(dest.key)[0]?.pending ?? 0
          return {
            destination: dest.value,
            configured,
            delivered: 0,
            parked: 0,
            pending,
            lastError: `no installed plugin handles ${dest.scheme}:// any more; reinstall it to send these spans`,
          }
        }
        store.retryNow(dest.key)
        const drainer = new OutboxDrainer(store, dest, () => provider.exporter(dest, ctx))
        const {inFlight, ...result} = await drainer.drainUntil(deadline)
        return {destination: dest.value, configured, ...result, ...(inFlight ? {inFlight} : {})}
      }),
    )
  } finally {
    store.close()
  }
}

/** What discarding would drop (or dropped) per destination. */
export interface DiscardReport {
  destination: string
  key: string
  pending: number
  parked: number
  discarded: boolean
}

/**
 * `pf trace sync --discard <destination>`: drops the spans waiting for destinations whose value or key contains
 * `filter` (e.g. a workspace or collector that is gone for good). The spans stay in the local store. `confirm` sees
 * what would be dropped first; nothing is dropped unless it says yes.
 */
export const discardOutbox = async (
  filter: string,
  confirm: ((preview: DiscardReport[]) => Promise<boolean>) | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DiscardReport[]> => {
  const store = TraceStore.open(pfHome(env))
  try {
    const preview = waitingDestinations(store, filter, ['pending', 'parked']).map(dest => {
      const counts = store.outboxCounts(dest.key)[0]
      return {destination: dest.value, key: dest.key, pending: counts?.pending ?? 0, parked: counts?.parked ?? 0, discarded: false}
    })
    if (preview.length === 0 || (confirm && !(await confirm(preview)))) return preview
    return preview.map(p => {
      store.discardOutbox(p.key)
      return {...p, discarded: true}
    })
  } finally {
    store.close()
  }
}
