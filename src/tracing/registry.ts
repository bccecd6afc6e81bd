import {
  type ResolvedDestination,
  type TraceDestinationProvider,
  builtInSchemes,
  destinationContractVersion,
} from '../contract/destination.js'
import {PfError} from '../errors.js'

export interface RegisteredProvider extends TraceDestinationProvider {
  /** The plugin that contributed it (for error messages). */
  plugin: string
}

export interface DestinationRegistry {
  providers: RegisteredProvider[]
  /** One line per plugin whose hook failed or returned something unusable; that plugin is skipped. */
  problems: string[]
  /** The provider of a remote destination value; `local` and `none` are pf's own and have none. */
  find(value: string): RegisteredProvider | undefined
}

/** What running every plugin's `trace-destination` hook gave: results by plugin, and the hooks that failed. */
export interface HookResults {
  successes: Array<{plugin: {name: string}; result: unknown}>
  failures: Array<{plugin: {name: string}; error: unknown}>
}

/** Runs the hooks (through oclif in commands, or pf's own plugin discovery in a user's process). */
export type ProviderSource = () => Promise<HookResults>

/** Gives the registry, built once per process on first use: services take this instead of loading plugins themselves. */
export type RegistryLoader = () => Promise<DestinationRegistry>

/** The package whose hook registers the built-in providers (pf itself). */
export const corePluginName = 'pf'

/** How long one plugin's hook may take before it is reported and skipped. */
export const hookTimeoutMs = 5_000

const requiredFunctions = ['validate', 'resolve', 'exporter'] as const

const malformedReason = (candidate: unknown): string | undefined => {
  if (!candidate || typeof candidate !== 'object') return 'returned a value that is not a destination provider'
  const provider = candidate as Record<string, unknown>
  if (typeof provider.scheme !== 'string' || !/^[a-z][a-z0-9+.-]*$/i.test(provider.scheme))
    return 'returned a provider without a valid `scheme`'
  const missing = requiredFunctions.filter(name => typeof provider[name] !== 'function')
  if (missing.length > 0) return `returned provider "${provider.scheme}" without ${missing.join(', ')}`
  return undefined
}

const versionReason = (provider: TraceDestinationProvider): string | undefined => {
  const declared = (provider as {contractVersion?: unknown}).contractVersion
  if (declared === destinationContractVersion) return undefined
  if (typeof declared === 'number' && declared > destinationContractVersion)
    return `provider "${provider.scheme}" needs destination contract v${declared}, this pf has v${destinationContractVersion}: upgrade pf`
  const what =
    declared === undefined
      ? 'declares no contractVersion (written before contract v1)'
      : `declares contractVersion ${JSON.stringify(declared)}`
  return `provider "${provider.scheme}" ${what}; pf needs v${destinationContractVersion}: upgrade the plugin (pf plugins install <name>@latest)`
}

/** A thrown value as text: plugins may throw strings or other non-Errors. */
export const describeThrown = (error: unknown): string => {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** A provider's `resolve` answer, checked: a plugin that returns nothing usable is named, not followed. */
export const checkedDestination = (value: unknown, provider: RegisteredProvider): ResolvedDestination => {
  const dest = value as ResolvedDestination | null | undefined
  if (!dest || typeof dest !== 'object' || typeof dest.key !== 'string' || dest.key === '' || typeof dest.value !== 'string')
    throw new PfError(
      'plugin_failed',
      `plugin ${provider.plugin}: resolve() for scheme "${provider.scheme}" returned ${describeThrown(value)} instead of a destination {scheme, value, key}; fix or uninstall the plugin.`,
      1,
    )
  return dest
}

/** Builds the registry from hook results; separate from oclif so it can be tested on its own. */
export const buildRegistry = ({successes, failures}: HookResults): DestinationRegistry => {
  const providers: RegisteredProvider[] = []
  const problems = failures.map(f => `plugin ${f.plugin.name}: trace-destination hook failed: ${describeThrown(f.error)}; skipped`)
  for (const {plugin, result} of successes) {
    if (result === undefined) continue
    for (const candidate of Array.isArray(result) ? result : [result]) {
      const reason = malformedReason(candidate)
      if (reason) {
        problems.push(`plugin ${plugin.name}: ${reason}; skipped`)
        continue
      }
      const provider = candidate as TraceDestinationProvider
      const scheme = provider.scheme.toLowerCase()
      if (plugin.name !== corePluginName && (builtInSchemes as readonly string[]).includes(scheme)) {
        problems.push(`plugin ${plugin.name}: scheme "${provider.scheme}" is built into pf and cannot be provided by a plugin; skipped`)
        continue
      }
      const incompatible = versionReason(provider)
      if (incompatible) {
        problems.push(`plugin ${plugin.name}: ${incompatible}; skipped`)
        continue
      }
      const taken = providers.find(p => p.scheme.toLowerCase() === scheme)
      if (taken) {
        problems.push(`plugin ${plugin.name}: scheme "${provider.scheme}" is already provided by ${taken.plugin}; skipped`)
        continue
      }
      providers.push(Object.assign(Object.create(provider), provider, {plugin: plugin.name}))
    }
  }
  return {
    providers,
    problems,
    find(value: string) {
      const lower = value.trim().toLowerCase()
      return providers.find(p => {
        const scheme = p.scheme.toLowerCase()
        return lower === scheme || lower.startsWith(scheme + '://')
      })
    },
  }
}

/** A registry loader that runs `source` once, on first use, and reports plugin problems on stderr. */
export const registryLoader = (source: ProviderSource): RegistryLoader => {
  let loaded: Promise<DestinationRegistry> | undefined
  return () =>
    (loaded ??= source().then(results => {
      const registry = buildRegistry(results)
      for (const problem of registry.problems) process.stderr.write(`Warning: ${problem}\n`)
      return registry
    }))
}

/** `local` is the store itself (always written); it is valid in trace.destination but has no provider. */
export const isLocalDestination = (value: string): boolean => value.trim().toLowerCase() === 'local'

/** Splits a `trace.destination` value into its entries; `none` must stand alone. */
export const parseDestinationList = (value: string): string[] => {
  const entries = value
    .split(',')
    .map(v => v.trim())
    .filter(Boolean)
  if (entries.length === 0)
    throw new PfError('invalid_value', 'trace.destination is empty; use local, none, azureml, or a destination URL.')
  if (entries.length > 1 && entries.some(e => e.toLowerCase() === 'none'))
    throw new PfError('invalid_value', '"none" turns tracing off and cannot be combined with other destinations in trace.destination.')
  return entries
}

/** A destination value fit for messages: credentials written into a URL (`//user:pw@`) are not repeated. */
export const displayDestination = (value: string): string => value.replace(/\/\/[^/@\s]*@/, '//***@')

export const isTracingDisabled = (value: string | undefined): boolean => value?.trim().toLowerCase() === 'none'

/** The error for a destination no plugin claims. */
export const unknownDestinationError = (value: string, registry: DestinationRegistry): PfError => {
  const accepted = ['local', 'none', ...registry.providers.flatMap(p => p.examples ?? [p.scheme])]
  return new PfError(
    'unknown_destination',
    `No installed destination accepts trace.destination "${displayDestination(value)}". Accepted: ${accepted.join(', ')}. ` +
      'Run `pf plugins install <package>` to add destinations.',
  )
}
