import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {showRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'
import {type UploadReport, uploadStateOf} from '../../run/upload-job.js'

export default class RunShow extends PfCommand {
  static summary = 'Show a run.'
  static description = 'Prints the run record as JSON; a run uploaded to a workspace also shows its upload state and portal URL (upload).'
  static examples = ['<%= config.bin %> run show my_run', '<%= config.bin %> run show my_run --json']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Run & {upload?: UploadReport[]}> {
    const {args, flags} = await this.parse(RunShow)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const run = showRun(name)
    const upload = uploadStateOf(name)
    const shown = upload.length > 0 ? {...run, upload} : run
    if (!this.jsonEnabled()) this.log(JSON.stringify(shown, null, 2))
    return shown
  }
}
