import {Args, Command, Flags} from '@oclif/core'

import {autocompletePluginCommand} from '../../util/autocomplete-plugin.js'

// @oclif/plugin-autocomplete's `autocomplete` command, run through a thin wrapper (see autocompletePluginCommand).
export default class Autocomplete extends Command {
  static summary = 'Set up shell completion of pf commands and flags (bash, zsh, powershell).'
  static description = `Builds the completion cache and prints how to load it in your shell. For run and connection names in bash, also add the line pf autocomplete names prints.
After installing or removing a pf plugin, run pf autocomplete --refresh-cache.`
  static examples = [
    '<%= config.bin %> autocomplete bash',
    '<%= config.bin %> autocomplete zsh',
    '<%= config.bin %> autocomplete --refresh-cache',
    `printf '%s\\n' "$(<%= config.bin %> autocomplete script bash)" "$(<%= config.bin %> autocomplete names)" >> ~/.bashrc`,
  ]
  static args = {shell: Args.string({description: 'Shell type.', options: ['zsh', 'bash', 'powershell'], required: false})}
  static flags = {'refresh-cache': Flags.boolean({char: 'r', description: 'Refresh the cache only (no instructions).'})}

  async run(): Promise<void> {
    await this.parse(Autocomplete)
    await (await autocompletePluginCommand('index')).run(this.argv, this.config)
  }
}
