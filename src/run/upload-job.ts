/**
 * Run uploads as durable jobs (run tracking). When a run ends with a workspace destination, a job row is written
 * in the local store; the upload then runs its steps, recording each one as done. A crash, an outage or a missing
 * role leaves the job pending where it stopped; `pf run sync` / `pf trace sync` finish it. Nothing is dropped.
 */
import {isPfError} from '../errors.js'
import type {ConfigReader, DestinationContext, ResolvedDestination} from '../contract/destination.js'
import type {AzureMlDestination} from '../destinations/azureml/provider.js'
import {pfHome} from '../paths.js'
import {type UploadJob, RunUploadQueue} from '../store/run-uploads.js'
import {TraceStore} from '../store/store.js'
import {backoffMs} from '../tracing/outbox.js'
import {RunRecords} from './records.js'

/** Destinations that take run uploads (the others get the run's spans only). */
const uploadsTo = (dest: ResolvedDestination) => dest.scheme === 'azureml'

/** A job's lease: long enough for a big upload's slowest step; a crashed process's lease expires after it. */
const leaseMs = 5 * 60_000
/** Retry delay cap, and the delay after an error the user must fix (sign-in, role, base run). */
const maxBackoffMs = 5 * 60_000

export interface UploadReport {
  run: string
  /** The destination value (e.g. the workspace id). */
  destination: string
  state: 'done' | 'pending'
  portalUrl?: string
  /** Why it is still pending (the last error). */
  error?: string
  /** Its machine-readable code, when pf knows it (e.g. storage_forbidden, base_run_not_in_workspace). */
  code?: string
  warnings: string[]
}

export interface DriveOptions {
  /** ms epoch: stop trying then; what is left stays pending. */
  deadline: number
  /** Try now even when a job's retry time has not come (an explicit sync). */
  ignoreBackoff?: boolean
  config: ConfigReader
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Progress of the upload steps (the progress bar and `--stream` show it). */
  progress?: (run: string, message: string) => void
}

