import {Args, Flags} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {deleteConnection, showConnection} from '../../connections/service.js'

export default class ConnectionDelete extends PfCommand {
  static summary = 'Delete a connection.'
  static description = 'Asks for confirmation on a terminal; pass --yes in scripts.'
  static examples = ['<%= config.bin %> connection delete open_ai_connection --yes']
  static args = {name: Args.string({description: 'Connection name (or --name).'})}
  static flags = {
    name: nameFlag('Connection'),
    yes: Flags.boolean({char: 'y', description: 'Delete without asking.'}),
  }

  async run(): Promise<{name: string; deleted: boolean}> {
    const {args, flags} = await this.parse(ConnectionDelete)
    const name = this.nameFrom(args.name, flags.name, 'connection')
    if (!flags.yes) {
      showConnection(name) // an unknown name fails before asking
      if (!(await this.confirm(`Delete connection "${name}"?`, `Deleting connection "${name}" needs confirmation; pass --yes.`))) {
        this.log('Not deleted.')
        return {name, deleted: false}
      }
    }
    const result = await deleteConnection(name)
    this.log(`Deleted connection "${name}".`)
    return result
  }
}
