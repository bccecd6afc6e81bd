import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type TraceUiResult, traceUi} from '../../service/trace-ui.js'

export default class TraceUi extends PfCommand {
  static summary = 'Open the local trace viewer (starts it when it is not running).'
  static examples = [
    '<%= config.bin %> trace ui',
    '<%= config.bin %> trace ui --collection my_flow --open',
    '<%= config.bin %> trace ui --run my_run_20261126',
  ]
  static flags = {
    collection: Flags.string({description: 'Show the traces of this collection.'}),
    run: Flags.string({description: 'Show this batch run.'}),
    'trace-id': Flags.string({description: 'Show this trace.'}),
    open: Flags.boolean({description: 'Open the link in a browser (best effort).'}),
  }

  async run(): Promise<TraceUiResult> {
    const {flags} = await this.parse(TraceUi)
    const result = await traceUi({collection: flags.collection, run: flags.run, traceId: flags['trace-id'], open: flags.open})
    this.log(result.url)
    if (flags.open && !result.opened) this.note('Could not open a browser; open the link above.')
    return result
  }
}
