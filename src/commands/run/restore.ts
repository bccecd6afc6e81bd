import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {restoreRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunRestore extends PfCommand {
  static summary = 'Restore an archived run.'
  static examples = ['<%= config.bin %> run restore my_run']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunRestore)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const run = restoreRun(name)
    this.note(`Restored ${run.name}.`)
    return run
  }
}
