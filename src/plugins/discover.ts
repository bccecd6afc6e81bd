import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {pfPackageRoot, pluginDataDir} from '../paths.js'
import {type HookResults, corePluginName, hookTimeoutMs} from '../tracing/registry.js'

// Runs every plugin's `trace-destination` hook without loading oclif: a user's process that calls startTrace()
// finds plugins exactly where `pf plugins install|link` put them (oclif's user package.json in the data folder).

interface PluginRef {
  name: string
  root: string
}

interface PackageJson {
  name?: string
  oclif?: {
    hooks?: Record<string, string | string[] | {target: string; identifier?: string} | Array<{target: string; identifier?: string}>>
    plugins?: Array<{name: string; type: string; root?: string}>
  }
}

const readPackage = (root: string): PackageJson | undefined => {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson
  } catch {
    return undefined
  }
}

/** pf itself first, then user-installed and linked plugins in the order oclif lists them. */
export const installedPlugins = (env: NodeJS.ProcessEnv = process.env): PluginRef[] => {
  const dataDir = pluginDataDir(env)
  const listed = readPackage(dataDir)?.oclif?.plugins ?? []
  const plugins = listed.flatMap(p => {
    if (p.type === 'link' && p.root) return [{name: p.name, root: p.root}]
    if (p.type === 'user') return [{name: p.name, root: path.join(dataDir, 'node_modules', p.name)}]
    return []
  })
  return [{name: corePluginName, root: pfPackageRoot()}, ...plugins]
}

/** `./dist/hooks/x` as oclif writes hook targets: with or without `.js`. */
const hookFile = (root: string, target: string): string => {
  const base = path.resolve(root, target)
  const candidate = [base, `${base}.js`, `${base}.mjs`, `${base}.cjs`, path.join(base, 'index.js')].find(
    f => existsSync(f) && !f.endsWith(path.sep),
  )
  if (!candidate) throw new Error(`hook file ${target} not found in ${root}`)
  return candidate
}

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms.`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The results of every installed plugin's `trace-destination` hook, in plugin order, as oclif's runHook gives them. */
export const runDestinationHooks = async (env: NodeJS.ProcessEnv = process.env): Promise<HookResults> => {
  const perPlugin = await Promise.all(
    installedPlugins(env).map(async plugin => {
      const results: HookResults = {successes: [], failures: []}
      const declared = readPackage(plugin.root)?.oclif?.hooks?.['trace-destination']
      for (const entry of declared === undefined ? [] : Array.isArray(declared) ? declared : [declared]) {
        const {target, identifier = 'default'} = typeof entry === 'string' ? {target: entry} : entry
        try {
          const module = (await import(pathToFileURL(hookFile(plugin.root, target)).href)) as Record<string, unknown>
          const hook = module[identifier]
          if (typeof hook !== 'function') throw new Error(`hook file ${target} exports no function "${identifier}"`)
          results.successes.push({plugin, result: await withTimeout(Promise.resolve(hook({})), hookTimeoutMs)})
        } catch (error) {
          results.failures.push({plugin, error})
        }
      }
      return results
    }),
  )
  return {successes: perPlugin.flatMap(r => r.successes), failures: perPlugin.flatMap(r => r.failures)}
}
