import {pfHome} from '../paths.js'
import {TraceStore} from '../store/store.js'
import type {ConfigReader, DestinationContext} from '../contract/destination.js'
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

/**
 * Sends what is pending in every remote destination's outbox (`pf trace sync`). Each destination is rebuilt from
 * what the store recorded when spans were queued, so it works whatever the current trace.destination says.
 */
export const syncOutbox = async (loadRegistry: RegistryLoader, options: SyncOptions): Promise<ExportReport[]> => {
  const env = options.env ?? process.env
  const store = TraceStore.open(pfHome(env))
  try {
    const pendingKeys = new Set(store.outboxCounts().filter(c => c.pending > 0).map(c => c.destination))
    const destinations = store
      .destinations()
      .filter(d => pendingKeys.has(d.key))
      .filter(d => !options.destination || d.value.includes(options.destination) || d.key.includes(options.destination))
    if (destinations.length === 0) return []
    const registry = await loadRegistry()
    const ctx: DestinationContext = {cwd: options.cwd ?? process.cwd(), config: options.config, env}
    const deadline = Date.now() + options.timeoutMs
    return await Promise.all(
      destinations.map(async dest => {
        const provider = registry.find(dest.value)
        if (!provider) {
          const pending = store.outboxCounts(dest.key)[0]?.pending ?? 0
          return {destination: dest.value, delivered: 0, parked: 0, pending, lastError: `no installed plugin handles ${dest.scheme}:// any more; reinstall it to send these spans`}
        }
        const drainer = new OutboxDrainer(store, dest, () => provider.exporter(dest, ctx))
        return {destination: dest.value, ...(await drainer.drainUntil(deadline))}
      }),
    )
  } finally {
    store.close()
  }
}
