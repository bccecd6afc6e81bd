import {existsSync, readFileSync} from 'node:fs'
import Module, {createRequire} from 'node:module'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {type ResourceKind, patchResourceClass} from './openai-tracing.js'

/**
 * Installs LLM tracing on the `openai` package a flow uses. A flow resolves `openai` from its own folder (its
 * node_modules, or a parent's), which may be a different copy than pf's; and the same copy has two builds (ESM
 * `.mjs`, CommonJS `.js`) with separate classes. We patch the copy and the build(s) the flow's modules load.
 * Called only when a flow is loaded, never by other commands.
 */

export type ModuleFormat = 'esm' | 'cjs'

const resources: Array<{file: string; exportName: string; kind: ResourceKind}> = [
  {file: 'resources/chat/completions/completions', exportName: 'Completions', kind: 'chat'},
  {file: 'resources/completions', exportName: 'Completions', kind: 'completion'},
  {file: 'resources/embeddings', exportName: 'Embeddings', kind: 'embedding'},
]

const nearestPackageType = (dir: string): string | undefined => {
  for (let d = dir; ; d = path.dirname(d)) {
    const pkg = path.join(d, 'package.json')
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type
      } catch {
        return undefined
      }
    }
    if (path.dirname(d) === d) return undefined
  }
}

/** How Node (and tsx) load a user module: `.mjs`/`.mts` ESM, `.cjs`/`.cts` CommonJS, else the package's "type". */
export const moduleFormat = (file: string): ModuleFormat => {
  if (/\.m[jt]s$/.test(file)) return 'esm'
  if (/\.c[jt]s$/.test(file)) return 'cjs'
  return nearestPackageType(path.dirname(file)) === 'module' ? 'esm' : 'cjs'
}

/** The root folder of the `openai` package `fromDir` resolves, or undefined when it resolves none. */
export const resolveOpenAIRoot = (fromDir: string): string | undefined => {
  let entry: string
  try {
    entry = createRequire(path.join(fromDir, 'noop.js')).resolve('openai')
  } catch {
    return undefined
  }
  for (let d = path.dirname(entry); path.dirname(d) !== d; d = path.dirname(d)) {
    const pkg = path.join(d, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'openai') return d
  }
  return undefined
}

const done = new Set<string>()

const patchCjs = (root: string): void => {
  const requireFromRoot = createRequire(path.join(root, 'index.js'))
  for (const r of resources) {
    const file = path.join(root, r.file + '.js')
    if (existsSync(file)) patchResourceClass(requireFromRoot(file)[r.exportName], r.kind)
  }
}

const patchEsm = async (root: string): Promise<void> => {
  await Promise.all(
    resources.map(async r => {
      const file = path.join(root, r.file + '.mjs')
      if (existsSync(file)) patchResourceClass((await import(pathToFileURL(file).href))[r.exportName], r.kind)
    }),
  )
}

/**
 * CommonJS: patch now if the flow already required openai, else as soon as it does (a cheap Module._load
 * wrapper; nothing is loaded for a flow that never uses openai).
 */
const instrumentCjs = (root: string): void => {
  if (require_cache_has(path.join(root, 'index.js'))) return patchCjs(root)
  const loader = Module as unknown as {_load: (request: string, ...rest: unknown[]) => unknown}
  const original = loader._load
  loader._load = function (request: string, ...rest: unknown[]) {
    const exports = original.call(this, request, ...rest)
    if ((request === 'openai' || request.startsWith('openai/')) && require_cache_has(path.join(root, 'index.js'))) {
      loader._load = original
      patchCjs(root)
    }
    return exports
  }
}

const require_cache_has = (file: string): boolean => Boolean((Module as unknown as {_cache: Record<string, unknown>})._cache[file])

/**
 * Instruments the openai copy resolved from `fromDir` for the given module formats. Returns the package root
 * instrumented, or undefined when `fromDir` cannot resolve openai (nothing to do).
 */
export const instrumentOpenAI = async (fromDir: string, formats: Iterable<ModuleFormat>): Promise<string | undefined> => {
  const root = resolveOpenAIRoot(fromDir)
  if (!root) return undefined
  for (const format of new Set(formats)) {
    const key = `${format}:${root}`
    if (done.has(key)) continue
    done.add(key)
    if (format === 'cjs') instrumentCjs(root)
    else await patchEsm(root)
  }
  return root
}

/** Instruments the flow's user modules' openai (each module's format), e.g. after a flow is loaded. */
export const instrumentFlowModules = async (dir: string, moduleFiles: string[]): Promise<void> => {
  const formats = moduleFiles.length > 0 ? moduleFiles.map(moduleFormat) : [moduleFormat(path.join(dir, 'flow.js'))]
  await instrumentOpenAI(dir, formats)
}
