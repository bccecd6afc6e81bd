import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {ensurePrivateDir, pfHome} from '../paths.js'

/*
 * What pf.yaml files parsed to, kept in `<pf home>/cache/config.json` keyed by their text: a command whose config
 * files did not change since an earlier command reads that JSON instead of loading js-yaml and parsing (≈ 3.5 ms of
 * every command's start, docs/benchmarks.md). The same text always parses to the same value, so the text is the
 * whole key. Only values JSON holds exactly are kept (a YAML date or `.nan` is parsed again each time). The file is
 * user-only, as pf.yaml is; one that cannot be read or written is ignored, never an error.
 */

/** Bump when pf parses YAML differently (another js-yaml major, another schema): older entries are then ignored. */
const cacheVersion = 1
const maxEntries = 8

type Entry = [text: string, data: unknown]

const cacheFile = () => path.join(pfHome(), 'cache', 'config.json')

const readEntries = (): Entry[] => {
  try {
    const cache = JSON.parse(readFileSync(cacheFile(), 'utf8')) as {version?: number; entries?: Entry[]}
    return cache.version === cacheVersion && Array.isArray(cache.entries) ? cache.entries : []
  } catch {
    return []
  }
}

/** Plain objects, arrays, strings, finite numbers, booleans and null: what survives a JSON round trip unchanged. */
const isJsonValue = (value: unknown): boolean => {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every(isJsonValue)
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false
  return Object.values(value).every(isJsonValue)
}

/** `parse(text)`'s value, from the cache when this text was parsed before. */
export const parseCached = async (text: string, parse: () => Promise<unknown>): Promise<unknown> => {
  const hit = readEntries().find(([cached]) => cached === text)
  if (hit) return hit[1]
  const data = await parse()
  if (!isJsonValue(data)) return data
  try {
    const file = cacheFile()
    ensurePrivateDir(path.dirname(file))
    // Read again: a pf.yaml parsed meanwhile in this process (the user's and the project's are read together) stays.
    const next = [[text, data], ...readEntries().filter(([cached]) => cached !== text)].slice(0, maxEntries)
    // A whole file or none: another pf may read it meanwhile.
    const temporary = `${file}.${process.pid}.tmp`
    writeFileSync(temporary, JSON.stringify({version: cacheVersion, entries: next}), {mode: 0o600})
    renameSync(temporary, file)
  } catch {
    // A read-only or full disk: the next command parses again.
  }
  return data
}
