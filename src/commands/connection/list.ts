import {PfCommand} from '../../base-command.js'
import {type ConnectionView, listConnections} from '../../connections/service.js'
import {formatTable} from '../../util/table.js'

export default class ConnectionList extends PfCommand {
  static summary = 'List connections (secrets masked).'
  static examples = ['<%= config.bin %> connection list', '<%= config.bin %> connection list --json']

  async run(): Promise<ConnectionView[]> {
    await this.parse(ConnectionList)
    const connections = listConnections()
    if (connections.length === 0) this.log('No connections; create one with `pf connection create --file conn.yaml`.')
    else
      this.log(
        formatTable(
          ['NAME', 'TYPE', 'ENDPOINT'],
          connections.map(c => [c.name, c.type, String(c.base_url ?? c.api_base ?? '')]),
        ),
      )
    return connections
  }
}
