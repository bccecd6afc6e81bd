import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {showRun} from '../../run/manage.js'
import type {Run} from '../../run/records.js'
import {type UploadReport, uploadStateOf} from '../../run/upload-job.js'

export default class RunShow extends PfCommand {
  static summary = 'Show a run.'
  static description = 'Prints the run record as JSON; a run uploaded to a workspace also shows its upload state and portal URL (upload).'
  static examples = ['<%= config.bin %> run show my_run', '<%= config.bin %> run show my_run --json']
  static args = {name: Args.string({description: 'Run name.', required: true})}

  async run(): Promise<Run & {upload?: UploadReport[]}> {
    const {args} = await this.parse(RunShow)
    const run = showRun(args.name)
    const upload = uploadStateOf(args.name)
    const shown = upload.length > 0 ? {...run, upload} : run
    if (!this.jsonEnabled()) this.log(JSON.stringify(shown, null, 2))
    return shown
  }
}
