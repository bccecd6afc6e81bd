import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {setFlagsFromString} from 'node:v8'

import {pfHome} from '../paths.js'
import type {RegistryLoader} from '../tracing/registry.js'
import {ConfigService} from '../config/service.js'
import type {ConfigReader} from '../contract/destination.js'
import {ExitCode, PfError, describeLineError, isPfError} from '../errors.js'
import {redirectConsole} from '../flow/console.js'
import {type LineError, type LineResult, runLine, toLineError} from '../flow/executor.js'
import {resolveInputs} from '../flow/inputs.js'
import {loadFlow} from '../flow/load.js'
import type {LoadedFlow} from '../flow/types.js'
import {Attr, Resource} from '../contract/attributes.js'
import {startViewerForLinks} from '../service/lifecycle.js'
import {currentLineAttributes} from '../tracing/line-context.js'
import type {ServiceEndpoint, TraceLinks} from '../tracing/links.js'
import {type ExportReport, TracingSession, endIfHeldOpen, exportWaitMs} from '../tracing/session.js'
import {currentProcess} from '../util/process.js'
import {parseYaml} from '../util/yaml.js'
import {type DataLine, type DataSource, openData} from './data.js'
import {runConcurrently} from './executor.js'
import {RunFiles, RunFolder, runFolderPath} from './folder.js'
import {LineRecorder, type RunObserver} from './line-recorder.js'
import {type RecordedLine, columnsOf, completedLineNumbers, readRecordedLines} from './line-records.js'
import {type ColumnMapping, applyMapping, buildMapping, mappingText} from './mapping.js'
import {runAggregation} from './metrics.js'
import {type Run, RunRecords, runExists} from './records.js'
import {type UploadReport, enqueueRunUploads, finishRunUpload} from './upload-job.js'

export interface CreateRunOptions {
  flow?: string
  data?: string
  /** `--column-mapping` entries (override the YAML file's). */
  columnMapping?: Record<string, unknown>
  name?: string
  /** `${node.variant_id}` of a DAG flow (`variant:` in the run file). */
  variant?: string
  /** `--init` / `init:`: a flex class entry's init values. */
  init?: Record<string, unknown>
  /** `--environment-variables` / `environment_variables:` (values may be `${env:NAME}`). */
  environmentVariables?: Record<string, unknown>
  /** `--connections node.key=value` / `connections:` ({node: {connection, deployment_name…}}). */
  connections?: Record<string, Record<string, unknown>>
  displayName?: string
  workers?: number
  /** Base run of an evaluation run. */
  run?: string
  resumeFrom?: string
  /** A run YAML file (flow, data, column_mapping, run, name, display_name, tags); flags override it. */
  file?: string
  tags?: Record<string, string>
  /** Stored in the run's properties, as `pf run update --set description=…` does. */
  description?: string
  /** Seconds to wait for remote destinations at the end (default: trace.export_wait). */
  exportWaitSeconds?: number
  /** Seconds a line may take before it is recorded as failed (default: PF_LINE_TIMEOUT_SEC, else 600). */
  lineTimeoutSeconds?: number
  /** Seconds to wait for the run upload (run tracking) before leaving it to `pf run sync`. */
  uploadWaitSeconds?: number
  /** Seconds in-flight lines get to finish after a cancel. */
  cancelGraceSeconds?: number
  cwd?: string
}

export type {LineEvent, RunObserver} from './line-recorder.js'

export interface CreateRunResult {
  run: Run
  links?: TraceLinks
  export: ExportReport[]
  /** The run's upload to each workspace destination (run tracking). */
  upload?: UploadReport[]
}

export const defaultWorkers = 16
const runNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/

interface RunSpec {
  flow?: string
  data?: string
  columnMapping: Record<string, unknown>
  name?: string
  variant?: string
  init?: Record<string, unknown>
  environmentVariables?: Record<string, unknown>
  connections?: Record<string, Record<string, unknown>>
  displayName?: string
  run?: string
  resumeFrom?: string
  tags?: Record<string, string>
}

