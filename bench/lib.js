// Shared helpers for the benchmarks: timing child processes, medians, alternating pairs.
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const pfBin = path.join(repoRoot, 'bin', 'run.js')

export const tempDir = prefix => mkdtempSync(path.join(os.tmpdir(), prefix))

export const median = values => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Wall time of one child process in ms; throws if it fails (a benchmark of a failing command means nothing). */
export const timeProcess = (args, options = {}) => {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return ms
}

/**
 * Runs `pairs` alternating (baseline, subject) measurements after a warm-up of each, and returns the medians
 * and their ratio. Alternating keeps a busy moment of the machine from landing on one side only.
 */
export const comparePairs = (pairs, baseline, subject) => {
  baseline()
  subject()
  const base = []
  const subj = []
  for (let i = 0; i < pairs; i++) {
    base.push(baseline())
    subj.push(subject())
  }
  const b = median(base)
  const s = median(subj)
  return {baseline: b, subject: s, ratio: s / b}
}

/** The spans of one line, a Flow root and Function children (inputs, output, two payload events), fresh ids. */
export const makeLineSpans = (n, serial) => {
  const traceId = randomBytes(16).toString('hex')
  const rootId = randomBytes(8).toString('hex')
  const time = new Date(Date.UTC(2026, 0, 1) + serial).toISOString().slice(0, 23)
  return Array.from({length: n}, (_, i) => {
    const inputs = JSON.stringify({
      question: `What is prompt flow? (${serial + i})`,
      context: 'Prompt flow is a suite of development tools.',
    })
    const output = JSON.stringify({answer: 'It is a suite of development tools for LLM apps.', score: 0.87})
    return {
      name: i === 0 ? 'flow' : 'retrieve',
      context: {trace_id: traceId, span_id: i === 0 ? rootId : randomBytes(8).toString('hex'), trace_state: ''},
      kind: 'SpanKind.INTERNAL',
      parent_id: i === 0 ? null : rootId,
      start_time: time + '001Z',
      end_time: time + '902Z',
      status: {status_code: 'Ok'},
      attributes: {
        framework: 'promptflow',
        span_type: i === 0 ? 'Flow' : 'Function',
        function: 'retrieve',
        inputs,
        output,
        line_run_id: traceId,
      },
      events: [
        {name: 'promptflow.function.inputs', timestamp: time + '002Z', attributes: {payload: inputs}},
        {name: 'promptflow.function.output', timestamp: time + '901Z', attributes: {payload: output}},
      ],
      links: [],
      resource: {attributes: {'service.name': 'promptflow', collection: 'bench'}, schema_url: ''},
    }
  })
}
