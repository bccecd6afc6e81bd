import path from 'node:path'

import type {Hook} from '@oclif/core'

import {notAPfPluginReason, refuseInstall} from '../plugins/install-checks.js'

/**
 * After `pf plugins install` from a registry: an oclif plugin that adds no trace destination is uninstalled
 * again and the install fails. (A package with no oclif section at all is refused by plugin-plugins itself.)
 */
const hook: Hook<'plugins:postinstall'> = async function () {
  // Installed plugins live in <data dir>/node_modules (the one just installed is not marked as a user plugin yet).
  const installed = path.join(this.config.dataDir, 'node_modules') + path.sep
  for (const plugin of this.config.getPluginsList()) {
    if (!plugin.root.startsWith(installed)) continue
    const reason = notAPfPluginReason(plugin.pjson as Parameters<typeof notAPfPluginReason>[0])
    if (!reason) continue
    await this.config.runCommand('plugins:uninstall', [plugin.name])
    refuseInstall('not_a_pf_plugin', `${plugin.name} is not a pf plugin: ${reason}; it was uninstalled. See docs/plugins.md.`)
  }
}

export default hook
