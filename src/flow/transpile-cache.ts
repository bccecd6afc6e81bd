import {createHash} from 'node:crypto'
import {existsSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import Module, {createRequire} from 'node:module'
import path from 'node:path'

import {ensurePrivateDir, pfHome} from '../paths.js'

// A TypeScript flow entry costs its start-up mostly in loading tsx and esbuild, even when tsx's own transform cache
// hits. This keeps tsx's output for a self-contained entry (no other TypeScript file in its require graph) under
// <pf home>/cache/transpiled/<content hash>.js (0600 in a 0700 folder): the next run compiles that JavaScript
// directly and loads tsx only if something still needs it (a TypeScript file required later, a failed resolve).

const typescriptFile = /\.(c|m)?tsx?$/
const keptEntries = 256

type CjsModule = Module & {_compile(code: string, filename: string): void; filename: string; paths: string[]; loaded: boolean}
type ModuleStatics = {
  _cache: Record<string, Module>
  _nodeModulePaths(dir: string): string[]
  _resolveFilename(request: string, ...rest: unknown[]): string
  _extensions: Record<string, (module: Module, filename: string) => void>
}
const cjs = Module as unknown as ModuleStatics & {prototype: CjsModule}

const cacheDir = (): string => path.join(pfHome(), 'cache', 'transpiled')

let toolVersions: string | undefined
/** tsx's version and Node's: tsx's output depends on both (it targets the running Node). */
const versions = (): string => (toolVersions ??= `${createRequire(import.meta.url)('tsx/package.json').version}|${process.versions.node}`)

/** The nearest tsconfig.json's text (tsx reads it for the transform), or '' when there is none. */
const nearestTsconfig = (file: string): string => {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'tsconfig.json')
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8')
    if (path.dirname(dir) === dir) return ''
  }
}

/** Content address of one entry's transform: the tools, the file's path (its source map names it), its text and its tsconfig. */
export const transpileKey = (file: string, source: string): string =>
  createHash('sha256')
    .update(versions())
    .update('\0')
    .update(file)
    .update('\0')
    .update(source)
    .update('\0')
    .update(nearestTsconfig(file))
    .digest('hex')

let fallbacksInstalled = false

/**
 * Before a cached entry runs without tsx: anything that still needs tsx gets it on first need. A `.ts` file
 * required later registers tsx and goes through it; a require from TypeScript code that Node cannot resolve
 * (`./util.js` naming util.ts, a tsconfig path) registers tsx and is resolved again by it. `pf/sdk` is left to the
 * caller's alias; requires from anywhere else (pf's own probes) are not touched.
 */
const installTsxFallbacks = (registerTsx: () => void): void => {
  if (fallbacksInstalled) return
  fallbacksInstalled = true
  let registered = false
  const ensureTsx = (): boolean => {
    if (registered) return false
    registered = true
    registerTsx()
    return true
  }
  for (const ext of ['.ts', '.cts', '.mts', '.tsx']) {
    if (cjs._extensions[ext]) continue
    cjs._extensions[ext] = (module, filename) => {
      ensureTsx()
      const handler = cjs._extensions[ext]
      // tsx replaced this very handler; if it did not, let Node's .js handler report the error.
      return (handler && handler !== cjs._extensions[ext] ? handler : cjs._extensions['.js'])(module, filename)
    }
  }
  const resolve = cjs._resolveFilename
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    try {
      return resolve.call(this, request, ...rest)
    } catch (error) {
      const parent = rest[0] as {filename?: string} | undefined
      const fromTypeScript = typeof parent?.filename === 'string' && typescriptFile.test(parent.filename)
      if (!fromTypeScript || request === 'pf/sdk' || (error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !ensureTsx())
        throw error
      return cjs._resolveFilename(request, ...rest)
    }
  }
}

/** Compiles cached JavaScript as the entry's own module (its path, its folder's node_modules, its require cache slot). */
const compileCached = (file: string, code: string): unknown => {
  const existing = cjs._cache[file]
  if (existing) return existing.exports
  const module = new Module(file) as CjsModule
  module.filename = file
  module.paths = cjs._nodeModulePaths(path.dirname(file))
  cjs._cache[file] = module
  try {
    module._compile(code, file)
  } catch (error) {
    delete cjs._cache[file]
    throw error
  }
  module.loaded = true
  return module.exports
}

const writeEntry = (key: string, code: string): void => {
  const dir = cacheDir()
  ensurePrivateDir(dir)
  const target = path.join(dir, `${key}.js`)
  const temporary = `${target}.${process.pid}.tmp`
  writeFileSync(temporary, code, {mode: 0o600})
  renameSync(temporary, target)
  // Edits of a flow leave old entries behind: keep the newest few hundred.
  const names = readdirSync(dir).filter(name => name.endsWith('.js'))
  if (names.length <= keptEntries) return
  const aged = names.map(name => ({name, mtime: statSync(path.join(dir, name)).mtimeMs})).sort((a, b) => a.mtime - b.mtime)
  for (const {name} of aged.slice(0, names.length - keptEntries)) unlinkSync(path.join(dir, name))
}

/**
 * Requires a TypeScript entry that tsx would compile to CommonJS. From the cache when this exact text was
 * transpiled before; else through `requireWithTsx` (which registers tsx and requires the file), keeping tsx's
 * output when the entry pulled in no other TypeScript file. A cache that cannot be read or written is skipped.
 */
export const requireTypeScriptCached = (file: string, registerTsx: () => void, requireWithTsx: () => unknown): unknown => {
  let key: string | undefined
  let cached: string | undefined
  try {
    key = transpileKey(file, readFileSync(file, 'utf8'))
    cached = readFileSync(path.join(cacheDir(), `${key}.js`), 'utf8')
  } catch {
    // Not transpiled yet (or the cache is unreadable): tsx does it below.
  }
  if (cached !== undefined) {
    installTsxFallbacks(registerTsx)
    // Stack traces point into the TypeScript source, as under tsx (its output carries an inline source map).
    process.setSourceMapsEnabled(true)
    return compileCached(file, cached)
  }
  // A miss: watch what tsx compiles while it loads the entry.
  const compiled: Array<{filename: string; code: string}> = []
  const compile = cjs.prototype._compile
  cjs.prototype._compile = function (code: string, filename: string) {
    if (typescriptFile.test(filename)) compiled.push({filename, code})
    return compile.call(this, code, filename)
  }
  let exports: unknown
  try {
    exports = requireWithTsx()
  } finally {
    cjs.prototype._compile = compile
  }
  if (key && compiled.length === 1 && compiled[0].filename === file) {
    try {
      writeEntry(key, compiled[0].code)
    } catch {
      // A read-only or full pf home only costs the next run its speed.
    }
  }
  return exports
}
