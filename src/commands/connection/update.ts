import {Args, Flags} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {type CreateResult, updateConnection} from '../../connections/service.js'
import {parseAssignments} from '../../flow/inputs.js'

export default class ConnectionUpdate extends PfCommand {
  static summary = 'Change fields of a connection.'
  static description =
    'Each --set FIELD=VALUE replaces one field; the result is validated like a connection file and nothing is written on error.'
  static examples = [
    '<%= config.bin %> connection update my_openai --set base_url=https://example.com/v1',
    "<%= config.bin %> connection update -n my_openai --set api_key='${env:OPENAI_API_KEY}'",
  ]
  static args = {name: Args.string({description: 'Connection name (or --name).'})}
  static flags = {
    name: nameFlag('Connection'),
    set: Flags.string({
      description: 'A field value as FIELD=VALUE (repeatable).',
      multiple: true,
      required: true,
      helpValue: 'FIELD=VALUE',
    }),
  }

  async run(): Promise<CreateResult> {
    const {args, flags} = await this.parse(ConnectionUpdate)
    const name = this.nameFrom(args.name, flags.name, 'connection')
    const result = await updateConnection(name, parseAssignments(flags.set, '--set'))
    this.log(`Updated connection "${name}" (${result.connection.type}).`)
    return result
  }
}
