import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {median} from '../lib.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/**
 * Traced call overhead: N nested `trace()` calls (depth 10 × 1000 iterations) recorded to the local store through
 * pf's TracingSession, against the same calls with a bare NodeTracerProvider + SimpleSpanProcessor +
 * InMemorySpanExporter, alternating in one process (bench/workers/trace-overhead.js).
 */
export default async function traceOverhead({pairs, quick}) {
  const result = spawnSync(
    process.execPath,
    [path.join(here, '..', 'workers', 'trace-overhead.js'), String(pairs), String(quick ? 20 : 1000)],
    {encoding: 'utf8'},
  )
  if (result.status !== 0) throw new Error(`trace-overhead worker failed: ${result.stderr}`)
  const {baseline, subject, spans} = JSON.parse(result.stdout)
  const b = median(baseline)
  const s = median(subject)
  return [
    {
      name: `Traced call overhead: ${spans} nested \`trace()\` spans (depth 10) to the local store vs bare OTel + in-memory exporter`,
      baseline: `in-memory exporter: ${b.toFixed(1)} ms`,
      measured: `pf TracingSession → SQLite: ${s.toFixed(1)} ms`,
      ratio: s / b,
      target: '≤ 1.3×',
      met: s / b <= 1.3,
    },
  ]
}
