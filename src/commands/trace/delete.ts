import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type DeleteReport, deleteTraces} from '../../tracing/query.js'

export default class TraceDelete extends PfCommand {
  static summary = 'Delete traces from the local store.'
  static description = `Deletes whole traces (their spans, line runs and any spans still queued for a remote destination) selected by --collection, --run or --before (--started-before), or --collection with --before. Asks for confirmation on a terminal; pass --yes otherwise.`
  static examples = [
    '<%= config.bin %> trace delete --collection my_flow',
    '<%= config.bin %> trace delete --run my_run --yes',
    '<%= config.bin %> trace delete --before 2026-01-01 --yes --json',
    "<%= config.bin %> trace delete --collection my_flow --started-before '2026-03-19T15:17:23' --yes",
  ]
  static flags = {
    collection: Flags.string({description: 'Delete the traces of this collection.'}),
    run: Flags.string({description: 'Delete the traces of this batch run.'}),
    before: Flags.string({
      aliases: ['started-before'],
      description:
        'Delete traces started before this date (YYYY-MM-DD, midnight UTC) or ISO 8601 time; with --collection, only its traces.',
    }),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<DeleteReport> {
    const {flags} = await this.parse(TraceDelete)
    const report = await deleteTraces(
      {collection: flags.collection, run: flags.run, before: flags.before},
      {
        confirm: flags.yes
          ? undefined
          : preview => {
              const queued = preview.outbox > 0 ? `, and ${preview.outbox} span(s) queued for remote destinations` : ''
              return this.confirm(
                `Delete ${preview.traces} trace(s) (${preview.spans} span(s)${queued})?`,
                'pf trace delete needs --yes when it cannot ask (no terminal); nothing was deleted.',
              )
            },
      },
    )
    if (!this.jsonEnabled()) {
      if (report.traces === 0) this.log('No traces match; nothing deleted.')
      else if (!report.deleted) this.log('Nothing deleted.')
      else
        this.log(
          `Deleted ${report.traces} trace(s): ${report.spans} span(s), ${report.lineRuns} line run(s), ${report.outbox} outbox row(s).`,
        )
    }
    return report
  }
}
