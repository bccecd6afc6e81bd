import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type LineRunSummary, type PendingDestination, listLineRuns, listPending} from '../../tracing/query.js'
import {formatTable} from '../../util/table.js'

export default class TraceList extends PfCommand {
  static summary = 'List recent traces (line runs) in the local store, or spans waiting for a remote destination.'
  static description = `Newest first. With --pending, lists each remote destination's outbox instead: how many spans wait to be sent (\`pf trace sync\` sends them), and the spans a destination refused for good, with its reason.`
  static examples = [
    '<%= config.bin %> trace list',
    '<%= config.bin %> trace list --collection my_flow --limit 5',
    '<%= config.bin %> trace list --run my_run --json',
    '<%= config.bin %> trace list --pending',
  ]
  static flags = {
    collection: Flags.string({description: 'Only traces of this collection (a flow folder name by default).'}),
    run: Flags.string({description: 'Only lines of this batch run.'}),
    limit: Flags.integer({description: 'At most this many rows (with --pending: parked spans).', default: 50, min: 1}),
    pending: Flags.boolean({
      description: 'List the remote outbox (pending and refused spans per destination) instead.',
      exclusive: ['collection', 'run'],
    }),
  }

  async run(): Promise<LineRunSummary[] | PendingDestination[]> {
    const {flags} = await this.parse(TraceList)
    if (flags.pending) {
      const destinations = listPending({limit: flags.limit})
      if (!this.jsonEnabled()) this.log(describePending(destinations))
      return destinations
    }
    const runs = listLineRuns({collection: flags.collection, run: flags.run, limit: flags.limit})
    if (!this.jsonEnabled()) this.log(runs.length === 0 ? 'No traces.' : describeRuns(runs))
    return runs
  }
}

const describeRuns = (runs: LineRunSummary[]): string =>
  formatTable(
    ['TRACE ID', 'NAME', 'COLLECTION', 'RUN', 'STATUS', 'START (UTC)', 'LATENCY', 'TOKENS'],
    runs.map(r => [
      r.traceId,
      r.name,
      r.collection,
      r.run ? `${r.run}${r.lineNumber === null ? '' : `#${r.lineNumber}`}` : '-',
      r.status,
      r.startTime.slice(0, 19).replace('T', ' '),
      `${r.latency.toFixed(3)}s`,
      r.tokens?.total === null || r.tokens === null ? '-' : String(r.tokens.total),
    ]),
  )

const describePending = (destinations: PendingDestination[]): string => {
  if (destinations.length === 0) return 'Nothing pending.'
  const lines = [
    formatTable(
      ['DESTINATION', 'PENDING', 'PARKED', 'DELIVERED', 'LAST ERROR'],
      destinations.map(d => [d.destination, String(d.pending), String(d.parked), String(d.delivered), d.lastError ?? '-']),
    ),
  ]
  const parked = destinations.flatMap(d => d.parkedSpans.map(s => [d.destination, s.traceId, s.spanId, s.reason]))
  if (parked.length > 0)
    lines.push('', 'Parked (refused; never retried):', formatTable(['DESTINATION', 'TRACE ID', 'SPAN ID', 'REASON'], parked))
  return lines.join('\n')
}
