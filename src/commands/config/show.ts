import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type ConfigValue, ConfigService} from '../../config/service.js'
import type {ConfigData} from '../../config/files.js'
import {formatTable} from '../../util/table.js'

export default class ConfigShow extends PfCommand {
  static summary = 'Print the merged config as JSON, or each key with its source.'
  static description = `The user pf.yaml merged with the nearest project pf.yaml (the project wins, key by key).
With --sources, one row per key: its effective value and where it comes from (project, user or default, and the file).`
  static examples = [
    '<%= config.bin %> config show',
    '<%= config.bin %> config show --sources',
    '<%= config.bin %> config show --sources --json',
  ]
  static flags = {sources: Flags.boolean({description: 'List each key with its value and the file it comes from.'})}

  async run(): Promise<ConfigData | ConfigValue[]> {
    const {flags} = await this.parse(ConfigShow)
    const service = new ConfigService(this.registry)
    if (flags.sources) {
      const values = await service.sources()
      if (!this.jsonEnabled())
        this.log(
          formatTable(
            ['KEY', 'VALUE', 'SOURCE'],
            values.map(v => [
              v.key,
              typeof v.value === 'string' ? v.value : JSON.stringify(v.value),
              v.path ? `${v.source} (${v.path})` : v.source,
            ]),
            200,
          ),
        )
      return values
    }
    const merged = await service.show()
    if (!this.jsonEnabled()) this.log(JSON.stringify(merged, null, 2))
    return merged
  }
}
