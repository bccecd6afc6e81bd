import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {listRuns} from '../../run/manage.js'
import type {Run} from '../../run/records.js'
import {formatTable} from '../../util/table.js'

export default class RunList extends PfCommand {
  static summary = 'List runs, newest first.'
  static examples = [
    '<%= config.bin %> run list',
    '<%= config.bin %> run list --max-results 10 --json',
    '<%= config.bin %> run list --archived-only',
    '<%= config.bin %> run list --all-results --include-archived',
  ]
  static flags = {
    'max-results': Flags.integer({char: 'r', description: 'Most runs to list.', default: 50, min: 1}),
    'all-results': Flags.boolean({description: 'List every run (ignores --max-results).'}),
    'archived-only': Flags.boolean({description: 'List archived runs only.', exclusive: ['include-archived']}),
    'include-archived': Flags.boolean({description: 'List archived runs as well as active ones.'}),
  }

  async run(): Promise<Run[]> {
    const {flags} = await this.parse(RunList)
    const runs = listRuns({
      maxResults: flags['all-results'] ? undefined : flags['max-results'],
      archivedOnly: flags['archived-only'],
      includeArchived: flags['include-archived'],
    })
    if (!this.jsonEnabled()) {
      if (runs.length === 0) this.log(flags['archived-only'] ? 'No archived runs.' : 'No runs yet; `pf run create` starts one.')
      else
        this.log(
          formatTable(
            ['NAME', 'STATUS', 'LINES', 'FAILED', 'CREATED', 'DISPLAY NAME'],
            runs.map(r => [r.name, r.status, String(r.total_lines ?? ''), String(r.failed_lines), r.created_on, r.display_name]),
          ),
        )
    }
    return runs
  }
}
