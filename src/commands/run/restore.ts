import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {restoreRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunRestore extends PfCommand {
  static summary = 'Restore an archived run.'
  static examples = ['<%= config.bin %> run restore my_run']
  static args = {name: Args.string({description: 'Run name.', required: true})}

  async run(): Promise<Run> {
    const {args} = await this.parse(RunRestore)
    const run = restoreRun(args.name)
    this.note(`Restored ${run.name}.`)
    return run
  }
}
