import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type ConnectionView, showConnection} from '../../connections/service.js'

export default class ConnectionShow extends PfCommand {
  static summary = 'Show a connection (secrets masked).'
  static examples = ['<%= config.bin %> connection show open_ai_connection']
  static args = {name: Args.string({description: 'Connection name.', required: true})}

  async run(): Promise<ConnectionView> {
    const {args} = await this.parse(ConnectionShow)
    const connection = showConnection(args.name)
    for (const [key, value] of Object.entries(connection)) this.log(`${key}: ${value}`)
    return connection
  }
}
