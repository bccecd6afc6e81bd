import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {showRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunShow extends PfCommand {
  static summary = 'Show a run.'
  static examples = ['<%= config.bin %> run show my_run', '<%= config.bin %> run show my_run --json']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunShow)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const run = showRun(name)
    if (!this.jsonEnabled()) this.log(JSON.stringify(run, null, 2))
    return run
  }
}