/** prompt flow's run YAML; relative paths are relative to the file. */
const readRunFile = async (file: string): Promise<RunSpec> => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new PfError('run_file_unreadable', `Cannot read run file ${file}: ${(error as Error).message}`)
  }
  const data = await parseYaml(text, file, 'run_file_invalid')
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw new PfError('run_file_invalid', `${file}: a run file must be a YAML mapping (flow, data, column_mapping, …).`)
  const spec = data as Record<string, unknown>
  const dir = path.dirname(file)
  const text_ = (key: string): string | undefined => {
    const v = spec[key]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string' || v.trim() === '') throw new PfError('run_file_invalid', `${file}: "${key}" must be a non-empty string.`)
    return v
  }
  const mapping = spec.column_mapping ?? {}
  if (typeof mapping !== 'object' || Array.isArray(mapping))
    throw new PfError('run_file_invalid', `${file}: "column_mapping" must be a mapping of input names to values.`)
  const tags = spec.tags ?? {}
  if (typeof tags !== 'object' || Array.isArray(tags)) throw new PfError('run_file_invalid', `${file}: "tags" must be a mapping.`)
  const flow = text_('flow')
  const data_ = text_('data')
  return {
    flow: flow && path.resolve(dir, flow),
    data: data_ && path.resolve(dir, data_),
    columnMapping: mapping as Record<string, unknown>,
    name: text_('name'),
    variant: text_('variant'),
    init: mappingOf(spec, 'init', file),
    environmentVariables: mappingOf(spec, 'environment_variables', file),
    connections: mappingOf(spec, 'connections', file) as Record<string, Record<string, unknown>> | undefined,
    displayName: text_('display_name'),
    run: text_('run'),
    resumeFrom: text_('resume_from'),
    tags: Object.fromEntries(Object.entries(tags as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
  }
}

const mappingOf = (spec: Record<string, unknown>, key: string, file: string): Record<string, unknown> | undefined => {
  const v = spec[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) throw new PfError('run_file_invalid', `${file}: "${key}" must be a mapping.`)
  return v as Record<string, unknown>
}

const mergeConnections = (...all: Array<Record<string, Record<string, unknown>> | undefined>): Record<string, Record<string, unknown>> => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const overrides of all) for (const [node, values] of Object.entries(overrides ?? {})) out[node] = {...out[node], ...values}
  return out
}

const timestamp = (d = new Date()): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('T', '_')
    .replace(/\.(\d+)Z$/, '_$1')

const flowDirectoryMacro = '${flow_directory}'

/**
 * Where run folders go: run.output_path as the user wrote it (relative to the current folder; `${flow_directory}`
 * is the flow's folder), else `<pf home>/.runs` — the reference's rules.
 */
const runsFolder = (configured: string | undefined, flow: string | undefined, cwd: string): string => {
  if (!configured) return path.join(pfHome(), '.runs')
  if (!configured.includes(flowDirectoryMacro)) return path.resolve(cwd, configured)
  if (!flow)
    throw new PfError(
      'invalid_value',
      `run.output_path uses ${flowDirectoryMacro}, which needs --flow; pass --flow or set run.output_path to a folder.`,
    )
  const flowDir = /\.ya?ml$/i.test(flow) ? path.dirname(flow) : flow
  return path.resolve(cwd, configured.replaceAll(flowDirectoryMacro, flowDir))
}

/** `<flow folder>_<yyyymmdd_hhmmss_mmm>`, with a counter if that name is taken. */
const generateName = (flowDir: string, records: RunRecords, outputBase: string): string => {
  const stem =
    path
      .basename(flowDir)
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .replace(/^[^A-Za-z0-9]+/, '') || 'run'
  const base = `${stem}_${timestamp()}`
  for (let i = 0; ; i++) {
    const name = i === 0 ? base : `${base}_${i}`
    if (!records.exists(name) && !existsSync(runFolderPath(outputBase, name))) return name
  }
}

interface Prepared {
  flow: LoadedFlow
  spec: RunSpec
  name: string
  outputBase: string
  config: ConfigReader
  baseRun?: {run: Run; lines: Map<number, RecordedLine>}
  /** The earlier run and the line numbers it completed (only numbers are held; its files are streamed). */
  resume?: {run: Run; completed: Set<number>}
}

/**
 * `pf run create`: runs a flow over every line of a data file, `workers` lines at a time, each line traced under
 * the run (collection = run name). Everything that can be wrong with the input is checked before the run row
 * and folder exist. A failing line is recorded and the run goes on.
 */
