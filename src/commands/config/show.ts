import {PfCommand} from '../../base-command.js'
import {ConfigService} from '../../config/service.js'

export default class ConfigShow extends PfCommand {
  static summary = 'Print the merged config as JSON.'
  static description = 'The user pf.yaml merged with the nearest project pf.yaml (the project wins, key by key).'
  static examples = ['<%= config.bin %> config show']

  async run() {
    await this.parse(ConfigShow)
    const merged = await new ConfigService(this.registry).show()
    if (!this.jsonEnabled()) this.log(JSON.stringify(merged, null, 2))
    return merged
  }
}
