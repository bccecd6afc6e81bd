import {Args, Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {loadConfig} from '../../config/service.js'
import {ExitCode, PfError} from '../../errors.js'
import {type UploadReport, syncRunUploads} from '../../run/upload-job.js'
import {describeUploads} from '../../run/upload-report.js'

export default class RunSync extends PfCommand {
  static summary = 'Finish uploading runs to their workspace.'
  static description = `A run created with a workspace trace destination is uploaded as a run record of the workspace (run tracking).
When pf run create ends before the upload is done (outage, missing role, sign-in), the upload waits here, resumed from the step where it stopped.
Exits 3 when an upload is still pending after --timeout.`
  static examples = ['<%= config.bin %> run sync', '<%= config.bin %> run sync my_run', '<%= config.bin %> run sync --timeout 600 --json']
  static args = {name: Args.string({description: 'Run name (default: every run with a pending upload).'})}
  static flags = {
    timeout: Flags.integer({description: 'Seconds to keep trying before leaving the rest pending.', default: 300, min: 1}),
  }

  async run(): Promise<{uploads: UploadReport[]}> {
    const {args, flags} = await this.parse(RunSync)
    const {reader} = await loadConfig()
    const uploads = await syncRunUploads(args.name === undefined ? undefined : [args.name], {
      timeoutMs: flags.timeout * 1000,
      config: reader,
      progress:
        process.stderr.isTTY && !this.jsonEnabled() ? (run, message) => process.stderr.write(`\r\x1b[K${run}: ${message}`) : undefined,
    })
    if (process.stderr.isTTY && !this.jsonEnabled()) process.stderr.write('\r\x1b[K')
    if (args.name !== undefined && uploads.length === 0)
      throw new PfError(
        'run_upload_not_found',
        `Run "${args.name}" has no upload to a workspace (it ran without a workspace trace destination, or does not exist).`,
      )
    if (!this.jsonEnabled()) {
      if (uploads.length === 0) this.log('No run upload pending.')
      for (const line of describeUploads(uploads)) this.log(line)
    }
    const pending = uploads.filter(u => u.state === 'pending')
    if (pending.length > 0)
      throw new PfError(
        'run_upload_pending',
        `${pending.length} run upload(s) still pending${pending[0].error ? ` (${pending[0].run}: ${pending[0].error.replace(/\.$/, '')})` : ''}; run \`pf run sync\` again later.`,
        ExitCode.pending,
        {uploads},
      )
    return {uploads}
  }
}
