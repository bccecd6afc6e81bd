import {randomBytes} from 'node:crypto'

import type {SpanRecord} from '../../src/contract/destination.js'

export const hexId = (bytes: number): string => randomBytes(bytes).toString('hex')

/** A span record as pf stores it (for seeding a store directly). Times are ISO with microseconds. */
export const makeSpan = (options: {
  traceId?: string
  spanId?: string
  parentId?: string | null
  name?: string
  collection?: string
  run?: string
  start?: string
  end?: string
  spanType?: string
  status?: 'Ok' | 'Error' | 'Unset'
  attributes?: Record<string, unknown>
}): SpanRecord => ({
  name: options.name ?? 'span',
  context: {trace_id: options.traceId ?? hexId(16), span_id: options.spanId ?? hexId(8), trace_state: ''},
  kind: 'SpanKind.INTERNAL',
  parent_id: options.parentId ?? null,
  start_time: options.start ?? '2026-01-02T03:04:05.000001Z',
  end_time: options.end ?? '2026-01-02T03:04:05.250001Z',
  status: options.status === 'Error' ? {status_code: 'Error', description: 'Error: boom'} : {status_code: options.status ?? 'Ok'},
  attributes: {
    framework: 'promptflow',
    span_type: options.spanType ?? 'Function',
    function: options.name ?? 'span',
    ...(options.run ? {batch_run_id: options.run} : {}),
    ...options.attributes,
  },
  events: [{name: 'promptflow.function.inputs', timestamp: options.start ?? '2026-01-02T03:04:05.000002Z', attributes: {payload: '{}'}}],
  links: [],
  resource: {attributes: {'service.name': 'promptflow', collection: options.collection ?? 'default'}, schema_url: ''},
})