export const createRun = async (
  registry: RegistryLoader,
  options: CreateRunOptions,
  observer: RunObserver = {},
): Promise<CreateRunResult> => {
  const cwd = options.cwd ?? process.cwd()
  const fromFile = options.file ? await readRunFile(path.resolve(cwd, options.file)) : {columnMapping: {}}
  const spec: RunSpec = {
    flow: options.flow ? path.resolve(cwd, options.flow) : fromFile.flow,
    data: options.data ? path.resolve(cwd, options.data) : fromFile.data,
    columnMapping: {...fromFile.columnMapping, ...options.columnMapping},
    name: options.name ?? fromFile.name,
    variant: options.variant ?? fromFile.variant,
    init: {...fromFile.init, ...options.init},
    environmentVariables: {...fromFile.environmentVariables, ...options.environmentVariables},
    connections: mergeConnections(fromFile.connections, options.connections),
    displayName: options.displayName ?? fromFile.displayName,
    run: options.run ?? fromFile.run,
    resumeFrom: options.resumeFrom ?? fromFile.resumeFrom,
    tags: {...fromFile.tags, ...options.tags},
  }
  const workers = options.workers ?? defaultWorkers
  if (!Number.isInteger(workers) || workers < 1)
    throw new PfError('invalid_arguments', `--workers must be a whole number ≥ 1; got ${workers}.`)
  if (spec.name !== undefined && !runNamePattern.test(spec.name))
    throw new PfError(
      'invalid_run_name',
      `Run name "${spec.name}" may hold only letters, digits, "_", "-" and "." (starting with a letter or digit).`,
    )

  const {reader: config} = await new ConfigService(registry, cwd).load()
  const outputBase = runsFolder(config.string('run.output_path'), spec.flow, cwd)
  const records = RunRecords.open()
  let prepared: Prepared
  try {
    prepared = await prepare(spec, records, outputBase, config)
  } catch (error) {
    records.close()
    throw error
  }
  let result: CreateRunResult
  try {
    result = await execute(registry, prepared, records, {...options, workers, cwd}, observer)
  } finally {
    records.close()
  }
  const uploadWaitMs = result.run.status === 'Canceled' ? 0 : (options.uploadWaitSeconds ?? 60) * 1000
  const upload = await finishRunUpload(result.run.name, {waitMs: uploadWaitMs, config, cwd, progress: observer.upload})
  endIfHeldOpen(result.export)
  return {...result, upload}
}

const prepare = async (spec: RunSpec, records: RunRecords, outputBase: string, config: ConfigReader): Promise<Prepared> => {
  let resume: Prepared['resume']
  if (spec.resumeFrom) {
    const earlier = records.find(spec.resumeFrom)
    if (!earlier) throw new PfError('run_not_found', `Run "${spec.resumeFrom}" (--resume-from) not found; \`pf run list\` shows the runs.`)
    const conflicting = (['flow', 'data', 'run'] as const).filter(k => spec[k] !== undefined)
    if (conflicting.length > 0 || Object.keys(spec.columnMapping).length > 0)
      throw new PfError(
        'invalid_arguments',
        `--resume-from reruns ${earlier.name} with its own flow, data, column mapping and base run; leave out ${[...conflicting.map(k => `--${k}`), ...(Object.keys(spec.columnMapping).length > 0 ? ['--column-mapping'] : [])].join(', ')}.`,
      )
    spec.flow = earlier.flow
    spec.data = earlier.data ?? undefined
    spec.run = earlier.run ?? undefined
    spec.columnMapping = earlier.column_mapping
    if (typeof earlier.properties.node_variant === 'string') spec.variant ??= earlier.properties.node_variant
    resume = {run: earlier, completed: await completedLineNumbers(earlier.output_path)}
  }
  let baseRun: Prepared['baseRun']
  if (spec.run) {
    const base = records.find(spec.run)
    if (!base) throw new PfError('run_not_found', `Base run "${spec.run}" (--run) not found; \`pf run list\` shows the runs.`)
    baseRun = {run: base, lines: await readRecordedLines(base.output_path)}
    // An evaluation run without --data evaluates the base run's data.
    spec.data ??= base.data ?? undefined
  }
  if (spec.name !== undefined && (records.exists(spec.name) || existsSync(runFolderPath(outputBase, spec.name)))) throw runExists(spec.name)
  if (!spec.flow) throw new PfError('invalid_arguments', 'Missing --flow: pass the flow folder (or a run file with "flow:").')
  if (!spec.data)
    throw new PfError('invalid_arguments', "Missing --data: pass a .jsonl or .csv file (or --run to evaluate a base run's data).")
  // OpenTelemetry loads before user code (see TracingSession.preload).
  await TracingSession.preload(config)
  const flow = await loadFlow(spec.flow, {
    variant: spec.variant,
    init: spec.init,
    environmentVariables: spec.environmentVariables,
    connections: spec.connections,
  })
  const name = spec.name ?? generateName(flow.dir, records, outputBase)
  return {flow, spec: {...spec, name}, name, outputBase, config, baseRun, resume}
}

