import {pfHome} from '../paths.js'
import {type RunRow, type RunStatus, TraceStore} from '../store/store.js'
import {PfError} from '../errors.js'
import {isProcessRunning} from '../util/process.js'

export type {RunStatus} from '../store/store.js'

/** A run as commands print it (`--json`): prompt flow's names where it has them. */
export interface Run {
  name: string
  display_name: string
  status: RunStatus
  flow: string
  data: string | null
  run: string | null
  resume_from: string | null
  column_mapping: Record<string, unknown>
  created_on: string
  started_at: string | null
  ended_at: string | null
  duration: number | null
  total_lines: number | null
  completed_lines: number
  failed_lines: number
  output_path: string
  tags: Record<string, string>
  properties: Record<string, unknown>
  metrics: Record<string, unknown>
  error: {code: string; message: string} | null
  archived: boolean
}

const parse = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback)

const toRun = (row: RunRow): Run => ({
  name: row.name,
  display_name: row.display_name ?? row.name,
  status: row.status,
  flow: row.flow,
  data: row.data,
  run: row.base_run,
  resume_from: row.resume_from,
  column_mapping: parse(row.column_mapping, {}),
  created_on: row.created_at,
  started_at: row.started_at,
  ended_at: row.ended_at,
  duration: row.started_at && row.ended_at ? (Date.parse(row.ended_at) - Date.parse(row.started_at)) / 1000 : null,
  total_lines: row.total_lines,
  completed_lines: row.completed_lines,
  failed_lines: row.failed_lines,
  output_path: row.output_path,
  tags: parse(row.tags, {}),
  properties: parse(row.properties, {}),
  metrics: parse(row.metrics, {}),
  error: parse(row.error, null),
  archived: row.archived === 1,
})

export interface NewRun {
  name: string
  displayName?: string
  flow: string
  data?: string
  baseRun?: string
  resumeFrom?: string
  columnMapping: Record<string, unknown>
  totalLines: number
  outputPath: string
  tags?: Record<string, string>
  properties?: Record<string, unknown>
}

export interface ListOptions {
  /** Undefined: all. */
  maxResults?: number
  archivedOnly?: boolean
  /** Active and archived runs together. */
  includeArchived?: boolean
}

/** Run records in the local store's `runs` table. */
export class RunRecords {
  private constructor(private readonly store: TraceStore) {}

  static open(env: NodeJS.ProcessEnv = process.env): RunRecords {
    return new RunRecords(TraceStore.open(pfHome(env)))
  }

  private get db() {
    return this.store.db
  }

  find(name: string): Run | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as RunRow | undefined
    return row && this.settleIfOrphaned(toRun(row))
  }

  /**
   * A run whose process is gone (killed with SIGKILL, out of memory, power loss) would show Running forever: it is
   * marked Failed the first time it is read, keeping what it recorded. The run's pid and process start time tell a
   * live run from one whose pid was reused.
   */
  private settleIfOrphaned(run: Run): Run {
    if (run.status !== 'Running') return run
    const {pid, pid_start: start} = run.properties as {pid?: unknown; pid_start?: unknown}
    if (typeof pid !== 'number' || isProcessRunning({pid, start: typeof start === 'number' ? start : undefined})) return run
    const error = {
      code: 'process_ended',
      message: `The pf process running it (pid ${pid}) ended before the run finished (killed or crashed); \`pf run create --resume-from ${run.name}\` reruns the lines it did not finish.`,
    }
    this.db
      .prepare(`UPDATE runs SET status = 'Failed', ended_at = ?, error = ? WHERE name = ? AND status = 'Running'`)
      .run(new Date().toISOString(), JSON.stringify(error), run.name)
    const row = this.db.prepare('SELECT * FROM runs WHERE name = ?').get(run.name) as RunRow
    return toRun(row)
  }

  get(name: string): Run {
    const run = this.find(name)
    if (!run) throw new PfError('run_not_found', `Run "${name}" not found; \`pf run list\` shows the runs.`)
    return run
  }

  exists(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM runs WHERE name = ?').get(name) !== undefined
  }

  /** Inserts a run as Running; an existing name is an error (checked in the same statement). */
  insert(run: NewRun): Run {
    const now = new Date().toISOString()
    try {
      this.db
        .prepare(
          `INSERT INTO runs (name, display_name, flow, data, base_run, resume_from, column_mapping, status, created_at, started_at,
             total_lines, output_path, tags, properties)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'Running', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.name,
          run.displayName ?? null,
          run.flow,
          run.data ?? null,
          run.baseRun ?? null,
          run.resumeFrom ?? null,
          JSON.stringify(run.columnMapping),
          now,
          now,
          run.totalLines,
          run.outputPath,
          JSON.stringify(run.tags ?? {}),
          JSON.stringify(run.properties ?? {}),
        )
    } catch (error) {
      if ((error as {code?: string}).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw runExists(run.name)
      throw error
    }
    return this.get(run.name)
  }

  progress(name: string, completed: number, failed: number): void {
    this.db.prepare('UPDATE runs SET completed_lines = ?, failed_lines = ? WHERE name = ?').run(completed, failed, name)
  }

  finish(
    name: string,
    end: {status: RunStatus; completed: number; failed: number; error?: {code: string; message: string}; metrics?: Record<string, unknown>},
  ): Run {
    this.db
      .prepare(
        'UPDATE runs SET status = ?, ended_at = ?, completed_lines = ?, failed_lines = ?, error = ?, metrics = COALESCE(?, metrics) WHERE name = ?',
      )
      .run(
        end.status,
        new Date().toISOString(),
        end.completed,
        end.failed,
        end.error ? JSON.stringify(end.error) : null,
        end.metrics ? JSON.stringify(end.metrics) : null,
        name,
      )
    return this.get(name)
  }

  /** Marks a run Failed by pf's own error, keeping its line counts. */
  abort(name: string, error: {code: string; message: string}): void {
    this.db
      .prepare(`UPDATE runs SET status = 'Failed', ended_at = ?, error = ? WHERE name = ?`)
      .run(new Date().toISOString(), JSON.stringify(error), name)
  }

  list(options: ListOptions = {}): Run[] {
    const archived = options.includeArchived ? [0, 1] : [options.archivedOnly ? 1 : 0]
    const rows = this.db
      .prepare(
        `SELECT * FROM runs WHERE archived IN (${archived.join(', ')}) ORDER BY created_at DESC, name ${options.maxResults === undefined ? '' : 'LIMIT ?'}`,
      )
      .all(...(options.maxResults === undefined ? [] : [options.maxResults])) as RunRow[]
    return rows.map(row => this.settleIfOrphaned(toRun(row)))
  }

  setArchived(name: string, archived: boolean): Run {
    this.get(name)
    this.db.prepare('UPDATE runs SET archived = ? WHERE name = ?').run(archived ? 1 : 0, name)
    return this.get(name)
  }

  update(name: string, changes: {displayName?: string; tags?: Record<string, string>; properties?: Record<string, unknown>}): Run {
    const run = this.get(name)
    this.db
      .prepare('UPDATE runs SET display_name = ?, tags = ?, properties = ? WHERE name = ?')
      .run(
        changes.displayName ?? (run.display_name === run.name ? null : run.display_name),
        JSON.stringify({...run.tags, ...changes.tags}),
        JSON.stringify({...run.properties, ...changes.properties}),
        name,
      )
    return this.get(name)
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM runs WHERE name = ?').run(name)
  }

  close(): void {
    this.store.close()
  }
}

export const runExists = (name: string): PfError =>
  new PfError('run_exists', `A run named "${name}" already exists; choose another --name (or leave it out for a generated one).`)
