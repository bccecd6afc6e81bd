import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {streamRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'

export default class RunStream extends PfCommand {
  static summary = "Print a run's log, following it while the run is running."
  static examples = ['<%= config.bin %> run stream my_run']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Run> {
    const {args, flags} = await this.parse(RunStream)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const json = this.jsonEnabled()
    const run = await streamRun(name, text => (json ? process.stderr : process.stdout).write(text))
    this.note(`Run ${run.name}: ${run.status}.`)
    return run
  }
}
