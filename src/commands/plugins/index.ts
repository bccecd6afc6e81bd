import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'

/** One installed plugin as `pf plugins --json` prints it (oclif's own listing dumps its internal plugin objects). */
export interface PluginView {
  name: string
  version: string
  /** user: installed with `pf plugins install`; link: `pf plugins link`; core: shipped with pf (with --core). */
  type: string
  root: string
}

// Replaces @oclif/plugin-plugins' `plugins` command. Its subcommands (install, link, uninstall, inspect, update, reset)
// are the plugin's own classes, registered as pf's commands (src/commands/plugins/*.ts) rather than through oclif's
// core plugins: oclif loads every core plugin at each start and finds them by matching each of pf's dependencies
// against their names with minimatch (≈ 3.6 ms of every command; docs/benchmarks.md). The plugin is imported only
// when one of them runs.
export default class Plugins extends PfCommand {
  static summary = 'List installed plugins (trace destinations added to pf).'
  static description = 'Plugins live in <pf home>/plugins (PF_DATA_DIR overrides). See docs/plugins.md to write one.'
  static examples = [
    '<%= config.bin %> plugins',
    '<%= config.bin %> plugins --json',
    '<%= config.bin %> plugins install ./pf-trace-otlp-1.0.0.tgz',
  ]
  static flags = {core: Flags.boolean({description: 'Also list the plugins pf ships with.'})}

  async run(): Promise<PluginView[]> {
    const {flags} = await this.parse(Plugins)
    const plugins = this.config
      .getPluginsList()
      .filter(p => !p.parent && p.root !== this.config.root && (flags.core || (p.type !== 'core' && p.type !== 'dev')))
      .map(p => ({name: p.name, version: p.version, type: p.type, root: p.root}))
      .sort((a, b) => a.name.localeCompare(b.name))
    if (plugins.length === 0) this.log('No plugins installed.')
    for (const p of plugins)
      this.log(`${p.name} ${p.version}${p.type === 'user' ? '' : ` (${p.type})`}${p.type === 'link' ? ` ${p.root}` : ''}`)
    return plugins
  }
}
