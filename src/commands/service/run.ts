import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {pfHome} from '../../paths.js'
import {ExitCode, PfError} from '../../errors.js'
import {runService} from '../../service/run.js'

export default class ServiceRun extends PfCommand {
  static hidden = true
  static summary = 'Run the trace viewer in the foreground (what `pf service start` runs detached).'
  static flags = {
    host: Flags.string({description: 'Loopback address to bind.', default: '127.0.0.1'}),
    port: Flags.integer({description: 'Port to listen on (0: any free port).', required: true, min: 0, max: 65535}),
    'any-port': Flags.boolean({description: 'Listen on any free port when --port is taken.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ServiceRun)
    try {
      await runService({home: pfHome(), host: flags.host, port: flags.port, anyPort: flags['any-port'], registry: this.registry})
    } catch (error) {
      throw new PfError('service_start_failed', (error as Error).message, ExitCode.failure)
    }
    // Keep serving: the signal handlers end the process.
    await new Promise(() => {})
  }
}
