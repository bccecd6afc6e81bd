import {chmodSync, existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {ConfigReader, ConfigValue} from '../contract/destination.js'
import {PfError} from '../errors.js'
import {ensurePrivateDir, pfHome} from '../paths.js'
import {parseYaml} from '../util/yaml.js'

export const configFileName = 'pf.yaml'

export const userConfigPath = (env: NodeJS.ProcessEnv = process.env): string => path.join(pfHome(env), configFileName)

/** The nearest project pf.yaml found walking up from `cwd` (the user file itself does not count). */
export const findProjectConfig = (cwd: string, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const userFile = userConfigPath(env)
  let dir = path.resolve(cwd)
  for (;;) {
    const candidate = path.join(dir, configFileName)
    if (candidate !== userFile && existsSync(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

export type ConfigData = Record<string, unknown>

/**
 * Reads one pf.yaml. A missing file is empty; a malformed one is an error naming the file and line
 * (pf never rewrites a file it cannot read).
 */
export const readConfigFile = async (file: string): Promise<ConfigData> => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new PfError('config_unreadable', `Cannot read ${file}: ${(error as Error).message}`)
  }
  if (text.trim() === '') return {}
  const data = await parseYaml(text, file, 'config_malformed')
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data))
    throw new PfError('config_malformed', `${file}:1 must be a YAML mapping of keys (e.g. "trace:\\n  destination: local"); fix or remove the file.`)
  return data as ConfigData
}

export const getPath = (data: ConfigData, key: string): unknown => {
  let node: unknown = data
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object') return undefined
    node = (node as ConfigData)[part]
  }
  return node
}

/** The typed getter pf and plugins read config through (no dotted lookups by hand). */
export const configReader = (data: ConfigData): ConfigReader => {
  const get = (key: string): ConfigValue | undefined => {
    const value = getPath(data, key)
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined
  }
  return {
    get,
    string(key: string) {
      const value = get(key)
      return value === undefined ? undefined : String(value)
    },
  }
}

const isPlainObject = (v: unknown): v is ConfigData => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

/** Deep merge: `over` wins key by key. */
export const mergeConfig = (base: ConfigData, over: ConfigData): ConfigData => {
  const out: ConfigData = {...base}
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeConfig(out[k] as ConfigData, v) : v
  return out
}

/**
 * Applies changes to one pf.yaml with `conf` (atomic write: a crash leaves the old file whole; mode 0600).
 * The file is read and validated first, so a malformed file is reported, never overwritten.
 */
export const writeConfigFile = async (file: string, set: Record<string, unknown>, unset: string[] = []): Promise<void> => {
  await readConfigFile(file)
  ensurePrivateDir(path.dirname(file))
  const {default: Conf} = await import('conf')
  const {dump, load} = await import('js-yaml')
  const store = new Conf<ConfigData>({
    cwd: path.dirname(file),
    configName: path.basename(file, '.yaml'),
    fileExtension: 'yaml',
    serialize: value => dump(value),
    deserialize: text => (load(text) ?? {}) as ConfigData,
    configFileMode: 0o600,
    clearInvalidConfig: false,
  })
  const next: ConfigData = structuredClone(store.store)
  for (const [key, value] of Object.entries(set)) setPath(next, key, value)
  for (const key of unset) deletePath(next, key)
  store.store = next
  // conf keeps an existing file's mode on rename targets it did not create; make sure it is user-only.
  chmodSync(file, 0o600)
}

const setPath = (data: ConfigData, key: string, value: unknown): void => {
  const parts = key.split('.')
  let node = data
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {}
    node = node[part] as ConfigData
  }
  node[parts.at(-1)!] = value
}

/** Deletes a key and any parent mapping it leaves empty (so `trace: {}` does not linger). */
const deletePath = (data: ConfigData, key: string): void => {
  const [head, ...rest] = key.split('.')
  if (rest.length === 0) {
    delete data[head]
    return
  }
  const child = data[head]
  if (!isPlainObject(child)) return
  deletePath(child, rest.join('.'))
  if (Object.keys(child).length === 0) delete data[head]
}
