import {chmodSync, existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import type {ConfigReader, ConfigValue} from '../contract/destination.js'
import {PfError} from '../errors.js'
import {ensurePrivateDir, pfHome} from '../paths.js'
import {withFileLock} from '../util/file-lock.js'
import {parseYaml} from '../util/yaml.js'
import {validateConfigData} from './keys.js'
import {parseCached} from './parse-cache.js'

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

/** A pf.yaml holds a handful of keys; anything this big is not a config file. */
export const maxConfigBytes = 256 * 1024
/** Values counted with aliases expanded: YAML aliases can make a small file expand to gigabytes ("billion laughs"). */
const maxConfigNodes = 10_000

/** Throws unless `data` is a finite tree of at most `maxConfigNodes` values (aliases counted as expanded). */
const checkShape = (data: unknown, file: string): void => {
  let nodes = 0
  const ancestors = new Set<unknown>()
  const visit = (node: unknown): void => {
    if (++nodes > maxConfigNodes)
      throw new PfError(
        'config_malformed',
        `${file}: too many values once YAML aliases are expanded (over ${maxConfigNodes}); a pf.yaml holds a few keys — fix or remove the file.`,
      )
    if (!node || typeof node !== 'object') return
    if (ancestors.has(node))
      throw new PfError('config_malformed', `${file}: a YAML alias refers to itself (an alias cycle); fix or remove the file.`)
    ancestors.add(node)
    for (const child of Object.values(node)) visit(child)
    ancestors.delete(node)
  }
  visit(data)
}

/**
 * Reads one pf.yaml. A missing file is empty; a malformed one is an error naming the file and line
 * (pf never rewrites a file it cannot read). With `validate` (the default) every known key's value passes the same
 * checks as `pf config set`; writers skip that so `pf config set/unset` can repair a file with a bad value.
 */
export const readConfigFile = async (file: string, options: {validate?: boolean} = {}): Promise<ConfigData> => {
  let text: string
  try {
    if (statSync(file).size > maxConfigBytes)
      throw new PfError(
        'config_malformed',
        `${file} is larger than ${maxConfigBytes / 1024} KiB; a pf.yaml holds a few keys — fix or remove the file.`,
      )
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof PfError) throw error
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new PfError('config_unreadable', `Cannot read ${file}: ${(error as Error).message}`)
  }
  if (text.trim() === '') return {}
  // Checked for alias cycles and expansion before anything walks it (the cache too).
  const data = await parseCached(text, async () => {
    const parsed = await parseYaml(text, file, 'config_malformed')
    checkShape(parsed, file)
    return parsed
  })
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data))
    throw new PfError(
      'config_malformed',
      `${file}:1 must be a YAML mapping of keys (e.g. "trace:\\n  destination: local"); fix or remove the file.`,
    )
  if (options.validate !== false) validateConfigData(data as ConfigData, file)
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
 * Applies changes to one pf.yaml with an atomic write (`atomically`: a temporary file, fsync, rename; a crash
 * leaves the old file whole) of mode 0600. The file is read and validated first, so a malformed file is reported,
 * never overwritten.
 */
export const writeConfigFile = async (file: string, set: Record<string, unknown>, unset: string[] = []): Promise<void> => {
  ensurePrivateDir(path.dirname(file))
  // Read-modify-write under the file's lock: concurrent `pf config set` runs of different keys all persist.
  await withFileLock(file, async () => {
    const next: ConfigData = structuredClone(await readConfigFile(file, {validate: false}))
    const [{writeFileSync}, {dump}] = await Promise.all([import('atomically'), import('js-yaml')])
    for (const [key, value] of Object.entries(set)) setPath(next, key, value)
    for (const key of unset) deletePath(next, key)
    writeFileSync(file, dump(next), {mode: 0o600})
    // The rename keeps a mode the temporary file got under a permissive umask; make sure it is user-only.
    chmodSync(file, 0o600)
  })
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
