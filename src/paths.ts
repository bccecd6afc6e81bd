import {existsSync, mkdirSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

// Leaf module: imports nothing from pf, so every layer (store, config, tracing, a user's startTrace()) can use it.

/** pf home: `$PF_HOME_DIRECTORY`, else `~/.promptflow` (prompt flow's location). */
export const pfHome = (env: NodeJS.ProcessEnv = process.env): string =>
  path.resolve(env.PF_HOME_DIRECTORY?.trim() || path.join(os.homedir(), '.promptflow'))

/** Creates a user-only folder (0700), or tightens one pf created earlier. */
export const ensurePrivateDir = (dir: string): void => {
  if (!existsSync(dir)) mkdirSync(dir, {recursive: true, mode: 0o700})
}

/** The folder of pf's own package (package.json, bin/, dist/, web/): this file is dist/paths.js. */
export const pfPackageRoot = (): string => path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Where `pf plugins install` keeps plugins: `$PF_DATA_DIR`, else `<pf home>/plugins` (bin/run.js sets the same). */
export const pluginDataDir = (env: NodeJS.ProcessEnv = process.env): string => env.PF_DATA_DIR?.trim() || path.join(pfHome(env), 'plugins')
