import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type CreateResult, createConnection} from '../../connections/service.js'
import {parseAssignments} from '../../flow/inputs.js'

export default class ConnectionCreate extends PfCommand {
  static summary = 'Create or replace a connection from a YAML file.'
  static description = `Types: open_ai (api_key, base_url, organization) and azure_open_ai (api_key, api_base, api_version).
A value may be \${env:VAR}: it is stored as written and resolved when a flow uses the connection.
Connections are stored user-only in <pf home>/connections.json; secrets are never printed.`
  static examples = [
    '<%= config.bin %> connection create --file open_ai.yaml',
    '<%= config.bin %> connection create --file azure.yaml --name my_azure',
    "<%= config.bin %> connection create -f open_ai.yaml --set api_key='${env:OPENAI_API_KEY}' base_url=https://api.openai.com/v1",
  ]
  static flags = {
    file: Flags.string({char: 'f', description: 'Connection YAML file (name, type and fields).', required: true}),
    name: Flags.string({char: 'n', description: 'Connection name (overrides "name" in the file).'}),
    set: Flags.string({
      description: "Field values over the file's, as FIELD=VALUE (repeatable).",
      multiple: true,
      helpValue: 'FIELD=VALUE',
    }),
  }

  async run(): Promise<CreateResult> {
    const {flags} = await this.parse(ConnectionCreate)
    const result = await createConnection(flags.file, flags.name, undefined, parseAssignments(flags.set, '--set'))
    this.log(`${result.created ? 'Created' : 'Updated'} connection "${result.connection.name}" (${result.connection.type}).`)
    return result
  }
}
