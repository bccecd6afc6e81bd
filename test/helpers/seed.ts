import {randomBytes} from 'node:crypto'
import type Database from 'better-sqlite3'

import type {SpanRecord} from '../../src/contract/destination.js'

export const hex = (bytes: number): string => randomBytes(bytes).toString('hex')

/** `2026-11-26T05:30:30.123456Z` for `ms` epoch milliseconds plus `micros`. */
export const stamp = (ms: number, micros = 0): string => new Date(ms).toISOString().slice(0, 23) + String(micros).padStart(3, '0') + 'Z'

export interface SpanSpec {
  traceId: string
  spanId?: string
  parentId?: string | null
  name: string
  type?: string
  startMs: number
  endMs: number
  collection?: string
  status?: 'Ok' | 'Error' | 'Unset'
  description?: string
  attributes?: Record<string, unknown>
  inputs?: unknown
  output?: unknown
  events?: SpanRecord['events']
}

/** A span record shaped as pf's span-record.ts writes it (attributes, payload events, resource). */
export const makeSpan = (spec: SpanSpec): SpanRecord => {
  const attributes: Record<string, unknown> = {
    framework: 'promptflow',
    span_type: spec.type ?? 'Function',
    function: spec.name,
    ...spec.attributes,
  }
  const events: SpanRecord['events'] = [...(spec.events ?? [])]
  if (spec.inputs !== undefined) {
    attributes.inputs = JSON.stringify(spec.inputs)
    events.unshift({name: 'promptflow.function.inputs', timestamp: stamp(spec.startMs), attributes: {payload: attributes.inputs}})
  }
  if (spec.output !== undefined) {
    attributes.output = JSON.stringify(spec.output)
    events.push({name: 'promptflow.function.output', timestamp: stamp(spec.endMs), attributes: {payload: attributes.output}})
  }
  return {
    name: spec.name,
    context: {trace_id: spec.traceId, span_id: spec.spanId ?? hex(8), trace_state: ''},
    kind: 'SpanKind.INTERNAL',
    parent_id: spec.parentId ?? null,
    start_time: stamp(spec.startMs),
    end_time: stamp(spec.endMs),
    status: spec.description ? {status_code: spec.status ?? 'Ok', description: spec.description} : {status_code: spec.status ?? 'Ok'},
    attributes,
    events,
    links: [],
    resource: {attributes: {'service.name': 'promptflow', collection: spec.collection ?? 'default'}, schema_url: ''},
  }
}

/** A chat flow trace: root Flow span → LLM span with messages, choices and llm.usage.*, cumulative counts on the root. */
export const llmTrace = (options: {
  collection: string
  startMs: number
  question: string
  answer: string
  lineRunId?: string
}): SpanRecord[] => {
  const traceId = hex(16)
  const rootId = hex(8)
  const usage = {'llm.usage.prompt_tokens': 42, 'llm.usage.completion_tokens': 17, 'llm.usage.total_tokens': 59}
  const cumulative = {
    '__computed__.cumulative_token_count.prompt': 42,
    '__computed__.cumulative_token_count.completion': 17,
    '__computed__.cumulative_token_count.total': 59,
  }
  const llm = makeSpan({
    traceId,
    parentId: rootId,
    name: 'openai_chat',
    type: 'LLM',
    startMs: options.startMs + 5,
    endMs: options.startMs + 805,
    collection: options.collection,
    attributes: {...usage, ...cumulative, 'llm.response.model': 'gpt-4o-mini', line_run_id: options.lineRunId ?? 'line-llm'},
    inputs: {
      model: 'gpt-4o-mini',
      messages: [
        {role: 'system', content: 'You answer briefly.'},
        {role: 'user', content: options.question},
      ],
    },
    output: {
      id: 'chatcmpl-1',
      choices: [{index: 0, finish_reason: 'stop', message: {role: 'assistant', content: options.answer}}],
      usage: {prompt_tokens: 42, completion_tokens: 17, total_tokens: 59},
    },
  })
  const root = makeSpan({
    traceId,
    spanId: rootId,
    name: 'chat',
    type: 'Flow',
    startMs: options.startMs,
    endMs: options.startMs + 820,
    collection: options.collection,
    attributes: {...cumulative, line_run_id: options.lineRunId ?? 'line-llm'},
    inputs: {question: options.question},
    output: {answer: options.answer},
  })
  return [llm, root]
}

/** One line of a batch run: a root span with batch_run_id/line_number and one child; the root fails when `error`. */
export const runLineTrace = (options: {
  run: string
  line: number
  startMs: number
  collection?: string
  error?: string
  input: string
  output?: unknown
}): SpanRecord[] => {
  const traceId = hex(16)
  const rootId = hex(8)
  const lineAttrs = {batch_run_id: options.run, line_number: options.line, line_run_id: `${options.run}_${options.line}`}
  const child = makeSpan({
    traceId,
    parentId: rootId,
    name: 'lookup',
    startMs: options.startMs + 1,
    endMs: options.startMs + 20,
    collection: options.collection ?? options.run,
    attributes: lineAttrs,
    inputs: {text: options.input},
    output: options.error ? undefined : {found: options.input.length},
  })
  const root = makeSpan({
    traceId,
    spanId: rootId,
    name: 'answer',
    type: 'Flow',
    startMs: options.startMs,
    endMs: options.startMs + 25,
    collection: options.collection ?? options.run,
    status: options.error ? 'Error' : 'Ok',
    description: options.error,
    attributes: lineAttrs,
    inputs: {question: options.input},
    output: options.error ? undefined : options.output,
    events: options.error
      ? [
          {
            name: 'exception',
            timestamp: stamp(options.startMs + 24),
            attributes: {
              'exception.type': 'TypeError',
              'exception.message': options.error,
              'exception.stacktrace': `TypeError: ${options.error}\n    at answer (flow.ts:12:9)\n    at runLine (/opt/pf/dist/flow/executor.js:40:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`,
            },
          },
        ]
      : [],
  })
  return [child, root]
}

/** The runs row `pf run create` writes (schema migration 2). */
export const runRow = (name: string, fields: Record<string, unknown> = {}) => ({
  name,
  display_name: null,
  flow: '/flows/qa',
  data: '/data/questions.jsonl',
  base_run: null,
  resume_from: null,
  column_mapping: JSON.stringify({question: '${data.question}'}),
  status: 'Completed',
  created_at: new Date().toISOString(),
  started_at: new Date().toISOString(),
  ended_at: new Date().toISOString(),
  total_lines: 3,
  completed_lines: 2,
  failed_lines: 1,
  output_path: '/nonexistent',
  tags: null,
  properties: null,
  metrics: JSON.stringify({accuracy: 0.67, 'latency.p50': 0.025}),
  error: null,
  archived: 0,
  ...fields,
})

export const insertRun = (db: Database.Database, row: ReturnType<typeof runRow>): void => {
  const columns = Object.keys(row)
  db.prepare(`INSERT INTO runs (${columns.join(', ')}) VALUES (${columns.map(c => '@' + c).join(', ')})`).run(row)
}