/** Adds an upload job per destination that takes runs; returns the destinations queued. */
export const enqueueRunUploads = (store: TraceStore, run: string, destinations: ResolvedDestination[]): ResolvedDestination[] => {
  const queue = new RunUploadQueue(store)
  const targets = destinations.filter(uploadsTo)
  for (const dest of targets) {
    store.saveDestination(dest)
    queue.enqueue(run, dest.key)
  }
  return targets
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

const isTransient = (error: unknown) => (error as Error)?.name === 'TransientAzureError'

/**
 * Runs pending upload jobs (those of `runs`, or all) until each is done or `deadline` passes. A transient
 * failure is retried with backoff while time is left; an error the user must fix stops that job at once.
 */
export const driveRunUploads = async (store: TraceStore, runs: string[] | undefined, options: DriveOptions): Promise<UploadReport[]> => {
  const queue = new RunUploadQueue(store)
  const jobs = runs === undefined ? queue.pending() : runs.flatMap(r => queue.ofRun(r))
  const destinations = new Map(store.destinations().map(d => [d.key, d]))
  const reports = new Map<string, UploadReport>()
  const records = RunRecords.open(options.env)
  const dropped = new Set<string>()

  const drive = async (job: UploadJob, depth = 0): Promise<UploadReport> => {
    const id = `${job.run}|${job.destination}`
    const known = reports.get(id)
    if (known) return known
    const dest = destinations.get(job.destination)
    const report: UploadReport = {run: job.run, destination: dest?.value ?? job.destination, state: job.state, warnings: []}
    if (job.state === 'done') {
      report.portalUrl = job.steps.portal as string | undefined
      reports.set(id, report)
      return report
    }
    if (!dest) {
      report.error = `the destination ${job.destination} is no longer recorded in the store`
      reports.set(id, report)
      return report
    }
    const run = records.find(job.run)
    if (!run) {
      // The run was deleted (`pf run delete`): there is nothing left to upload.
      queue.deleteRun(job.run)
      dropped.add(id)
      report.error = `run ${job.run} was deleted`
      reports.set(id, report)
      return report
    }
    // An evaluation run goes up after its base run: finish the base run's pending upload first; while it is
    // pending, the evaluation run waits (not tried: the workspace would not know its base run yet).
    if (run.run && depth === 0) {
      const base = queue.get(run.run, job.destination)
      const baseReport = base && base.state === 'pending' ? await drive(base, depth + 1) : undefined
      if (baseReport?.state === 'pending') {
        report.error = `waiting for the upload of base run ${run.run}${baseReport.error ? ` (${baseReport.error.replace(/\.$/, '')})` : ''}`
        reports.set(id, report)
        return report
      }
    }
    const ctx: DestinationContext = {cwd: options.cwd ?? process.cwd(), config: options.config, env: options.env ?? process.env}
    const {AzureMlRunUploader} = await import('../destinations/azureml/run-upload.js')
    const uploader = new AzureMlRunUploader(dest as AzureMlDestination, ctx)
    let ignoreBackoff = options.ignoreBackoff ?? false
    for (;;) {
      const claimed = queue.claim(job.run, job.destination, leaseMs, ignoreBackoff)
      if (!claimed) {
        const current = queue.get(job.run, job.destination)
        if (current?.state === 'done') {
          Object.assign(report, {state: 'done', portalUrl: current.steps.portal as string | undefined, error: undefined, code: undefined})
          break
        }
        // Leased by another pf process (poll), or waiting out a retry delay: wait while time is left.
        const wakeAt = Math.max(current?.nextAttemptAt ?? Number.POSITIVE_INFINITY, Date.now() + 200)
        if (wakeAt >= options.deadline) {
          report.error ??= current?.lastError ?? 'another pf process is uploading this run'
          break
        }
        await sleep(wakeAt - Date.now())
        continue
      }
      const steps = {...claimed.steps}
      try {
        const {RunLayout} = await import('./cloud-layout.js')
        const layout = await RunLayout.load(run, store)
        const result = await uploader.upload(
          {
            bulkRun: {
              name: run.name,
              displayName: run.display_name,
              status: run.status,
              createdOn: run.created_on,
              endedOn: run.ended_at,
              description: typeof run.properties.description === 'string' ? run.properties.description : undefined,
              tags: run.tags,
              baseRun: run.run,
              flowFolderName: layout.facts.flowFolderName,
              flowFile: layout.facts.flowFile,
              tokens: layout.facts.tokens,
            },
            metrics: layout.facts.metrics,
            blobs: () => layout.blobs(),
            blobCount: layout.blobCount,
          },
          {
            get: step => steps[step],
            record: (step, result) => {
              steps[step] = result ?? true
              queue.recordStep(job.run, job.destination, step, result, leaseMs)
            },
          },
          options.progress && (message => options.progress!(job.run, message)),
        )
        queue.settle(job.run, job.destination, {done: true})
        Object.assign(report, {state: 'done', portalUrl: result.portalUrl, error: undefined, code: undefined, warnings: result.warnings})
        break
      } catch (error) {
        const message = (error as Error).message
        const transient = isTransient(error) || (!isPfError(error) && !(error instanceof TypeError))
        const delay = transient ? backoffMs(claimed.attempts, maxBackoffMs) : maxBackoffMs
        queue.settle(job.run, job.destination, {done: false, error: message, retryAt: Date.now() + delay})
        Object.assign(report, {state: 'pending', error: message, code: isPfError(error) ? error.code : undefined})
        if (!transient || Date.now() + Math.min(delay, 500) >= options.deadline) break
        ignoreBackoff = false
      }
    }
    reports.set(id, report)
    return report
  }

  try {
    for (const job of jobs) await drive(job)
  } finally {
    records.close()
  }
  return jobs
    .map(j => `${j.run}|${j.destination}`)
    .filter(id => !dropped.has(id))
    .map(id => reports.get(id)!)
}

/** What the store says about jobs, without trying them. */
const reportsOf = (store: TraceStore, jobs: UploadJob[]): UploadReport[] => {
  const destinations = new Map(store.destinations().map(d => [d.key, d.value]))
  return jobs.map(job => ({
    run: job.run,
    destination: destinations.get(job.destination) ?? job.destination,
    state: job.state,
    portalUrl: job.steps.portal as string | undefined,
    error: job.state === 'pending' ? (job.lastError ?? undefined) : undefined,
    warnings: [],
  }))
}

/** The upload state of a run, for `pf run show`. */
export const uploadStateOf = (name: string, env: NodeJS.ProcessEnv = process.env): UploadReport[] => {
  const store = TraceStore.openExisting(pfHome(env))
  if (!store) return []
  try {
    return reportsOf(store, new RunUploadQueue(store).ofRun(name))
  } finally {
    store.close()
  }
}

/**
 * The end of `pf run create`: uploads the run to the workspaces it was queued for, within `waitMs`. What is not
 * done by then stays pending (its report says why).
 */
export const finishRunUpload = async (
  run: string,
  options: {waitMs: number; config: ConfigReader; cwd?: string; env?: NodeJS.ProcessEnv; progress?: (message: string) => void},
): Promise<UploadReport[]> => {
  const store = TraceStore.openExisting(pfHome(options.env))
  if (!store) return []
  try {
    const jobs = new RunUploadQueue(store).ofRun(run)
    if (jobs.length === 0) return []
    // No time to wait (`--upload-wait 0`, or the run was interrupted): the jobs stay queued for `pf run sync`.
    if (options.waitMs <= 0) return reportsOf(store, jobs)
    return await driveRunUploads(store, [run], {
      deadline: Date.now() + options.waitMs,
      config: options.config,
      cwd: options.cwd,
      env: options.env,
      progress: options.progress && ((_, message) => options.progress!(message)),
    })
  } finally {
    store.close()
  }
}

/** `pf run sync` / `pf trace sync`: finishes pending uploads (of `runs`, or all), trying now whatever their backoff. */
export const syncRunUploads = async (
  runs: string[] | undefined,
  options: {
    timeoutMs: number
    config: ConfigReader
    cwd?: string
    env?: NodeJS.ProcessEnv
    progress?: (run: string, message: string) => void
  },
): Promise<UploadReport[]> => {
  const store = TraceStore.openExisting(pfHome(options.env))
  if (!store) return []
  try {
    return await driveRunUploads(store, runs, {...options, deadline: Date.now() + options.timeoutMs, ignoreBackoff: true})
  } finally {
    store.close()
  }
}
