import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {ConfigService} from '../../config/service.js'
import {describeShadowed} from './set.js'

export default class ConfigUnset extends PfCommand {
  static summary = 'Remove config keys from pf.yaml.'
  static strict = false
  static examples = ['<%= config.bin %> config unset trace.destination', '<%= config.bin %> config unset run.output_path --path .']
  static flags = {
    path: Flags.string({description: 'Edit DIR/pf.yaml (a project config) instead of the user config.', helpValue: 'DIR'}),
  }

  async run() {
    const {argv, flags} = await this.parse(ConfigUnset)
    const result = await new ConfigService(this.registry).unset(argv as string[], {path: flags.path})
    for (const key of argv as string[])
      this.log(result.removed.includes(key) ? `Unset ${key} in ${result.path}` : `${key} was not set in ${result.path}`)
    for (const s of result.shadowed) this.note(describeShadowed(s))
    return result
  }
}
