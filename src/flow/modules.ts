import {existsSync, readFileSync, statSync} from 'node:fs'
import Module, {createRequire, register} from 'node:module'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import type * as TsxCjsApi from 'tsx/cjs/api'

import {PfError} from '../errors.js'
import {requireTypeScriptCached} from './transpile-cache.js'

const extensions = ['', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']
const typescript = /\.(c|m)?tsx?$/

let tsxRegistered = false
let tsxCjsRegistered = false
let sdkAliasRegistered = false
let sdkAliasForRequire = false

/** Where `pf/sdk` resolves for user code that did not install pf (one tracer, one API instance). */
const sdkEntry = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'sdk', 'index.js')).href

/** Finds `<dir>/<modulePath>` with or without an extension. */
export const resolveModuleFile = (dir: string, modulePath: string): string | undefined => {
  for (const ext of extensions) {
    const candidate = path.resolve(dir, modulePath + ext)
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  }
  return undefined
}

/** Maps `pf/sdk` for CommonJS requires (a patch of the resolver: cheap). */
const aliasSdkForRequire = (): void => {
  if (sdkAliasForRequire) return
  const sdkFile = fileURLToPath(sdkEntry)
  const cjs = Module as unknown as {_resolveFilename: (request: string, ...rest: unknown[]) => string}
  const original = cjs._resolveFilename
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'pf/sdk' ? sdkFile : original.call(this, request, ...rest)
  }
  sdkAliasForRequire = true
}

interface SyncResolveHooks {
  resolve(specifier: string, context: unknown, next: (specifier: string, context: unknown) => unknown): unknown
}

/**
 * Maps `pf/sdk` for ESM and CommonJS (tsx compiles .ts outside a "type": "module" package to CJS). Node 22.15+
 * has in-thread hooks (`registerHooks`: ≈ 1.5 ms); before it, a resolve hook runs on a loader thread that costs
 * ≈ 35 ms to start (docs/benchmarks.md, batch run).
 */
const registerSdkAlias = (): void => {
  if (sdkAliasRegistered) return
  const {registerHooks} = Module as unknown as {registerHooks?: (hooks: SyncResolveHooks) => unknown}
  if (registerHooks)
    registerHooks({
      resolve: (specifier, context, next) => (specifier === 'pf/sdk' ? {url: sdkEntry, shortCircuit: true} : next(specifier, context)),
    })
  else {
    register('./sdk-alias-hook.js', import.meta.url, {data: {sdkEntry}})
    aliasSdkForRequire()
  }
  sdkAliasRegistered = true
}

const missesPf = (error: unknown): boolean => /Cannot find (package 'pf'|module 'pf\/sdk')/.test((error as Error)?.message ?? '')

/** The module type of the package a file belongs to: its nearest package.json's "type" ("commonjs" when none). */
const packageTypeOf = (file: string): 'module' | 'commonjs' => {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).type === 'module' ? 'module' : 'commonjs'
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (path.dirname(dir) === dir) return 'commonjs'
  }
}

const missesPfCjs = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && /Cannot find module 'pf\/sdk'/.test((error as Error).message)

/**
 * Requires a TypeScript file that tsx compiles to CommonJS anyway (.ts/.cts outside a "type": "module"
 * package) through tsx's require hook alone: no ESM loader thread to start, which is most of a TypeScript flow's
 * start-up. `pf/sdk` is mapped to this pf's SDK only when the flow folder does not install pf.
 */
const requireTypeScript = async (file: string): Promise<Record<string, unknown>> => {
  // tsx is loaded only when the transpile cache misses (or a cached entry still needs it): require() keeps that synchronous.
  const registerTsx = () => {
    if (!tsxCjsRegistered) (createRequire(import.meta.url)('tsx/cjs/api') as typeof TsxCjsApi).register()
    tsxCjsRegistered = true
  }
  const requireFrom = createRequire(file)
  const load = () => requireTypeScriptCached(file, registerTsx, () => (registerTsx(), requireFrom(file)))
  let exports: unknown
  try {
    exports = load()
  } catch (error) {
    if (!missesPfCjs(error) || sdkAliasForRequire) throw error
    aliasSdkForRequire()
    exports = load()
  }
  return exports && (typeof exports === 'object' || typeof exports === 'function')
    ? {...(exports as Record<string, unknown>)}
    : {default: exports}
}

/**
 * Imports user code. TypeScript loads through tsx (registered once, only when a .ts file is imported). When the
 * flow folder has no `pf` package installed, `pf/sdk` is mapped to this pf's SDK (a module hook registered only
 * then, since a hook costs a loader thread) and the import is retried.
 */
export const importUserModule = async (file: string): Promise<Record<string, unknown>> => {
  if (/\.c?ts$/.test(file) && packageTypeOf(file) === 'commonjs') {
    try {
      return await requireTypeScript(file)
    } catch (error) {
      const err = error as NodeJS.ErrnoException
      // Top-level await and the like need the ESM loader: fall through to it.
      if (err.code !== 'ERR_REQUIRE_ASYNC_MODULE' && err.code !== 'ERR_REQUIRE_ESM')
        throw Object.assign(new PfError('flow_load_failed', `Cannot load ${file}: ${err.message.split('\n')[0]}`), {cause: err})
    }
  }
  if (typescript.test(file) && !tsxRegistered) {
    // Both loaders: tsx compiles a .ts file outside a "type": "module" package to CommonJS.
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')])
    esm.register()
    if (!tsxCjsRegistered) cjs.register()
    tsxRegistered = true
    tsxCjsRegistered = true
  }
  const url = pathToFileURL(file).href
  try {
    let namespace: Record<string, unknown>
    try {
      namespace = await import(url)
    } catch (error) {
      if (!missesPf(error) || sdkAliasRegistered) throw error
      registerSdkAlias()
      // A failed import is cached per URL; a query string makes a fresh module graph.
      namespace = await import(url + '?pf-sdk')
    }
    // A CommonJS module's exports arrive as `default`; expose them by name like an ES module's.
    const cjsExports = namespace.default
    return cjsExports && typeof cjsExports === 'object' ? {...(cjsExports as Record<string, unknown>), ...namespace} : namespace
  } catch (error) {
    const err = error as Error
    throw Object.assign(new PfError('flow_load_failed', `Cannot load ${file}: ${err.message.split('\n')[0]}`), {cause: err})
  }
}