const execute = async (
  registry: RegistryLoader,
  {flow, spec, name, outputBase, config, baseRun, resume}: Prepared,
  records: RunRecords,
  options: CreateRunOptions & {workers: number; cwd: string},
  observer: RunObserver,
): Promise<CreateRunResult> => {
  const data = await openData(spec.data!)
  const mapping = buildMapping(flow, spec.columnMapping, {
    dataFile: data.file,
    data: data.columns,
    baseRun: baseRun && {name: baseRun.run.name, outputs: columnsOf(baseRun.lines, 'outputs'), inputs: columnsOf(baseRun.lines, 'inputs')},
  })
  // Tracing (and its destinations) must resolve before the run exists: a bad destination is a pre-run error.
  // A batch run's collection id is the run name (spec: Cosmos "Collection id").
  const session = await TracingSession.start({
    registry,
    config,
    collection: name,
    cwd: options.cwd,
    flowDir: flow.dir,
    resource: {[Resource.collectionId]: name},
    // Lines end by the thousand a second: written every 20 ms, not 100, their batches stay small. Larger ones raised
    // the peak RSS (200k lines of a trivial flow: 114–119 MB at 20 ms, 121–157 MB at 100 ms) and ran no faster.
    lineFlushMs: 20,
  })

  if (data.total >= longRunLines) keepHeapNearLiveSize()

  const outputPath = runFolderPath(outputBase, name)
  const reusedCount = resume ? [...resume.completed].filter(n => n < data.total).length : 0
  let run: Run
  let folder: RunFolder
  try {
    // The folder first, the record (status Running, started_at) second: the run's time is its lines', not its
    // set-up's, and a folder that cannot be made leaves no run behind.
    folder = RunFolder.create(outputPath)
  } catch (error) {
    await session?.finish(0)
    throw error
  }
  try {
    run = records.insert({
      name,
      displayName: spec.displayName,
      flow: flow.dir,
      data: data.file,
      baseRun: baseRun?.run.name,
      resumeFrom: resume?.run.name,
      columnMapping: mappingText(mapping),
      totalLines: data.total,
      outputPath,
      tags: spec.tags,
      properties: {
        pid: process.pid,
        ...(currentProcess().start === undefined ? {} : {pid_start: currentProcess().start}),
        workers: options.workers,
        ...(resume ? {reused_lines: reusedCount} : {}),
        ...(flow.variant ? {node_variant: flow.variant} : {}),
        ...(options.description === undefined ? {} : {description: options.description}),
      },
    })
  } catch (error) {
    folder.discard()
    await session?.finish(0)
    throw error
  }
  try {
    const startViewer = () => startViewerForLinks(config)
    return await runLines({
      flow,
      config,
      name,
      baseRun,
      resume,
      data,
      mapping,
      outputPath,
      run,
      folder,
      session,
      records,
      options,
      observer,
      startViewer,
    })
  } catch (error) {
    // pf's own failure mid-run (e.g. disk full): the run must not stay Running.
    records.abort(
      name,
      isPfError(error) ? {code: error.code, message: error.message} : {code: 'internal_error', message: (error as Error).message},
    )
    folder.close()
    await session?.finish(0)
    throw error
  }
}

interface RunContext {
  flow: LoadedFlow
  config: ConfigReader
  name: string
  baseRun: Prepared['baseRun']
  resume: Prepared['resume']
  data: DataSource
  mapping: ColumnMapping
  outputPath: string
  run: Run
  folder: RunFolder
  session: TracingSession | undefined
  records: RunRecords
  options: CreateRunOptions & {workers: number; cwd: string}
  observer: RunObserver
  /** Starts the viewer for the run's link (interactive terminals only). */
  startViewer: () => Promise<ServiceEndpoint | undefined>
}

/**
 * A long batch run streams its lines: what stays alive is small and flat (≈ 15–25 MB of heap), but V8 lets the heap
 * grow to several times that between full collections, so a 1M-line run peaked at 172 MB against 121 MB for 100k
 * lines. Growing it by at most 1.5× of what a collection leaves kept a 1M-line run at 126–129 MB, as fast. A short
 * run is left alone: it would only pay the extra collections (400 lines: 1.3 % slower). Process-wide: `pf run create`
 * runs nothing else, and a flow's own allocations only see more frequent full collections (docs/benchmarks.md).
 */
