import {PfCommand} from '../../base-command.js'
import {pfHome} from '../../paths.js'
import {type ServiceStatus, serviceStatus} from '../../service/lifecycle.js'

export default class ServiceStatusCommand extends PfCommand {
  static summary = 'Say whether the local trace viewer (and OTLP collector) is running, and where.'
  static examples = ['<%= config.bin %> service status', '<%= config.bin %> service status --json']

  async run(): Promise<ServiceStatus> {
    const status = await serviceStatus(pfHome())
    if (!status.running) this.log('Not running (start it with `pf service start`).')
    else this.log(`Running: ${status.url} (pid ${status.pid})\nOTLP collector: ${status.otlpEndpoint}\n  export ${status.otlpEnv}`)
    return status
  }
}
