import {Args, Flags} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {parseRunChanges, updateRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunUpdate extends PfCommand {
  static summary = "Change a run's display name, description or tags."
  static examples = ['<%= config.bin %> run update my_run --set display_name="baseline v2" --set tags.team=search']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {
    name: nameFlag('Run'),
    set: Flags.string({
      description: 'display_name=…, description=… or tags.<key>=<value> (repeatable).',
      multiple: true,
      required: true,
      helpValue: 'KEY=VALUE',
    }),
  }

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunUpdate)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const run = updateRun(name, parseRunChanges(flags.set))
    if (!this.jsonEnabled()) this.log(JSON.stringify(run, null, 2))
    return run
  }
}
