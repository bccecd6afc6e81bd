import {createReadStream, existsSync} from 'node:fs'
import path from 'node:path'
import {createInterface} from 'node:readline'

import type Database from 'better-sqlite3'

import type {RunRow} from '../store/store.js'
import {type RunTotals, evaluationRuns, lineStats, runRows, runTotals} from './run-queries.js'
import {parseJsonOrText} from '../util/json.js'
import {summaryCap} from './values.js'

/** A run as the runs page and comparisons show it. */
export interface RunSummary {
  name: string
  display_name: string | null
  status: string
  flow: string
  data: string | null
  /** The run this one evaluates (`--run`), if any. */
  base_run: string | null
  created_at: string
  started_at: string | null
  ended_at: string | null
  /** Seconds from start to end (to now while running); null before it starts. */
  duration: number | null
  total_lines: number | null
  completed_lines: number
  failed_lines: number
  tokens: {prompt: number; completion: number; total: number} | null
  metrics: Record<string, unknown>
  tags: Record<string, unknown>
  archived: boolean
  /** Runs that evaluate this one. */
  evaluation_runs: string[]
  error: unknown
}

const parseObject = (text: string | null): Record<string, unknown> => {
  if (!text) return {}
  try {
    const value = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {}
  } catch {
    return {}
  }
}

export const toRunSummary = (row: RunRow, totals: RunTotals | undefined, evaluations: string[] = []): RunSummary => {
  const end = row.ended_at ? Date.parse(row.ended_at) : row.status === 'Running' ? Date.now() : undefined
  return {
    name: row.name,
    display_name: row.display_name,
    status: row.status,
    flow: row.flow,
    data: row.data,
    base_run: row.base_run,
    created_at: row.created_at,
    started_at: row.started_at,
    ended_at: row.ended_at,
    duration: row.started_at && end !== undefined ? Math.max(0, (end - Date.parse(row.started_at)) / 1000) : null,
    total_lines: row.total_lines,
    completed_lines: row.completed_lines,
    failed_lines: row.failed_lines,
    tokens:
      totals && totals.total_tokens !== null
        ? {prompt: totals.prompt_tokens ?? 0, completion: totals.completion_tokens ?? 0, total: totals.total_tokens}
        : null,
    metrics: parseObject(row.metrics),
    tags: parseObject(row.tags),
    archived: row.archived !== 0,
    evaluation_runs: evaluations,
    error: row.error === null ? null : parseJsonOrText(row.error),
  }
}

export interface CompareCell {
  status: 'Completed' | 'Failed' | 'Missing'
  output?: unknown
  error?: string
  traceId?: string
  latency?: number
  tokens?: number | null
  /** Evaluation outputs of this line, keyed `<evaluation flow>/<output>`. */
  scores: Record<string, unknown>
}

export interface CompareLine {
  lineNumber: number
  inputs: unknown
  cells: CompareCell[]
  /** The runs' outputs are not all equal. */
  differs: boolean
  /** Some run failed (or lacks) this line. */
  failed: boolean
}

export interface Comparison {
  runs: RunSummary[]
  /** Metric names over all runs: their own, then their evaluation runs' as `<evaluation flow>/<metric>`. */
  metricNames: string[]
  /** Per run, metric name → value (own and evaluation metrics). */
  metrics: Array<Record<string, unknown>>
  scoreNames: string[]
  lines: CompareLine[]
  /** Distinct line numbers over the runs; more than `lines.length` when capped. */
  lineCount: number
}

export const maxCompareRuns = 5
export const maxCompareLines = 2000

/** Values in the table are previews: long ones cut to the summary cap (the trace has the full value). */
const capValue = (value: unknown): unknown => {
  if (value === undefined || value === null) return value
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > summaryCap ? text.slice(0, summaryCap) + '…' : value
}

/** How an evaluation run's metrics and scores are prefixed: its flow folder's name. */
export const evaluationName = (run: Pick<RunRow, 'flow' | 'name'>) =>
  path.basename(run.flow.replace(/[\\/](flow\.(flex|dag)\.ya?ml)$/i, '')) || run.name

/**
 * A run folder's JSON Lines files, read the way `pf run show-details` reads them (src/run: the service layer may
 * not import it): a missing file is empty, a torn line is skipped, each row carries `line_number`.
 */
const runFiles = {inputs: 'inputs.jsonl', outputs: 'outputs.jsonl', errors: 'errors.jsonl'}

async function* readRows(file: string): AsyncGenerator<Record<string, unknown> & {line_number: number}> {
  if (!existsSync(file)) return
  const input = createReadStream(file, {encoding: 'utf8'})
  const reader = createInterface({input, crlfDelay: Infinity})
  try {
    for await (const line of reader) {
      if (line.trim() === '') continue
      try {
        const row = JSON.parse(line)
        if (row && typeof row === 'object' && !Array.isArray(row) && typeof row.line_number === 'number') yield row
      } catch {
        // A torn line (a run killed mid-write) is skipped.
      }
    }
  } finally {
    reader.close()
    input.destroy()
  }
}

const withoutLineNumber = ({line_number: _, ...rest}: Record<string, unknown>): Record<string, unknown> => rest

