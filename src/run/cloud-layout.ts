import {existsSync, readFileSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {locateFlow, readFlowYaml} from '../flow/definition.js'
import {RunLinesReader} from '../store/run-lines.js'
import type {LineRunRow, TraceStore} from '../store/store.js'
import type {SpanRecord} from '../contract/destination.js'
import {Attr} from '../contract/attributes.js'
import {type DataRow, readJsonLines} from './data.js'
import {RunFiles} from './folder.js'
import {withoutLineNumber} from './line-records.js'
import type {Run} from './records.js'

/**
 * prompt flow's run layout, built at upload time from pf's run folder (inputs/outputs/errors/logs) and the trace
 * store (line runs, node spans). pf's run folder keeps its own layout; see docs/run-tracking.md.
 */

/** Which datastore a blob goes to: the default one (workspaceblobstore) or the artifact one (executionlogs). */
export type LayoutDatastore = 'default' | 'artifact'

export interface LayoutBlob {
  datastore: LayoutDatastore
  path: string
  body: string | Buffer
}

/** Line records per blob in flow_artifacts (the reference's merge size; meta.json says so). */
export const linesPerBlob = 25

/** Folders of a flow never copied into the snapshot. */
const snapshotSkip = new Set(['node_modules', '.git', '__pycache__', '.runs', '.promptflow'])

const pad9 = (n: number) => String(n).padStart(9, '0')

/** Times the way the reference writes them (Python isoformat: no `Z`). */
const isoNoZ = (time: string | null | undefined): string | null => (time ? time.replace(/Z$/, '') : null)

const parseJson = (text: unknown): unknown => {
  if (typeof text !== 'string') return text ?? null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const seconds = (start: string | null, end: string | null) => (start && end ? (Date.parse(end) - Date.parse(start)) / 1000 : 0)

interface LineFacts {
  lineNumber: number
  inputs?: DataRow
  outputs?: DataRow
  error?: {type?: string; message?: string}
  lineRun?: LineRunRow
}

export interface RunLayoutFacts {
  /** The flow file inside the snapshot (e.g. flow.dag.yaml). */
  flowFile: string
  flowFolderName: string
  tokens: {total: number; completion: number; prompt: number}
  /** `__pf__.*` system metrics, then the run's own (numbers only), as the metric service takes them. */
  metrics: Record<string, number>
}

/** A finished run read into prompt flow's layout. Holds one record per line (not the blobs). */
export class RunLayout {
  private constructor(
    readonly run: Run,
    private readonly lines: LineFacts[],
    private readonly nodeSpans: Array<{node: string; lineNumber: number | null; span: SpanRecord}>,
    private readonly lineLogs: Map<number, string>,
    readonly facts: RunLayoutFacts,
    private readonly flowDir: string,
  ) {}

  static async load(run: Run, store: TraceStore): Promise<RunLayout> {
    const dir = run.output_path
    const lines = new Map<number, LineFacts>()
    const line = (n: number) => lines.get(n) ?? lines.set(n, {lineNumber: n}).get(n)!
    for await (const row of readJsonLines(path.join(dir, RunFiles.inputs)))
      if (typeof row.line_number === 'number') line(row.line_number).inputs = withoutLineNumber(row)
    for await (const row of readJsonLines(path.join(dir, RunFiles.outputs)))
      if (typeof row.line_number === 'number') line(row.line_number).outputs = withoutLineNumber(row)
    for await (const row of readJsonLines(path.join(dir, RunFiles.errors)))
      if (typeof row.line_number === 'number') line(row.line_number).error = (row.error ?? {}) as LineFacts['error']

    const reader = new RunLinesReader(store)
    const roots = new Map<string, number | null>()
    for (const lineRun of reader.lineRuns(run.name)) {
      roots.set(lineRun.trace_id, lineRun.line_number)
      if (lineRun.line_number !== null && lines.has(lineRun.line_number)) line(lineRun.line_number).lineRun = lineRun
    }

    const {file: flowFilePath, kind} = flowFileOf(run.flow)
    const nodeNames = kind === 'dag' && flowFilePath ? await dagNodeNames(flowFilePath) : new Set<string>()
    const nodeSpans: Array<{node: string; lineNumber: number | null; span: SpanRecord}> = []
    if (nodeNames.size > 0)
      for (const span of reader.rootChildren(run.name))
        if (nodeNames.has(span.name)) nodeSpans.push({node: span.name, lineNumber: roots.get(span.context.trace_id) ?? null, span})

    const metrics: Record<string, number> = {}
    const sorted = [...lines.values()].sort((a, b) => a.lineNumber - b.lineNumber)
    const completed = sorted.filter(l => !l.error).length
    metrics['__pf__.lines.completed'] = completed
    metrics['__pf__.lines.failed'] = sorted.length - completed
    for (const {node, span} of nodeSpans) {
      const key = `__pf__.nodes.${node}.${span.status.status_code === 'Error' ? 'failed' : 'completed'}`
      metrics[key] = (metrics[key] ?? 0) + 1
    }
    for (const [name, value] of Object.entries(run.metrics)) if (typeof value === 'number' && Number.isFinite(value)) metrics[name] = value

    return new RunLayout(
      run,
      sorted,
      nodeSpans,
      readLineLogs(path.join(dir, RunFiles.logs)),
      {
        flowFile: flowFilePath ? path.relative(run.flow, flowFilePath).split(path.sep).join('/') : 'flow.flex.yaml',
        flowFolderName: path.basename(run.flow),
        tokens: reader.tokens(run.name),
        metrics,
      },
      run.flow,
    )
  }

  get lineCount(): number {
    return this.lines.length
  }

  /** How many blobs `blobs()` yields (for progress). */
  get blobCount(): number {
    const lines = this.lines.length
    return Math.ceil(lines / linesPerBlob) + 1 + this.nodeSpans.length + 1 + lines + 1 + snapshotFiles(this.flowDir).length + 1
  }

  /** The line's FlowRunInfo, as the reference serializes it. */
  private runInfo(l: LineFacts): Record<string, unknown> {
    const run = this.run.name
    const start = isoNoZ(l.lineRun?.start_time ?? this.run.started_at)
    const end = isoNoZ(l.lineRun?.end_time ?? this.run.ended_at)
    const output = l.outputs ?? null
    return {
      run_id: `${run}_${l.lineNumber}`,
      status: l.error ? 'Failed' : 'Completed',
      error: l.error ? {message: l.error.message ?? '', code: 'UserError', type: l.error.type ?? 'Error'} : null,
      inputs: l.inputs ?? null,
      output,
      metrics: null,
      request: null,
      parent_run_id: run,
      root_run_id: run,
      source_run_id: null,
      flow_id: 'default_flow_id',
      start_time: start,
      end_time: end,
      index: l.lineNumber,
      api_calls: [],
      name: '',
      description: '',
      tags: null,
      system_metrics: {
        duration: seconds(l.lineRun?.start_time ?? null, l.lineRun?.end_time ?? null),
        prompt_tokens: l.lineRun?.prompt_tokens ?? 0,
        completion_tokens: l.lineRun?.completion_tokens ?? 0,
        total_tokens: l.lineRun?.total_tokens ?? 0,
      },
      result: output,
      upload_metrics: false,
      otel_trace_id: l.lineRun ? `0x${l.lineRun.trace_id.replace(/^0x/, '')}` : null,
      message_format: 'basic',
    }
  }

  /** `{line_number, run_info, start_time, end_time, name, description, status, tags}` (the reference's LineRunRecord). */
  lineRecord(l: LineFacts): Record<string, unknown> {
    const info = this.runInfo(l)
    return {
      line_number: l.lineNumber,
      run_info: info,
      start_time: info.start_time,
      end_time: info.end_time,
      name: '',
      description: '',
      status: info.status,
      tags: null,
    }
  }

  private nodeRecord({node, lineNumber, span}: {node: string; lineNumber: number | null; span: SpanRecord}): Record<string, unknown> {
    const run = this.run.name
    const a = span.attributes
    const status = span.status.status_code === 'Error' ? 'Failed' : 'Completed'
    const output = a[Attr.output] === undefined ? null : parseJson(a[Attr.output])
    const num = (key: string) => (a[key] === undefined ? 0 : Number(a[key]))
    const info = {
      node,
      flow_run_id: run,
      run_id: lineNumber === null ? `${run}_${node}_reduce` : `${run}_${node}_${lineNumber}`,
      status,
      inputs: parseJson(a[Attr.inputs]),
      output,
      metrics: null,
      error: status === 'Failed' ? {message: span.status.description ?? '', code: 'UserError'} : null,
      parent_run_id: lineNumber === null ? run : `${run}_${lineNumber}`,
      start_time: isoNoZ(span.start_time),
      end_time: isoNoZ(span.end_time),
      index: lineNumber,
      api_calls: [],
      variant_id: '',
      cached_run_id: null,
      cached_flow_run_id: null,
      logs: {stdout: '', stderr: ''},
      system_metrics: {
        duration: seconds(span.start_time, span.end_time),
        prompt_tokens: num(Attr.cumulativePrompt),
        completion_tokens: num(Attr.cumulativeCompletion),
        total_tokens: num(Attr.cumulativeTotal),
      },
      result: output,
      message_format: 'basic',
    }
    return {NodeName: node, line_number: lineNumber, run_info: info, start_time: info.start_time, end_time: info.end_time, status}
  }

  /** instance_results.jsonl: `line_number`, `status`, `inputs.<k>`…, then the output keys unprefixed. */
  instanceResults(): string {
    return this.lines
      .map(l => {
        const record: Record<string, unknown> = {line_number: l.lineNumber, status: l.error ? 'Failed' : 'Completed'}
        for (const [k, v] of Object.entries(l.inputs ?? {})) record[`inputs.${k}`] = v
        Object.assign(record, l.outputs ?? {})
        return JSON.stringify(record) + '\n'
      })
      .join('')
  }

  /** Every blob of the layout, produced as the uploader pulls them. */
  *blobs(): Generator<LayoutBlob> {
    const run = this.run.name
    const root = `promptflow/PromptFlowArtifacts/${run}`
    // Line records, 25 per blob, named by position like the reference's merge.
    for (let i = 0; i < this.lines.length; i += linesPerBlob) {
      const group = this.lines.slice(i, i + linesPerBlob)
      yield {
        datastore: 'default',
        path: `${root}/flow_artifacts/${pad9(i)}_${pad9(i + linesPerBlob - 1)}.jsonl`,
        body: group.map(l => JSON.stringify(this.lineRecord(l)) + '\n').join(''),
      }
    }
    yield {datastore: 'default', path: `${root}/meta.json`, body: JSON.stringify({batch_size: linesPerBlob})}
    for (const node of this.nodeSpans)
      yield {
        datastore: 'default',
        path: `${root}/node_artifacts/${node.node}/${pad9(node.lineNumber ?? 0)}.jsonl`,
        body: JSON.stringify(this.nodeRecord(node)) + '\n',
      }
    const outputs = path.join(this.run.output_path, RunFiles.outputs)
    yield {datastore: 'default', path: `${root}/flow_outputs/output.jsonl`, body: existsSync(outputs) ? readFileSync(outputs) : ''}
    for (const l of this.lines)
      yield {datastore: 'default', path: `${root}/flow_logs/${pad9(l.lineNumber)}.log`, body: this.lineLogs.get(l.lineNumber) ?? ''}
    yield {datastore: 'default', path: `${root}/instance_results.jsonl`, body: this.instanceResults()}
    for (const file of snapshotFiles(this.flowDir))
      yield {datastore: 'default', path: `runs/${run}/${file}`, body: readFileSync(path.join(this.flowDir, file))}
    const logs = path.join(this.run.output_path, RunFiles.logs)
    yield {
      datastore: 'artifact',
      path: `ExperimentRun/dcid.${run}/logs/azureml/executionlogs.txt`,
      body: existsSync(logs) ? readFileSync(logs) : '',
    }
  }
}

/** The flow definition file of a recorded flow folder (undefined when the folder is gone). */
const flowFileOf = (flow: string): {file?: string; kind?: 'flex' | 'dag' | 'prompty'} => {
  try {
    return locateFlow(flow)
  } catch {
    if (existsSync(flow)) {
      const prompty = readdirSync(flow).find(f => f.endsWith('.prompty'))
      if (prompty) return {file: path.join(flow, prompty)}
    }
    return {}
  }
}

const dagNodeNames = async (file: string): Promise<Set<string>> => {
  try {
    const yaml = await readFlowYaml(file)
    return new Set(
      (Array.isArray(yaml.nodes) ? yaml.nodes : [])
        .map((n: {name?: unknown}) => n?.name)
        .filter((n: unknown): n is string => typeof n === 'string'),
    )
  } catch {
    return new Set()
  }
}

/** `Line N: …` lines of the run log, per line number (the reference keeps one log file per line). */
const readLineLogs = (file: string): Map<number, string> => {
  const logs = new Map<number, string>()
  if (!existsSync(file)) return logs
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\S+ Line (\d+): /.exec(text)
    if (!match) continue
    const n = Number(match[1])
    logs.set(n, (logs.get(n) ?? '') + text + '\n')
  }
  return logs
}

/** The flow folder's files (relative, `/`-separated), without dependencies, VCS data or run outputs. */
const snapshotFiles = (dir: string): string[] => {
  if (!existsSync(dir)) return []
  const files: string[] = []
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(dir, rel), {withFileTypes: true})) {
      if (snapshotSkip.has(entry.name)) continue
      const child = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) walk(child)
      else if (entry.isFile()) files.push(child)
    }
  }
  walk('')
  return files.sort()
}
