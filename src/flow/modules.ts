import {existsSync, statSync} from 'node:fs'
import Module, {register} from 'node:module'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {PfError} from '../errors.js'

const extensions = ['', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']
const typescript = /\.(c|m)?tsx?$/

let tsxRegistered = false
let sdkAliasRegistered = false

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

/** Maps `pf/sdk` for ESM (a resolve hook) and CommonJS (tsx compiles .ts outside a "type": "module" package to CJS). */
const registerSdkAlias = (): void => {
  if (sdkAliasRegistered) return
  register('./sdk-alias-hook.js', import.meta.url, {data: {sdkEntry}})
  const sdkFile = fileURLToPath(sdkEntry)
  const cjs = Module as unknown as {_resolveFilename: (request: string, ...rest: unknown[]) => string}
  const original = cjs._resolveFilename
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'pf/sdk' ? sdkFile : original.call(this, request, ...rest)
  }
  sdkAliasRegistered = true
}

const missesPf = (error: unknown): boolean =>
  /Cannot find (package 'pf'|module 'pf\/sdk')/.test((error as Error)?.message ?? '')

/**
 * Imports user code. TypeScript loads through tsx (registered once, only when a .ts file is imported). When the
 * flow folder has no `pf` package installed, `pf/sdk` is mapped to this pf's SDK (a module hook registered only
 * then, since a hook costs a loader thread) and the import is retried.
 */
export const importUserModule = async (file: string): Promise<Record<string, unknown>> => {
  if (typescript.test(file) && !tsxRegistered) {
    // Both loaders: tsx compiles a .ts file outside a "type": "module" package to CommonJS.
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')])
    esm.register()
    cjs.register()
    tsxRegistered = true
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