/** A flow output back from its outputs.jsonl row: a non-object output was written as `{"output": value}`. */
const outputOf = (row: Record<string, unknown>): unknown => {
  const values = withoutLineNumber(row)
  const keys = Object.keys(values)
  return keys.length === 1 &&
    keys[0] === 'output' &&
    (typeof values.output !== 'object' || values.output === null || Array.isArray(values.output))
    ? values.output
    : values
}

interface FolderLines {
  inputs: Map<number, unknown>
  outputs: Map<number, unknown>
  errors: Map<number, string>
}

const readFolder = async (dir: string): Promise<FolderLines> => {
  const lines: FolderLines = {inputs: new Map(), outputs: new Map(), errors: new Map()}
  for await (const row of readRows(path.join(dir, runFiles.inputs))) lines.inputs.set(row.line_number, withoutLineNumber(row))
  for await (const row of readRows(path.join(dir, runFiles.outputs))) lines.outputs.set(row.line_number, outputOf(row))
  for await (const row of readRows(path.join(dir, runFiles.errors))) {
    const error = row.error as {type?: string; message?: string} | undefined
    lines.errors.set(row.line_number, [error?.type, error?.message].filter(Boolean).join(': ') || 'failed')
  }
  return lines
}

/**
 * Compares runs line by line: each run's metrics (its own and its evaluation runs'), and per line number the
 * inputs (once), each run's output or error and evaluation scores, whether the outputs differ, whether any
 * failed. Line data comes from the run folders (what `pf run show-details` reads); trace ids, latency and tokens
 * from the store. Throws a `run_not_found` message naming the first unknown run.
 */
export const compareRuns = async (db: Database.Database, names: string[]): Promise<Comparison> => {
  const rows = runRows(db, names)
  const byName = new Map(rows.map(r => [r.name, r]))
  const missing = names.find(n => !byName.has(n))
  if (missing !== undefined) throw Object.assign(new Error(`No run named "${missing}" in the local store.`), {code: 'run_not_found'})
  const ordered = names.map(n => byName.get(n)!)
  const totals = runTotals(db, names)
  const evaluations = evaluationRuns(db, names)
  const evalRows = new Map(runRows(db, [...evaluations.values()].flat()).map(r => [r.name, r]))

  const metrics = ordered.map(run => {
    const values: Record<string, unknown> = {...parseObject(run.metrics)}
    for (const evalName of evaluations.get(run.name) ?? []) {
      const evalRun = evalRows.get(evalName)
      if (evalRun) for (const [k, v] of Object.entries(parseObject(evalRun.metrics))) values[`${evaluationName(evalRun)}/${k}`] = v
    }
    return values
  })
  const metricNames = [...new Set(metrics.flatMap(m => Object.keys(m)))]

  const folders = await Promise.all(ordered.map(run => readFolder(run.output_path)))
  const evalFolders = await Promise.all(
    ordered.map(async run =>
      Promise.all(
        (evaluations.get(run.name) ?? [])
          .flatMap(n => (evalRows.has(n) ? [n] : []))
          .map(async n => ({name: evaluationName(evalRows.get(n)!), lines: await readFolder(evalRows.get(n)!.output_path)})),
      ),
    ),
  )
  const stats = ordered.map(run => new Map(lineStats(db, run.name).map(s => [s.line_number, s])))

  const numbers = new Set<number>()
  for (const f of folders) for (const map of [f.inputs, f.outputs, f.errors]) for (const n of map.keys()) numbers.add(n)
  for (const s of stats) for (const n of s.keys()) numbers.add(n)
  const sorted = [...numbers].sort((a, b) => a - b)
  const scoreNames = new Set<string>()

  const lines = sorted.slice(0, maxCompareLines).map((lineNumber): CompareLine => {
    const cells = ordered.map((_, i): CompareCell => {
      const folder = folders[i]
      const stat = stats[i].get(lineNumber)
      const scores: Record<string, unknown> = {}
      for (const evaluation of evalFolders[i]) {
        const out = evaluation.lines.outputs.get(lineNumber)
        if (out && typeof out === 'object' && !Array.isArray(out))
          for (const [k, v] of Object.entries(out)) {
            scores[`${evaluation.name}/${k}`] = capValue(v)
            scoreNames.add(`${evaluation.name}/${k}`)
          }
      }
      const common = {traceId: stat?.trace_id, latency: stat?.latency, tokens: stat?.total_tokens, scores}
      if (folder.errors.has(lineNumber) || (stat?.status === 'Error' && !folder.outputs.has(lineNumber)))
        return {status: 'Failed', error: folder.errors.get(lineNumber) ?? 'failed (see the trace)', ...common}
      if (folder.outputs.has(lineNumber)) return {status: 'Completed', output: capValue(folder.outputs.get(lineNumber)), ...common}
      return {status: stat ? 'Completed' : 'Missing', ...common}
    })
    const inputs = folders.find(f => f.inputs.has(lineNumber))?.inputs.get(lineNumber) ?? null
    const outputs = cells.map(c => (c.status === 'Completed' ? JSON.stringify(c.output ?? null) : `!${c.status}`))
    return {
      lineNumber,
      inputs: capValue(inputs),
      cells,
      differs: cells.length > 1 && new Set(outputs).size > 1,
      failed: cells.some(c => c.status !== 'Completed'),
    }
  })

  return {
    runs: ordered.map(r => toRunSummary(r, totals.get(r.name), evaluations.get(r.name))),
    metricNames,
    metrics,
    scoreNames: [...scoreNames],
    lines,
    lineCount: sorted.length,
  }
}
