import path from 'node:path'

import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'

export default class AutocompleteNames extends PfCommand {
  static summary = 'Print the bash line that adds run and connection names to pf completion.'
  static description = `@oclif/plugin-autocomplete (pf autocomplete bash) completes commands and flags; this line adds run names (pf run show <TAB>, --run <TAB>) and connection names (pf connection show <TAB>). Add it to ~/.bashrc after the plugin's line.`
  static examples = ['<%= config.bin %> autocomplete bash', `printf '%s\\n' "$(<%= config.bin %> autocomplete names)" >> ~/.bashrc`]
  static args = {shell: Args.string({description: 'Shell (only bash has name completion).', options: ['bash'], default: 'bash'})}

  async run(): Promise<{shell: string; script: string}> {
    await this.parse(AutocompleteNames)
    const script = path.join(this.config.root, 'completion', 'pf-names.bash')
    this.log(`test -f '${script}' && source '${script}' # pf names completion`)
    return {shell: 'bash', script}
  }
}
