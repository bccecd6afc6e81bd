import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {PfError} from '../../errors.js'
import {type ExportFileReport, exportFormats, exportTraces} from '../../tracing/export-file.js'

export default class TraceExport extends PfCommand {
  static summary = 'Export spans from the local store as JSON lines or OTLP/JSON.'
  static description = `jsonl: one span per line (prompt flow's span JSON). otlp-json: one OTLP ExportTraceServiceRequest in JSON, which an OpenTelemetry collector accepts (POST /v1/traces). Writes to stdout, or to --output (user-only).`
  static examples = [
    '<%= config.bin %> trace export --format jsonl > spans.jsonl',
    '<%= config.bin %> trace export --format otlp-json --collection my_flow --output traces.json',
  ]
  static flags = {
    format: Flags.string({description: 'Output format.', options: [...exportFormats], required: true}),
    collection: Flags.string({description: 'Only spans of this collection.'}),
    run: Flags.string({description: 'Only spans of this batch run.'}),
    output: Flags.string({char: 'o', description: 'Write to this file instead of stdout.'}),
  }

  async run(): Promise<ExportFileReport> {
    const {flags} = await this.parse(TraceExport)
    if (this.jsonEnabled() && !flags.output)
      throw new PfError('invalid_arguments', '--json needs --output: the export itself goes to stdout otherwise.')
    const report = await exportTraces({
      format: flags.format as (typeof exportFormats)[number],
      collection: flags.collection,
      run: flags.run,
      output: flags.output,
    })
    this.note(`Exported ${report.spans} span(s)${report.output ? ` to ${report.output}` : ''}.`)
    return report
  }
}