const longRunLines = 10_000
const keepHeapNearLiveSize = (): void => setFlagsFromString('--heap-growing-percent=50')

/** Runs the lines (copying those a resumed run completed), then ends the run. */
const runLines = async (ctx: RunContext): Promise<CreateRunResult> => {
  const {flow, name, baseRun, resume, data, mapping, run, folder, session, records, options, observer} = ctx
  folder.writeMeta(records.get(name))
  folder.log(`Run ${name} started: flow ${flow.dir}, data ${data.file} (${data.total} lines), ${options.workers} workers.`)
  observer.started?.(run)

  // A line that cannot be written (disk full) stops the run: no new lines start, the run ends Failed with that error.
  const stop = new AbortController()
  const recorder = new LineRecorder(name, flow, data.total, folder, records, observer, session && (() => session.spansRecorded()), () =>
    stop.abort(),
  )
  const reused = resume ? await recorder.copyResumed(resume) : new Set<number>()
  const lineTimeoutMs = (options.lineTimeoutSeconds ?? lineTimeoutDefault()) * 1000

  const runOne = async ({lineNumber, row}: DataLine): Promise<void> => {
    const base = baseRun?.lines.get(lineNumber)
    let inputs: Record<string, unknown>
    try {
      if (baseRun && !base?.outputs)
        throw new PfError(
          'base_line_missing',
          `Base run ${baseRun.run.name} has no outputs for line ${lineNumber} (it failed or did not run).`,
        )
      const given = applyMapping(mapping, row, base && {inputs: base.inputs ?? {}, outputs: base.outputs ?? {}}, lineNumber)
      const missing = Object.keys(flow.inputs).filter(
        k => !(k in given) && flow.inputs[k].default === undefined && flow.sample?.[k] === undefined,
      )
      if (missing.length > 0)
        throw new PfError(
          'missing_input',
          `Line ${lineNumber} has no value for ${missing.map(k => `"${k}" (${mappingText(mapping)[k] ?? 'unmapped'})`).join(', ')}.`,
        )
      inputs = resolveInputs(flow, given)
    } catch (error) {
      recorder.finish(lineNumber, undefined, {error: toLineError(error)})
      return
    }
    const attributes: Record<string, string | number> = {[Attr.batchRunId]: name, [Attr.lineNumber]: lineNumber}
    if (baseRun) {
      attributes[Attr.referencedBatchRunId] = baseRun.run.name
      attributes[Attr.referencedLineRunId] = lineRunIdOf(baseRun.run.name, lineNumber)
    }
    const result = await withLineTimeout(
      runLine(flow, inputs, {attributes, lineRunId: lineRunIdOf(name, lineNumber)}),
      lineTimeoutMs,
      lineNumber,
    )
    recorder.finish(lineNumber, inputs, result)
  }

  async function* pending(): AsyncGenerator<DataLine> {
    for await (const line of data.lines()) if (!reused.has(line.lineNumber)) yield line
  }

  // What the flow's code prints goes to the run's logs, with its line number (stdout is pf's: --json, --stream).
  const restoreConsole = redirectConsole(text => {
    const lineNumber = currentLineAttributes()?.[Attr.lineNumber]
    folder.log(`${lineNumber === undefined ? 'Flow' : `Line ${lineNumber}`}: ${text.trimEnd()}`)
  })
  const {canceled, abandoned} = await runConcurrently(pending(), options.workers, runOne, {
    signal: observer.signal ? AbortSignal.any([observer.signal, stop.signal]) : stop.signal,
    graceMs: (options.cancelGraceSeconds ?? 3) * 1000,
  }).finally(restoreConsole)
  // Every line has ended: their spans are written now, not on the batch timer (up to 20 ms), so the run ends sooner.
  session?.recordSpansNow()
  await recorder.settle()
  return finalizeRun(ctx, recorder, {canceled, abandoned})
}

