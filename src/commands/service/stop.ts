import {PfCommand} from '../../base-command.js'
import {pfHome} from '../../paths.js'
import {type StopResult, stopService} from '../../service/lifecycle.js'

export default class ServiceStop extends PfCommand {
  static summary = 'Stop the local trace viewer.'
  static examples = ['<%= config.bin %> service stop']

  async run(): Promise<StopResult> {
    const result = await stopService(pfHome())
    this.log(result.stopped ? `Stopped the trace viewer (pid ${result.pid}).` : 'The trace viewer is not running.')
    return result
  }
}
