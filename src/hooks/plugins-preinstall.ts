import type {Hook} from '@oclif/core'

import {localSource, notAPfPluginReason, readLocalManifest, refuseInstall} from '../plugins/install-checks.js'

/**
 * Before `pf plugins install`: a local folder or tarball is installed by its absolute path (never looked up on
 * GitHub), and refused before anything is installed when it is not a pf plugin.
 */
const hook: Hook<'plugins:preinstall'> = async function ({plugin}) {
  if (plugin.type !== 'repo') return // npm names are checked after install (plugins-postinstall)
  const source = localSource(plugin.url, process.cwd())
  if (!source) return
  plugin.url = `file:${source}`
  let manifest
  try {
    manifest = readLocalManifest(source)
  } catch (error) {
    refuseInstall('not_a_pf_plugin', `${source} is not a plugin folder or npm package tarball (${(error as Error).message}).`)
  }
  const reason = notAPfPluginReason(manifest)
  if (reason) refuseInstall('not_a_pf_plugin', `${manifest?.name ?? source} is not a pf plugin: ${reason}; see docs/plugins.md.`)
}

export default hook
