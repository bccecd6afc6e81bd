import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {archiveRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunArchive extends PfCommand {
  static summary = 'Archive a run (hidden from `pf run list` unless --archived-only).'
  static examples = ['<%= config.bin %> run archive my_run']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunArchive)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const run = archiveRun(name)
    this.note(`Archived ${run.name}.`)
    return run
  }
}
