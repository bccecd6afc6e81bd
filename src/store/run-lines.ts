import type {SpanRecord} from '../contract/destination.js'
import type {LineRunRow, TraceStore} from './store.js'

/** Reads what the trace store holds about one batch run: its line runs, their direct children, its token totals. */
export class RunLinesReader {
  constructor(private readonly store: TraceStore) {}

  /** The run's line runs (trace roots), the aggregation root included (line_number null). */
  lineRuns(run: string): LineRunRow[] {
    return this.store.db.prepare('SELECT * FROM line_runs WHERE run = ? ORDER BY line_number, start_time').all(run) as LineRunRow[]
  }

  /** The direct children of the run's trace roots (a DAG flow's node spans), streamed. */
  *rootChildren(run: string): Generator<SpanRecord> {
    const rows = this.store.db
      .prepare(
        `SELECT s.data FROM spans s JOIN line_runs l ON l.trace_id = s.trace_id AND s.parent_id = l.root_span_id
         WHERE l.run = ? ORDER BY l.line_number, s.start_time`,
      )
      .pluck()
      .iterate(run)
    for (const data of rows) yield JSON.parse(data as string) as SpanRecord
  }

  /** Token totals over the run's line runs (cumulative counts of each root). */
  tokens(run: string): {total: number; completion: number; prompt: number} {
    const row = this.store.db
      .prepare(
        `SELECT COALESCE(SUM(total_tokens), 0) AS total, COALESCE(SUM(completion_tokens), 0) AS completion, COALESCE(SUM(prompt_tokens), 0) AS prompt
         FROM line_runs WHERE run = ?`,
      )
      .get(run) as {total: number; completion: number; prompt: number}
    return row
  }
}
