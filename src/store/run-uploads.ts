import type {TraceStore} from './store.js'

/** What each finished step of a run upload left behind (its result), by step name. */
export type UploadSteps = Record<string, unknown>

export type UploadState = 'pending' | 'done'

/** A run upload job (table `run_uploads`, schema migration 3). */
export interface UploadJob {
  run: string
  /** The destination key (see the `destinations` table). */
  destination: string
  state: UploadState
  steps: UploadSteps
  attempts: number
  nextAttemptAt: number
  lastError: string | null
  createdAt: number
  updatedAt: number
  doneAt: number | null
}

interface UploadRow {
  run: string
  destination: string
  state: UploadState
  steps: string
  attempts: number
  next_attempt_at: number
  claimed_until: number
  claimed_by: number | null
  last_error: string | null
  created_at: number
  updated_at: number
  done_at: number | null
}

const processAlive = (pid: number | null): boolean => {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const toJob = (row: UploadRow): UploadJob => ({
  run: row.run,
  destination: row.destination,
  state: row.state,
  steps: JSON.parse(row.steps) as UploadSteps,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  doneAt: row.done_at,
})

/**
 * The durable run-upload queue: one row per (run, destination). A process claims a job with a lease (another
 * process leaves it alone meanwhile; a crashed process's lease expires), records each step as it finishes, and
 * settles the job done or due again later.
 */
export class RunUploadQueue {
  constructor(private readonly store: TraceStore) {}

  private get db() {
    return this.store.db
  }

  /** Adds a job (pending) unless one exists for the run and destination. */
  enqueue(run: string, destination: string): UploadJob {
    const now = Date.now()
    this.db
      .prepare(`INSERT OR IGNORE INTO run_uploads (run, destination, created_at, updated_at) VALUES (?, ?, ?, ?)`)
      .run(run, destination, now, now)
    return this.get(run, destination)!
  }

  get(run: string, destination: string): UploadJob | undefined {
    const row = this.db.prepare('SELECT * FROM run_uploads WHERE run = ? AND destination = ?').get(run, destination) as
      UploadRow | undefined
    return row && toJob(row)
  }

  /** Every job of a run (one per destination). */
  ofRun(run: string): UploadJob[] {
    return (this.db.prepare('SELECT * FROM run_uploads WHERE run = ? ORDER BY destination').all(run) as UploadRow[]).map(toJob)
  }

  /** Pending jobs, oldest first (all, or one run's). */
  pending(run?: string): UploadJob[] {
    const rows = this.db
      .prepare(`SELECT * FROM run_uploads WHERE state = 'pending' ${run === undefined ? '' : 'AND run = ?'} ORDER BY created_at, run`)
      .all(...(run === undefined ? [] : [run])) as UploadRow[]
    return rows.map(toJob)
  }

  /**
   * Claims a pending job for `leaseMs`. `ignoreBackoff` takes it even when its retry time has not come (an
   * explicit `pf run sync`). Undefined when it is done, gone, or leased by another process.
   */
  claim(run: string, destination: string, leaseMs: number, ignoreBackoff = false): UploadJob | undefined {
    return this.db
      .transaction(() => {
        const now = Date.now()
        const row = this.db.prepare('SELECT * FROM run_uploads WHERE run = ? AND destination = ?').get(run, destination) as
          UploadRow | undefined
        if (!row || row.state !== 'pending') return undefined
        if (!ignoreBackoff && row.next_attempt_at > now) return undefined
        // Leased by a live process: leave it. A dead holder's lease (crash, SIGKILL) is taken back at once.
        if (row.claimed_until > now && row.claimed_by !== process.pid && processAlive(row.claimed_by)) return undefined
        this.db
          .prepare('UPDATE run_uploads SET claimed_until = ?, claimed_by = ? WHERE run = ? AND destination = ?')
          .run(now + leaseMs, process.pid, run, destination)
        return toJob({...row, claimed_until: now + leaseMs})
      })
      .immediate()
  }

  /** Records a finished step and its result (merged into `steps`), and extends the lease. */
  recordStep(run: string, destination: string, step: string, result: unknown, leaseMs: number): void {
    const now = Date.now()
    this.db
      .transaction(() => {
        const job = this.get(run, destination)
        if (!job) return
        const steps = {...job.steps, [step]: result ?? true}
        this.db
          .prepare('UPDATE run_uploads SET steps = ?, updated_at = ?, claimed_until = ? WHERE run = ? AND destination = ?')
          .run(JSON.stringify(steps), now, now + leaseMs, run, destination)
      })
      .immediate()
  }

  /** Settles a claimed job: done, or pending again from `retryAt` with the error that stopped it. */
  settle(run: string, destination: string, outcome: {done: true} | {done: false; error: string; retryAt: number}): void {
    const now = Date.now()
    if (outcome.done)
      this.db
        .prepare(
          `UPDATE run_uploads SET state = 'done', done_at = ?, updated_at = ?, claimed_until = 0, claimed_by = NULL, last_error = NULL, attempts = attempts + 1
           WHERE run = ? AND destination = ?`,
        )
        .run(now, now, run, destination)
    else
      this.db
        .prepare(
          `UPDATE run_uploads SET next_attempt_at = ?, updated_at = ?, claimed_until = 0, claimed_by = NULL, last_error = ?, attempts = attempts + 1
           WHERE run = ? AND destination = ?`,
        )
        .run(outcome.retryAt, now, outcome.error, run, destination)
  }

  /** Forgets a run's jobs (the run was deleted). */
  deleteRun(run: string): void {
    this.db.prepare('DELETE FROM run_uploads WHERE run = ?').run(run)
  }
}
