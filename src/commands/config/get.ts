import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {ConfigService} from '../../config/service.js'

export default class ConfigGet extends PfCommand {
  static summary = 'Print the value of one config key.'
  static description =
    'Prints the effective value (project pf.yaml over user pf.yaml over the default), or nothing when the key is unset. --json adds where it comes from.'
  static args = {key: Args.string({description: 'Config key, e.g. trace.destination', required: true})}
  static examples = ['<%= config.bin %> config get trace.destination', '<%= config.bin %> config get trace.destination --json']

  async run() {
    const {args} = await this.parse(ConfigGet)
    const result = await new ConfigService(this.registry).get(args.key)
    if (result.value !== null) this.log(typeof result.value === 'string' ? result.value : JSON.stringify(result.value))
    return result
  }
}