/** Aggregation (unless canceled), the run's final status and meta.json, then the wait for remote destinations. */
const finalizeRun = async (
  {flow, config, name, data, outputPath, folder, session, records, options, observer, startViewer}: RunContext,
  {done, failed, aggregationLines}: LineRecorder,
  {canceled, abandoned}: {canceled: boolean; abandoned: number},
): Promise<CreateRunResult> => {
  let metrics: Record<string, number> | undefined
  let runError: {code: string; message: string} | undefined
  if (canceled) {
    const reason = observer.signal?.reason
    const how = typeof reason === 'string' ? `Canceled by ${reason}` : 'Canceled'
    folder.log(
      `Run ${name} canceled (${how}) after ${done} of ${data.total} lines${abandoned > 0 ? `; ${abandoned} line(s) in flight were abandoned` : ''}.`,
    )
    runError = {code: 'run_canceled', message: `${how} after ${done} of ${data.total} lines.`}
  } else {
    if (aggregationLines && flow.aggregate) {
      const lines = [...aggregationLines.entries()].sort(([a], [b]) => a - b).map(([, line]) => line)
      folder.log(`Aggregation over ${lines.length} completed line(s).`)
      const aggregation = await runAggregation(flow, lines, name)
      metrics = aggregation.metrics
      if (aggregation.error) {
        runError = {code: 'aggregation_failed', message: `Aggregation failed: ${describeLineError(aggregation.error)}`}
        folder.log(runError.message)
      } else if (Object.keys(metrics).length > 0) folder.log(`Metrics: ${JSON.stringify(metrics)}`)
    }
    if (failed > 0 && !runError)
      runError = {code: 'lines_failed', message: `${failed} of ${data.total} lines failed; see ${path.join(outputPath, RunFiles.errors)}.`}
  }
  const status = canceled ? 'Canceled' : runError ? 'Failed' : 'Completed'
  folder.log(`Run ${name} ${status}: ${done - failed} completed, ${failed} failed of ${data.total} lines.`)
  const run = records.finish(name, {status, completed: done - failed, failed, error: runError, metrics})
  folder.writeMeta(run)
  folder.close()

  if (session)
    enqueueRunUploads(
      session.store,
      name,
      session.remotes.map(r => r.destination),
    )
  // No exit on a held export here: the run's upload (createRun) still has to happen; createRun releases it after.
  const exportReports = session ? await session.finish(canceled ? 0 : exportWaitMs(config, options.exportWaitSeconds)) : []
  const links = session ? await session.links({run: name, collection: name}, startViewer) : undefined
  return {run, links, export: exportReports}
}

/** prompt flow's per-line limit: 600 s, or PF_LINE_TIMEOUT_SEC (the reference's variable). */
export const defaultLineTimeoutSeconds = 600
const lineTimeoutDefault = (): number => {
  const fromEnv = Number(process.env.PF_LINE_TIMEOUT_SEC)
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : defaultLineTimeoutSeconds
}

/**
 * A line that has not ended after `ms` is recorded as failed with a timeout error and its worker moves on (JavaScript
 * cannot stop the flow's code; whatever it still does is ignored, and its trace, never ended, is not recorded).
 */
const withLineTimeout = async (line: Promise<LineResult>, ms: number, lineNumber: number): Promise<LineResult | {error: LineError}> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<{error: LineError}>(resolve => {
    timer = setTimeout(
      () =>
        resolve({error: {type: 'LineTimeoutError', message: `Line ${lineNumber} did not finish within ${ms / 1000} s (--line-timeout).`}}),
      ms,
    )
  })
  try {
    return await Promise.race([line, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** prompt flow's line run id of a batch line. */
export const lineRunIdOf = (run: string, lineNumber: number): string => `${run}_${lineNumber}`

/** The error a command raises for a run that did not complete (its `--json` error still carries the run). */
export const runOutcomeError = (result: CreateRunResult, interruptedExit: number = ExitCode.interrupted): PfError | undefined => {
  const {run} = result
  if (run.status === 'Completed') return undefined
  const details = {run, links: result.links, export: result.export}
  if (run.status === 'Canceled')
    return new PfError(
      'run_canceled',
      `Run ${run.name} canceled after ${run.completed_lines + run.failed_lines} of ${run.total_lines} lines; outputs so far are in ${run.output_path}.`,
      interruptedExit,
      details,
    )
  if (run.error?.code === 'aggregation_failed')
    return new PfError('run_failed', `Run ${run.name} failed: ${run.error.message}`, ExitCode.failure, details)
  return new PfError(
    'run_failed',
    `Run ${run.name} failed: ${run.failed_lines} of ${run.total_lines} lines failed; see ${path.join(run.output_path, RunFiles.errors)}.`,
    ExitCode.failure,
    details,
  )
}
