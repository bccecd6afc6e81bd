import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {loadConfig} from '../../config/service.js'
import {ExitCode, PfError} from '../../errors.js'
import {syncRunUploads} from '../../run/upload-job.js'
import {describeUploads} from '../../run/upload-report.js'
import {syncOutbox} from '../../tracing/sync.js'

export default class TraceSync extends PfCommand {
  static summary = 'Send spans still waiting for a cloud destination.'
  static description = `Spans are recorded locally first and queued for each remote destination; a command that ends before the
queue is empty leaves the rest here; run uploads to a workspace (pf run sync) are finished too. Exits 3 when
spans or uploads are still pending after --timeout.`
  static examples = ['<%= config.bin %> trace sync', '<%= config.bin %> trace sync --timeout 300 --json']
  static flags = {
    destination: Flags.string({description: 'Only destinations whose value contains this text.'}),
    timeout: Flags.integer({description: 'Seconds to keep trying before leaving the rest pending.', default: 60, min: 1}),
  }

  async run() {
    const {flags} = await this.parse(TraceSync)
    const {reader} = await loadConfig()
    const deadline = Date.now() + flags.timeout * 1000
    const reports = await syncOutbox(this.registry, {destination: flags.destination, timeoutMs: flags.timeout * 1000, config: reader})
    // Run uploads (run tracking) wait in the same store: finish them too, after the spans.
    const uploads = flags.destination ? [] : await syncRunUploads(undefined, {timeoutMs: Math.max(1000, deadline - Date.now()), config: reader})
    const pending = reports.reduce((n, r) => n + r.pending, 0)
    const pendingUploads = uploads.filter(u => u.state === 'pending').length
    if (!this.jsonEnabled()) {
      if (reports.length === 0 && uploads.length === 0) this.log('Nothing pending.')
      for (const r of reports)
        this.log(`${r.destination}: ${r.delivered} sent, ${r.pending} pending, ${r.parked} rejected${r.lastError ? ` (last error: ${r.lastError})` : ''}`)
      for (const line of describeUploads(uploads)) this.log(line)
    }
    if (pending > 0 || pendingUploads > 0)
      throw new PfError(
        'sync_incomplete',
        `${[...(pending > 0 ? [`${pending} span(s)`] : []), ...(pendingUploads > 0 ? [`${pendingUploads} run upload(s)`] : [])].join(' and ')} still pending; run \`pf trace sync\` again later.`,
        ExitCode.pending,
        {destinations: reports, uploads},
      )
    return {destinations: reports, uploads}
  }
}
