import {Args, Flags} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {PfError} from '../../errors.js'
import {deleteRun, showRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunDelete extends PfCommand {
  static summary = 'Delete a run: its record and its output folder (its traces stay in the trace store).'
  static examples = ['<%= config.bin %> run delete my_run', '<%= config.bin %> run delete my_run --yes']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {
    name: nameFlag('Run'),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunDelete)
    const name = this.nameFrom(args.name, flags.name, 'run')
    if (!flags.yes) {
      const run = showRun(name)
      const confirmed = await this.confirm(
        `Delete run ${run.name} and ${run.output_path}?`,
        `Deleting run ${run.name} needs confirmation; pass --yes when not at a terminal.`,
      )
      if (!confirmed) throw new PfError('aborted', `Run ${run.name} was not deleted.`, 1)
    }
    const run = deleteRun(name)
    this.note(`Deleted ${run.name}.`)
    return run
  }
}
