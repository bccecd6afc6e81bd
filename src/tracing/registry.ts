import type {Config} from '@oclif/core'

import {PfError} from '../errors.js'
import type {TraceDestinationProvider} from '../contract/destination.js'

export interface RegisteredProvider extends TraceDestinationProvider {
  /** The plugin that contributed it (for error messages). */
  plugin: string
}

export interface DestinationRegistry {
  providers: RegisteredProvider[]
  /** One line per plugin whose hook failed or returned something unusable; that plugin is skipped. */
  problems: string[]
  find(value: string): RegisteredProvider | undefined
}

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

/** Builds the registry from hook results; separate from oclif so it can be tested on its own. */
export const buildRegistry = (
  successes: Array<{plugin: {name: string}; result: unknown}>,
  failures: Array<{plugin: {name: string}; error: Error}>,
): DestinationRegistry => {
  const providers: RegisteredProvider[] = []
  const problems = failures.map(f => `plugin ${f.plugin.name}: trace-destination hook failed: ${f.error.message}`)
  for (const {plugin, result} of successes) {
    if (result === undefined) continue
    for (const candidate of Array.isArray(result) ? result : [result]) {
      const reason = malformedReason(candidate)
      if (reason) {
        problems.push(`plugin ${plugin.name}: ${reason}; skipped`)
        continue
      }
      const provider = candidate as TraceDestinationProvider
      const taken = providers.find(p => p.scheme.toLowerCase() === provider.scheme.toLowerCase())
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

let cached: Promise<DestinationRegistry> | undefined

/** Collects providers from every plugin (built-ins included) through the `trace-destination` hook. */
export const loadRegistry = (config: Config): Promise<DestinationRegistry> => {
  cached ??= (async () => {
    const {successes, failures} = await config.runHook('trace-destination', {} as Record<string, never>)
    const registry = buildRegistry(successes as any, failures as any)
    for (const problem of registry.problems) process.stderr.write(`Warning: ${problem}\n`)
    return registry
  })()
  return cached
}

/** Splits a `trace.destination` value into its entries; `none` must stand alone. */
export const parseDestinationList = (value: string): string[] => {
  const entries = value
    .split(',')
    .map(v => v.trim())
    .filter(Boolean)
  if (entries.length === 0) throw new PfError('invalid_value', 'trace.destination is empty; use local, none, azureml, or a destination URL.')
  if (entries.length > 1 && entries.some(e => e.toLowerCase() === 'none'))
    throw new PfError('invalid_value', '"none" turns tracing off and cannot be combined with other destinations in trace.destination.')
  return entries
}

/** A destination value fit for messages: credentials written into a URL (`//user:pw@`) are not repeated. */
export const displayDestination = (value: string): string => value.replace(/\/\/[^/@\s]*@/, '//***@')

export const isTracingDisabled = (value: string | undefined): boolean => value?.trim().toLowerCase() === 'none'

/** The error for a destination no plugin claims. */
export const unknownDestinationError = (value: string, registry: DestinationRegistry): PfError => {
  const accepted = ['none', ...registry.providers.flatMap(p => p.examples ?? [p.scheme])]
  return new PfError(
    'unknown_destination',
    `No installed destination accepts trace.destination "${displayDestination(value)}". Accepted: ${accepted.join(', ')}. ` +
      'Run `pf plugins install <package>` to add destinations.',
  )
}
