import {existsSync, statSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../errors.js'
import type {ConfigReader, DestinationContext} from '../contract/destination.js'
import type {RegistryLoader} from '../tracing/registry.js'
import {
  type ConfigData,
  configFileName,
  configReader,
  findProjectConfig,
  getPath,
  mergeConfig,
  readConfigFile,
  userConfigPath,
  writeConfigFile,
} from './files.js'
import {type ConfigKey, coreKeys, findCoreKey, leafKeys, unknownKeyError, validateConfigData} from './keys.js'

export interface LoadedConfig {
  merged: ConfigData
  /** Typed reads of the merged config. */
  reader: ConfigReader
  user: {path: string; data: ConfigData}
  project?: {path: string; data: ConfigData}
}

export interface ConfigValue {
  key: string
  value: unknown
  /** Which file the value comes from, or `default`/`unset`. */
  source: 'project' | 'user' | 'default' | 'unset'
  path?: string
}

/** A key written to one pf.yaml while another file (a project pf.yaml nearer the current folder) decides its value. */
export interface Shadowed {
  key: string
  /** The file that wins here, and the value it gives the key. */
  path: string
  value: unknown
  source: 'project' | 'user'
}

export interface SetOptions {
  /** Folder whose pf.yaml to write (a project config); default: the user file. */
  path?: string
  timeoutMs?: number
  progress?: (message: string) => void
}

/** Reads the user pf.yaml and the nearest project pf.yaml (walking up from `cwd`), merged with the project winning. */
export const loadConfig = async (
  cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
  /** `validate: false` only for writers, so `pf config set/unset` can repair a file holding an invalid value. */
  options: {validate?: boolean} = {},
): Promise<LoadedConfig> => {
  const userPath = userConfigPath(env)
  const projectPath = findProjectConfig(cwd, env)
  const [user, project] = await Promise.all([
    readConfigFile(userPath, options),
    projectPath ? readConfigFile(projectPath, options) : undefined,
  ])
  const merged = project ? mergeConfig(user, project) : user
  return {
    merged,
    reader: configReader(merged),
    user: {path: userPath, data: user},
    project: project && projectPath ? {path: projectPath, data: project} : undefined,
  }
}

/**
 * pf.yaml: the user file under the pf home, and the nearest project pf.yaml walking up from the current
 * folder, merged with the project winning. Values are validated per key before anything is written.
 */
export class ConfigService {
  constructor(
    private readonly registry: RegistryLoader,
    private readonly cwd: string = process.cwd(),
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Like `loadConfig`, with the installed plugins' keys checked too (their parsers run on the values in the files). */
  async load(options: {validate?: boolean} = {}): Promise<LoadedConfig> {
    const loaded = await loadConfig(this.cwd, this.env, options)
    if (options.validate !== false) await this.validatePluginKeys(loaded)
    return loaded
  }

  /** Keys core does not know are checked with the installed plugins' parsers (plugins load only when such keys exist). */
  private async validatePluginKeys({user, project}: LoadedConfig): Promise<void> {
    const files = [user, ...(project ? [project] : [])]
    const core = new Set(coreKeys.map(k => k.key))
    if (!files.some(({data}) => leafKeys(data).some(key => !core.has(key)))) return
    const pluginKeys = (await this.registry()).providers.flatMap(p => p.configKeys ?? [])
    for (const {path: file, data} of files) validateConfigData(data, file, pluginKeys as ConfigKey[])
  }

  async get(key: string): Promise<ConfigValue> {
    const spec = await this.keySpec(key)
    return resolveKey(await this.load(), key, spec.default)
  }

  /** Every key set in either file (and every core key's default), with its effective value and where it comes from. */
  async sources(): Promise<ConfigValue[]> {
    const loaded = await this.load()
    const keys = new Set([
      ...leafKeys(loaded.user.data),
      ...leafKeys(loaded.project?.data ?? {}),
      ...coreKeys.filter(k => k.default !== undefined).map(k => k.key),
    ])
    return [...keys].sort().map(key => resolveKey(loaded, key, findCoreKey(key)?.default))
  }

  async show(): Promise<ConfigData> {
    return (await this.load()).merged
  }

  /** The keys among `keys` whose effective value here comes from a file other than `file`. */
  async shadowed(keys: string[], file: string): Promise<Shadowed[]> {
    const loaded = await this.load()
    return keys
      .map(key => resolveKey(loaded, key))
      .filter(v => v.path !== undefined && path.resolve(v.path) !== path.resolve(file))
      .map(v => ({key: v.key, path: v.path!, value: v.value, source: v.source as Shadowed['source']}))
  }

  async set(pairs: string[], options: SetOptions = {}): Promise<{path: string; values: ConfigData; shadowed: Shadowed[]}> {
    if (pairs.length === 0)
      throw new PfError('invalid_arguments', 'Nothing to set; pass KEY=VALUE, e.g. pf config set trace.destination=local.')
    const file = this.targetFile(options.path)
    const parsed: Array<[string, string]> = pairs.map(pair => {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new PfError('invalid_arguments', `"${pair}" is not KEY=VALUE; e.g. pf config set trace.destination=local.`)
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1)]
    })
    // Every value is checked before the file is touched: one bad pair writes nothing.
    const values: ConfigData = {}
    const context = await this.destinationContext({...options, validate: false})
    for (const [key, raw] of parsed) {
      const spec = await this.keySpec(key)
      values[key] = spec.destination ? await this.validateDestination(raw, context) : spec.parse ? parseValue(spec, raw) : raw
    }
    await writeConfigFile(file, values)
    return {path: file, values, shadowed: await this.shadowed(Object.keys(values), file)}
  }

  async unset(keys: string[], options: {path?: string} = {}): Promise<{path: string; removed: string[]; shadowed: Shadowed[]}> {
    if (keys.length === 0) throw new PfError('invalid_arguments', 'Nothing to unset; pass a KEY, e.g. pf config unset trace.destination.')
    for (const key of keys) await this.keySpec(key)
    const file = this.targetFile(options.path)
    const data = await readConfigFile(file, {validate: false})
    const removed = keys.filter(key => getPath(data, key) !== undefined)
    if (removed.length > 0) await writeConfigFile(file, {}, removed)
    return {path: file, removed, shadowed: await this.shadowed(keys, file)}
  }

  /** Validates a trace.destination value through the registry and returns the value to store. */
  async validateDestination(raw: string, context: DestinationContext): Promise<string> {
    const {describeThrown, displayDestination, isLocalDestination, parseDestinationList, unknownDestinationError} =
      await import('../tracing/registry.js')
    const entries = parseDestinationList(raw)
    if (entries.length === 1 && entries[0].toLowerCase() === 'none') return 'none'
    const registry = await this.registry()
    const normalized: string[] = []
    for (const entry of entries) {
      if (isLocalDestination(entry)) {
        normalized.push('local')
        continue
      }
      const provider = registry.find(entry)
      if (!provider) throw unknownDestinationError(entry, registry)
      try {
        await provider.validate(entry, context)
      } catch (error) {
        if (error instanceof PfError) throw error
        throw new PfError('invalid_value', `${displayDestination(entry)} (plugin ${provider.plugin}): ${describeThrown(error)}`)
      }
      normalized.push(entry.toLowerCase() === provider.scheme.toLowerCase() ? provider.scheme : entry)
    }
    return normalized.join(',')
  }

  async destinationContext(
    options: {timeoutMs?: number; progress?: (m: string) => void; flowDir?: string; validate?: boolean} = {},
  ): Promise<DestinationContext> {
    const {reader} = await this.load({validate: options.validate})
    return {
      cwd: this.cwd,
      flowDir: options.flowDir,
      config: reader,
      env: this.env,
      timeoutMs: options.timeoutMs,
      progress: options.progress,
    }
  }

  /** Core keys first; plugin keys need the registry, so it is loaded only for a key core does not know. */
  private async keySpec(key: string): Promise<ConfigKey> {
    const core = findCoreKey(key)
    if (core) return core
    const registry = await this.registry()
    const pluginKeys = registry.providers.flatMap(p => p.configKeys ?? [])
    const found = pluginKeys.find(k => k.key === key)
    if (found) return found
    // A plugin may declare one key on several providers (pf-trace-otlp: otlp and otlp+json); name it once.
    throw unknownKeyError(key, [...new Set([...coreKeys.map(k => k.key), ...pluginKeys.map(k => k.key)])])
  }

  private targetFile(dir?: string): string {
    if (dir === undefined) return userConfigPath(this.env)
    const folder = path.resolve(this.cwd, dir)
    if (!existsSync(folder) || !statSync(folder).isDirectory())
      throw new PfError('invalid_path', `--path ${dir}: ${folder} is not an existing folder; create it first or pass another folder.`)
    return path.join(folder, configFileName)
  }
}

/** The effective value of `key`: the project file over the user file over the default. */
const resolveKey = (loaded: LoadedConfig, key: string, fallback?: unknown): ConfigValue => {
  const fromProject = loaded.project && getPath(loaded.project.data, key)
  if (fromProject !== undefined && loaded.project) return {key, value: fromProject, source: 'project', path: loaded.project.path}
  const fromUser = getPath(loaded.user.data, key)
  if (fromUser !== undefined) return {key, value: fromUser, source: 'user', path: loaded.user.path}
  if (fallback !== undefined) return {key, value: fallback, source: 'default'}
  return {key, value: null, source: 'unset'}
}

/** A plugin's key parser throws a plain Error (the contract); it is bad input like any other invalid value. */
const parseValue = (spec: ConfigKey, raw: string): unknown => {
  try {
    return spec.parse!(raw)
  } catch (error) {
    if (error instanceof PfError) throw error
    throw new PfError('invalid_value', `Invalid value for ${spec.key}: ${error instanceof Error ? error.message : String(error)}`)
  }
}
