import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'

/** The names the bash completion offers (completion/pf-names.bash calls it); one per line, nothing on error. */
export default class AutocompleteValues extends PfCommand {
  static hidden = true
  static summary = 'Print run or connection names, one per line (for shell completion).'
  static examples = ['<%= config.bin %> autocomplete values run']
  static args = {kind: Args.string({description: 'What to list.', options: ['run', 'connection'], required: true})}

  async run(): Promise<string[]> {
    const {args} = await this.parse(AutocompleteValues)
    let names: string[] = []
    try {
      if (args.kind === 'run') names = (await import('../../run/manage.js')).listRuns({includeArchived: true}).map(r => r.name)
      else names = (await import('../../connections/service.js')).listConnections().map(c => c.name)
    } catch {
      // A completion never prints an error into the user's command line.
    }
    if (!this.jsonEnabled() && names.length > 0) this.log(names.join('\n'))
    return names
  }
}
