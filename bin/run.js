#!/usr/bin/env node
import module from 'node:module'
import path from 'node:path'

import {ensurePrivateDir, pfHome, pluginDataDir} from '../dist/paths.js'

// Node 22.1+ keeps V8's compiled code of the modules pf loads on disk, checked against each module's content: it
// saves ≈ 7 % of `pf flow test` and `pf config get` (docs/benchmarks.md). In pf home (user-only), not Node's
// default shared temp folder, where another user could plant code. A NODE_COMPILE_CACHE the user set has already
// turned Node's cache on in its own folder. Node 20 has no such cache.
if (module.enableCompileCache && !process.env.NODE_COMPILE_CACHE) {
  const cacheDir = path.join(pfHome(), 'cache', 'compile')
  try {
    ensurePrivateDir(cacheDir)
    module.enableCompileCache(cacheDir)
  } catch {
    // A pf home that cannot be written: pf runs without the cache.
  }
}

// pf checks its own engine (package.json: node >= 20) with one comparison. oclif's check of its engine loads
// semver (47 modules, ≈ 20 ms of every command) for a range that pf's already implies; it reads this variable at
// import, so it is set for that moment only and never reaches a flow or plugin.
const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 20) process.emitWarning(`pf needs Node.js 20 or later; this is ${process.versions.node}.`)
const engineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING
process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute, settings} = await import('@oclif/core')
if (engineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineWarning

// Plugins (linked ones too) run their compiled JavaScript; pf never tries to transpile a plugin's TypeScript.
settings.enableAutoTranspile = false

// `pf plugins` installs into oclif's data folder: <pf home>/plugins unless PF_DATA_DIR names another.
process.env.PF_DATA_DIR = pluginDataDir()

await execute({dir: import.meta.url})
