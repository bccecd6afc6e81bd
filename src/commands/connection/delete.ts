import {Args, Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {deleteConnection, showConnection} from '../../connections/service.js'
import {PfError} from '../../errors.js'

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
      if (!process.stdin.isTTY) throw new PfError('confirmation_required', `Deleting connection "${args.name}" needs confirmation; pass --yes.`)
      const {createInterface} = await import('node:readline/promises')
      const rl = createInterface({input: process.stdin, output: process.stderr})
      const answer = await rl.question(`Delete connection "${args.name}"? [y/N] `)
      rl.close()
      if (!/^y(es)?$/i.test(answer.trim())) {
        this.log('Not deleted.')
        return {name: args.name, deleted: false}
      }
    }
    const result = deleteConnection(args.name)
    this.log(`Deleted connection "${args.name}".`)
    return result
  }
}
