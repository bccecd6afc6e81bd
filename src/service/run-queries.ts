import type Database from 'better-sqlite3'

import type {RunRow} from '../store/store.js'

/** Read-only run queries of the viewer (runs page, run charts, comparisons) over the store's connection. */

export interface RunListFilter {
  /** Substring of the name, display name, flow or tags (case-insensitive, literal). */
  text?: string
  status?: string[]
  flow?: string
  /** Include archived runs (default: not). */
  archived?: boolean
}

export const runSorts = ['created', 'name', 'status', 'duration', 'lines', 'failed', 'tokens'] as const
export type RunSort = (typeof runSorts)[number]

export interface RunTotals {
  run: string
  lines: number
  failed: number
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
  latency_sum: number
}

const likePattern = (text: string) => `%${text.replaceAll(/[\\%_]/g, c => '\\' + c)}%`

const durationSql = `(julianday(COALESCE(ended_at, started_at)) - julianday(started_at))`

/** Runs matching a filter, sorted (`-` prefix: descending), at most `limit`. Token sort joins per-run totals. */
export const listRuns = (db: Database.Database, filter: RunListFilter, sort: RunSort, descending: boolean, limit: number): RunRow[] => {
  const where: string[] = []
  const params: unknown[] = []
  if (!filter.archived) where.push('archived = 0')
  if (filter.text) {
    const p = likePattern(filter.text)
    where.push(`(name LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\' OR flow LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\')`)
    params.push(p, p, p, p)
  }
  if (filter.status?.length) {
    where.push(`status IN (${filter.status.map(() => '?').join(', ')})`)
    params.push(...filter.status)
  }
  if (filter.flow) {
    where.push('flow = ?')
    params.push(filter.flow)
  }
  const dir = descending ? 'DESC' : 'ASC'
  const order: Record<RunSort, string> = {
    created: `created_at ${dir}`,
    name: `name ${dir}`,
    status: `status ${dir}, created_at DESC`,
    duration: `${durationSql} ${dir} NULLS LAST, created_at DESC`,
    lines: `completed_lines + failed_lines ${dir}, created_at DESC`,
    failed: `failed_lines ${dir}, created_at DESC`,
    tokens: `(SELECT SUM(total_tokens) FROM line_runs l WHERE l.run = runs.name AND l.line_number IS NOT NULL) ${dir} NULLS LAST, created_at DESC`,
  }
  const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order[sort]} LIMIT ?`
  return db.prepare(sql).all(...params, limit) as RunRow[]
}

/** Line totals of runs from their traced lines (line_runs_run index): lines, failures, tokens, summed latency. */
export const runTotals = (db: Database.Database, names: string[]): Map<string, RunTotals> => {
  const out = new Map<string, RunTotals>()
  if (names.length === 0) return out
  const rows = db
    .prepare(
      `SELECT run, COUNT(*) AS lines, SUM(status = 'Error') AS failed, SUM(prompt_tokens) AS prompt_tokens,
         SUM(completion_tokens) AS completion_tokens, SUM(total_tokens) AS total_tokens, SUM(latency) AS latency_sum
       FROM line_runs WHERE run IN (${names.map(() => '?').join(', ')}) AND line_number IS NOT NULL GROUP BY run`,
    )
    .all(...names) as RunTotals[]
  for (const row of rows) out.set(row.run, row)
  return out
}

/** Names of the evaluation runs of each run (runs whose base run it is), oldest first. */
export const evaluationRuns = (db: Database.Database, names: string[]): Map<string, string[]> => {
  const out = new Map<string, string[]>()
  if (names.length === 0) return out
  const rows = db
    .prepare(`SELECT name, base_run FROM runs WHERE base_run IN (${names.map(() => '?').join(', ')}) ORDER BY created_at`)
    .all(...names) as Array<{name: string; base_run: string}>
  for (const row of rows) out.set(row.base_run, [...(out.get(row.base_run) ?? []), row.name])
  return out
}

export const runRows = (db: Database.Database, names: string[]): RunRow[] =>
  names.length === 0 ? [] : (db.prepare(`SELECT * FROM runs WHERE name IN (${names.map(() => '?').join(', ')})`).all(...names) as RunRow[])

export interface LineStat {
  line_number: number
  status: string
  latency: number
  total_tokens: number | null
  trace_id: string
}

/** Every traced line of a run (numbers only, for charts and comparisons), in line order. */
export const lineStats = (db: Database.Database, run: string): LineStat[] =>
  db
    .prepare(
      'SELECT line_number, status, latency, total_tokens, trace_id FROM line_runs WHERE run = ? AND line_number IS NOT NULL ORDER BY line_number',
    )
    .all(run) as LineStat[]

/** Runs of one flow, oldest first (the last `limit`), with their metrics: the "metrics over runs" chart. */
export const flowRuns = (
  db: Database.Database,
  flow: string,
  limit: number,
): Array<Pick<RunRow, 'name' | 'display_name' | 'created_at' | 'status' | 'metrics'>> =>
  (
    db
      .prepare(
        'SELECT name, display_name, created_at, status, metrics FROM runs WHERE flow = ? AND archived = 0 ORDER BY created_at DESC LIMIT ?',
      )
      .all(flow, limit) as Array<Pick<RunRow, 'name' | 'display_name' | 'created_at' | 'status' | 'metrics'>>
  ).reverse()
