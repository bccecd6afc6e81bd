import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'

import {Errors, ux} from '@oclif/core'

/** The oclif hook every pf plugin declares: a pf plugin is an oclif plugin that contributes trace destinations. */
export const destinationHook = 'trace-destination'

/** The fields of a package.json the install checks read. */
export interface PackageManifest {
  name?: string
  oclif?: {hooks?: Record<string, unknown>}
}

/** Why a package (its package.json) is not a pf plugin, or undefined when it is one. */
export const notAPfPluginReason = (pjson: PackageManifest | undefined): string | undefined => {
  if (!pjson) return 'it has no package.json'
  if (!pjson.oclif) return 'its package.json has no "oclif" section'
  if (!pjson.oclif.hooks?.[destinationHook]) return `its package.json declares no oclif.hooks["${destinationHook}"]`
  return undefined
}

/**
 * plugin-plugins reads `dir/x.tgz` as a GitHub `owner/repo` slug and a relative `file:` spec relative to its data
 * folder. A local folder or tarball (relative to the current folder) becomes an absolute `file:` spec instead.
 */
export const localSource = (spec: string, cwd: string): string | undefined => {
  const candidate = spec.startsWith('file:') ? spec.slice('file:'.length) : spec.replace(/^https:\/\/github\.com\//, '')
  const full = path.resolve(cwd, candidate)
  return existsSync(full) ? full : undefined
}

/** package.json of a local plugin folder or npm-packed tarball (`package/package.json` inside the .tgz). */
export const readLocalManifest = (source: string): PackageManifest | undefined => {
  if (statSync(source).isDirectory()) {
    const file = path.join(source, 'package.json')
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined
  }
  // A tar archive is 512-byte headers (name at 0, octal size at 124, type flag at 156) each followed by its data.
  const tar = gunzipSync(readFileSync(source))
  const field = (at: number, length: number) => tar.toString('utf8', at, at + length).replace(/\0[\s\S]*$/, '')
  for (let at = 0; at + 512 <= tar.length;) {
    const name = field(at, 100)
    if (!name) break
    const size = Number.parseInt(field(at + 124, 12).trim() || '0', 8)
    const type = field(at + 156, 1)
    if ((type === '' || type === '0') && /^[^/]+\/package\.json$/.test(name))
      return JSON.parse(tar.toString('utf8', at + 512, at + 512 + size))
    at += 512 + Math.ceil(size / 512) * 512
  }
  return undefined
}

/**
 * Stops `pf plugins install` with one line (or `{"error":{code,message}}` under --json) and exit 2. The error
 * is marked so oclif does not print it a second time.
 */
export const refuseInstall = (code: string, message: string): never => {
  try {
    ux.action.stop('failed')
  } catch {
    // No spinner was running: nothing to stop.
  }
  const json = process.argv.includes('--json')
  if (!json) process.stderr.write(`Error: ${message}\n`)
  const error = new Errors.CLIError(message, {exit: 2}) as Errors.CLIError & {code: string; exitCode: number; toJSON(): unknown}
  error.code = code
  // oclif's --json path takes the exit code from here; the other path from `oclif.exit`.
  error.exitCode = 2
  error.skipOclifErrorHandling = true
  // What the plugin command prints under --json.
  error.toJSON = () => ({code, message})
  throw error
}
