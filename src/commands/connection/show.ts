import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {type ConnectionView, showConnection} from '../../connections/service.js'

export default class ConnectionShow extends PfCommand {
  static summary = 'Show a connection (secrets masked).'
  static examples = ['<%= config.bin %> connection show open_ai_connection']
  static args = {name: Args.string({description: 'Connection name (or --name).'})}
  static flags = {name: nameFlag('Connection')}

  async run(): Promise<ConnectionView> {
    const {args, flags} = await this.parse(ConnectionShow)
    const name = this.nameFrom(args.name, flags.name, 'connection')
    const connection = showConnection(name)
    for (const [key, value] of Object.entries(connection)) this.log(`${key}: ${value}`)
    return connection
  }
}
