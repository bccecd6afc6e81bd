import {Args, Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {deleteConnection, showConnection} from '../../connections/service.js'

export default class ConnectionDelete extends PfCommand {
  static summary = 'Delete a connection.'
  static description = 'Asks for confirmation on a terminal; pass --yes in scripts.'
  static examples = ['<%= config.bin %> connection delete open_ai_connection --yes']
  static args = {name: Args.string({description: 'Connection name.', required: true})}
  static flags = {yes: Flags.boolean({char: 'y', description: 'Delete without asking.'})}

  async run(): Promise<{name: string; deleted: boolean}> {
    const {args, flags} = await this.parse(ConnectionDelete)
    if (!flags.yes) {
      showConnection(args.name) // an unknown name fails before asking
      if (!(await this.confirm(`Delete connection "${args.name}"?`, `Deleting connection "${args.name}" needs confirmation; pass --yes.`))) {
        this.log('Not deleted.')
        return {name: args.name, deleted: false}
      }
    }
    const result = await deleteConnection(args.name)
    this.log(`Deleted connection "${args.name}".`)
    return result
  }
}
