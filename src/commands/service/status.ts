import {PfCommand} from '../../base-command.js'
import {pfHome} from '../../paths.js'
import {type ServiceStatus, serviceStatus} from '../../service/lifecycle.js'

export default class ServiceStatusCommand extends PfCommand {
  static summary = 'Say whether the local trace viewer is running, and where.'
  static examples = ['<%= config.bin %> service status', '<%= config.bin %> service status --json']

  async run(): Promise<ServiceStatus> {
    const status = await serviceStatus(pfHome())
    this.log(status.running ? `Running: ${status.url} (pid ${status.pid})` : 'Not running (start it with `pf service start`).')
    return status
  }
}
