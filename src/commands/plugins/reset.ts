import type {Config} from '@oclif/core'
import {commands} from '@oclif/plugin-plugins'

/** The plugin's class as a constructor pf's declarations can name (its own type lives in the plugin's lib). */
const base = commands['plugins:reset'] as unknown as new (argv: string[], config: Config) => {run(): Promise<unknown>}

// @oclif/plugin-plugins' own command, registered as pf's (see src/commands/plugins/index.ts), with examples.
export default class PluginsReset extends base {
  static examples = ['<%= config.bin %> plugins reset', '<%= config.bin %> plugins reset --reinstall']
}
