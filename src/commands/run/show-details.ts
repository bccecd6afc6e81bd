import {Args, Flags} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {describeLineError} from '../../errors.js'
import {type LineDetail, showDetails} from '../../run/manage.js'
import {formatTable} from '../../util/table.js'

const cell = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value ?? null))

export default class RunShowDetails extends PfCommand {
  static summary = "Show a run's lines: inputs and outputs (or error)."
  static examples = ['<%= config.bin %> run show-details my_run', '<%= config.bin %> run show-details my_run --all-results --json']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {
    name: nameFlag('Run'),
    'max-results': Flags.integer({description: 'Most lines to show.', default: 200, min: 1}),
    'all-results': Flags.boolean({description: 'Show every line (ignores --max-results).'}),
  }

  async run(): Promise<LineDetail[]> {
    const {args, flags} = await this.parse(RunShowDetails)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const lines = await showDetails(name, flags['all-results'] ? undefined : flags['max-results'])
    if (!this.jsonEnabled()) {
      const inputKeys = [...new Set(lines.flatMap(l => Object.keys(l.inputs)))]
      const outputKeys = [...new Set(lines.flatMap(l => Object.keys(l.outputs ?? {})))]
      this.log(
        formatTable(
          ['LINE', ...inputKeys.map(k => `inputs.${k}`), ...outputKeys.map(k => `outputs.${k}`), 'ERROR'],
          lines.map(l => [
            String(l.line_number),
            ...inputKeys.map(k => cell(l.inputs[k])),
            ...outputKeys.map(k => (l.outputs ? cell(l.outputs[k]) : '')),
            l.error ? describeLineError(l.error) : '',
          ]),
        ),
      )
    }
    return lines
  }
}
