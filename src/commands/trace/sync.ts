import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {loadConfig} from '../../config/service.js'
import {ExitCode, PfError} from '../../errors.js'
import {type UploadReport, syncRunUploads} from '../../run/upload-job.js'
import {describeUploads} from '../../run/upload-report.js'
import {type DiscardReport, type SyncReport, discardOutbox, syncOutbox} from '../../tracing/sync.js'

export default class TraceSync extends PfCommand {
  static summary = 'Send spans and run uploads still waiting for a remote destination (or discard spans).'
  static description = `Spans are recorded locally first and queued for each remote destination; a command that ends before the queue is empty leaves the rest here, and run uploads to a workspace (pf run sync) wait the same way. Sync sends them now (retry delays are skipped, claims of pf processes that died are taken back). Exits 3 when spans for a configured destination or run uploads are still pending after --timeout. Spans waiting for a destination trace.destination no longer names are reported but do not fail sync; --discard drops them on purpose (they stay in the local store).`
  static examples = [
    '<%= config.bin %> trace sync',
    '<%= config.bin %> trace sync --timeout 300 --json',
    '<%= config.bin %> trace sync --discard otlp://old-collector:4318 --yes',
  ]
  static flags = {
    destination: Flags.string({description: 'Only destinations whose value contains this text.'}),
    timeout: Flags.integer({description: 'Seconds to keep trying before leaving the rest pending.', default: 60, min: 1}),
    discard: Flags.string({
      description: 'Drop (never send) the spans waiting for destinations whose value contains this text; asks first.',
      helpValue: 'DESTINATION',
      exclusive: ['destination'],
    }),
    yes: Flags.boolean({char: 'y', description: 'With --discard: do not ask for confirmation.'}),
  }

  async run(): Promise<{destinations: SyncReport[]; uploads: UploadReport[]} | {discarded: DiscardReport[]}> {
    const {flags} = await this.parse(TraceSync)
    if (flags.discard !== undefined) return {discarded: await this.discard(flags.discard, flags.yes)}
    const {reader} = await loadConfig()
    const deadline = Date.now() + flags.timeout * 1000
    const reports = await syncOutbox(this.registry, {destination: flags.destination, timeoutMs: flags.timeout * 1000, config: reader})
    // Run uploads (run tracking) wait in the same store: finish them too, after the spans.
    const uploads = flags.destination
      ? []
      : await syncRunUploads(undefined, {timeoutMs: Math.max(1000, deadline - Date.now()), config: reader})
    // A destination the user named with --destination counts even if trace.destination no longer lists it.
    const counted = reports.filter(r => r.configured || flags.destination !== undefined)
    const pending = counted.reduce((n, r) => n + r.pending, 0)
    const pendingUploads = uploads.filter(u => u.state === 'pending').length
    if (!this.jsonEnabled()) {
      if (reports.length === 0 && uploads.length === 0) this.log('Nothing pending.')
      for (const r of reports) {
        this.log(
          `${r.destination}: ${r.delivered} sent, ${r.pending} pending, ${r.parked} rejected${r.lastError ? ` (last error: ${r.lastError})` : ''}`,
        )
        if (r.pending > 0 && !r.configured)
          this.note(
            `  trace.destination no longer names ${r.destination}; \`pf trace sync --discard ${r.destination}\` drops its ${r.pending} waiting span(s).`,
          )
      }
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

  private async discard(filter: string, yes: boolean): Promise<DiscardReport[]> {
    if (filter.trim() === '')
      throw new PfError(
        'invalid_arguments',
        '--discard needs the destination whose waiting spans to drop, e.g. --discard otlp://host:4318.',
      )
    const reports = await discardOutbox(
      filter,
      yes
        ? undefined
        : preview =>
            this.confirm(
              `Discard ${preview.map(p => `${p.pending + p.parked} span(s) waiting for ${p.destination}`).join(', ')}? They stay in the local store but are never sent.`,
              'pf trace sync --discard needs --yes when it cannot ask (no terminal); nothing was discarded.',
            ),
    )
    if (!this.jsonEnabled()) {
      if (reports.length === 0) this.log(`No spans wait for a destination matching "${filter}"; nothing discarded.`)
      for (const r of reports)
        this.log(
          r.discarded
            ? `${r.destination}: discarded ${r.pending} pending and ${r.parked} rejected span(s).`
            : `${r.destination}: kept (nothing discarded).`,
        )
    }
    return reports
  }
}
