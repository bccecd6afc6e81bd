import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {loadConfig} from '../../config/service.js'
import {ExitCode, PfError} from '../../errors.js'
import {syncOutbox} from '../../tracing/sync.js'

export default class TraceSync extends PfCommand {
  static summary = 'Send spans still waiting for a cloud destination.'
  static description = `Spans are recorded locally first and queued for each remote destination; a command that ends before the
queue is empty leaves the rest here. Exits 1 when spans are still pending after --timeout.`
  static examples = ['<%= config.bin %> trace sync', '<%= config.bin %> trace sync --timeout 300 --json']
  static flags = {
    destination: Flags.string({description: 'Only destinations whose value contains this text.'}),
    timeout: Flags.integer({description: 'Seconds to keep trying before leaving the rest pending.', default: 60, min: 1}),
  }

  async run() {
    const {flags} = await this.parse(TraceSync)
    const {reader} = await loadConfig()
    const reports = await syncOutbox(this.registry, {destination: flags.destination, timeoutMs: flags.timeout * 1000, config: reader})
    const pending = reports.reduce((n, r) => n + r.pending, 0)
    if (!this.jsonEnabled()) {
      if (reports.length === 0) this.log('Nothing pending.')
      for (const r of reports)
        this.log(`${r.destination}: ${r.delivered} sent, ${r.pending} pending, ${r.parked} rejected${r.lastError ? ` (last error: ${r.lastError})` : ''}`)
    }
    if (pending > 0)
      throw new PfError('sync_incomplete', `${pending} span(s) still pending; run \`pf trace sync\` again later.`, ExitCode.failure, {destinations: reports})
    return {destinations: reports}
  }
}
