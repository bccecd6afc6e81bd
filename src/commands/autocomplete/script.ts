import {Args, Command} from '@oclif/core'

import {autocompletePluginCommand} from '../../util/autocomplete-plugin.js'

// @oclif/plugin-autocomplete's `autocomplete script`: the line that loads its completion (see pf autocomplete).
export default class AutocompleteScript extends Command {
  static hidden = true
  static summary = "Print the shell line that loads pf's command and flag completion."
  static examples = ['<%= config.bin %> autocomplete script bash']
  static args = {shell: Args.string({description: 'Shell type.', options: ['zsh', 'bash', 'powershell'], required: false})}

  async run(): Promise<void> {
    await this.parse(AutocompleteScript)
    await (await autocompletePluginCommand('script')).run(this.argv, this.config)
  }
}
