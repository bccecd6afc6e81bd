import {Args} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type SpanNode, type TokenTotals, type TraceDetail, showTrace} from '../../tracing/query.js'

export default class TraceShow extends PfCommand {
  static summary = 'Show one trace as a tree of spans.'
  static description = `Each span with its type, duration, status and token counts (own LLM usage, or the cumulative count of its subtree); a failed span with its error message.
The id may be shortened to a unique prefix of 6 or more hex digits.`
  static examples = [
    '<%= config.bin %> trace show 4bf92f3577b34da6a3ce929d0e0e4736',
    '<%= config.bin %> trace show 4bf92f35',
    '<%= config.bin %> trace show 4bf92f3577b34da6a3ce929d0e0e4736 --json',
  ]
  static args = {
    traceId: Args.string({
      description:
        "Trace id (32 hex digits, as `pf trace list` shows, or a unique prefix of 6 or more; the portal's 0x form is accepted too).",
      required: true,
    }),
  }

  async run(): Promise<TraceDetail> {
    const {args} = await this.parse(TraceShow)
    const detail = showTrace(args.traceId)
    if (!this.jsonEnabled()) {
      this.log(`Trace ${detail.traceId} (${detail.spans.length} span${detail.spans.length === 1 ? '' : 's'})`)
      for (const root of detail.tree) this.log(describeNode(root, 0).join('\n'))
    }
    return detail
  }
}

const tokens = (t: TokenTotals | null, label: string) =>
  t ? `${label} ${t.total ?? '?'} (prompt ${t.prompt ?? '?'}, completion ${t.completion ?? '?'})` : undefined

const describeNode = (node: SpanNode, depth: number): string[] => {
  const parts = [
    `${'  '.repeat(depth)}${node.name}`,
    node.spanType ?? '-',
    node.duration < 1000 ? `${node.duration.toFixed(1)} ms` : `${(node.duration / 1000).toFixed(2)} s`,
    node.status,
    tokens(node.usage, 'tokens') ?? tokens(node.cumulative, 'cumulative tokens'),
  ].filter(Boolean)
  const error = node.error ? [`${'  '.repeat(depth + 1)}error: ${node.error.replace(/\s*\n\s*/g, ' ')}`] : []
  return [parts.join('  '), ...error, ...node.children.flatMap(c => describeNode(c, depth + 1))]
}
