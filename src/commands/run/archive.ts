import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {archiveRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunArchive extends PfCommand {
  static summary = 'Archive a run (hidden from `pf run list` unless --archived-only).'
  static examples = ['<%= config.bin %> run archive my_run']
  static args = {name: Args.string({description: 'Run name.', required: true})}

  async run(): Promise<Run> {
    const {args} = await this.parse(RunArchive)
    const run = archiveRun(args.name)
    this.note(`Archived ${run.name}.`)
    return run
  }
}
