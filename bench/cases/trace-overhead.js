import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {median} from '../lib.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/**
 * Traced call overhead: N nested `trace()` calls (depth 10 × 1000 iterations) recorded to the local store through
 * pf's TracingSession, against the same calls with a bare NodeTracerProvider + SimpleSpanProcessor +
 * InMemorySpanExporter, alternating in one process (bench/workers/trace-overhead.js). A second row measures the
 * durable floor: the same bare OTel writing each span's JSON to a plain one-table SQLite store, 512 a transaction; a
 * third the floor of pf's store layout: the same spans as rows of pf's own tables and indexes, with no pf code.
 */
export default async function traceOverhead({pairs, quick}) {
  const result = spawnSync(
    process.execPath,
    [path.join(here, '..', 'workers', 'trace-overhead.js'), String(pairs), String(quick ? 20 : 1000)],
    {encoding: 'utf8'},
  )
  if (result.status !== 0) throw new Error(`trace-overhead worker failed: ${result.stderr}`)
  const {baseline, subject, floor, layoutFloor, spans} = JSON.parse(result.stdout)
  const b = median(baseline)
  const s = median(subject)
  const f = median(floor)
  const l = median(layoutFloor)
  return [
    {
      name: `Traced call overhead: ${spans} nested \`trace()\` spans (depth 10) to the local store vs bare OTel + in-memory exporter`,
      baseline: `in-memory exporter: ${b.toFixed(1)} ms`,
      measured: `pf TracingSession → SQLite: ${s.toFixed(1)} ms`,
      ratio: s / b,
      target: '≤ 1.3×',
      met: s / b <= 1.3,
    },
    {
      name: `Traced calls, durable floor: the same ${spans} spans from bare OTel written as JSON to a plain one-table SQLite store (pf's time-first trace ids; WAL, 512 a transaction; no line runs, viewer indexes, masking or outbox) vs bare OTel + in-memory exporter`,
      baseline: `in-memory exporter: ${b.toFixed(1)} ms`,
      measured: `plain SQLite: ${f.toFixed(1)} ms (pf: ${s.toFixed(1)} ms, ${(s / f).toFixed(2)}× this floor)`,
      ratio: f / b,
      target: '(the floor; no target)',
      met: true,
    },
    {
      name: `Traced calls, the floor of pf's store layout: the same ${spans} spans from bare OTel written as rows of pf's own tables (database made by its schema migrations; pf's time-first trace ids; spans with their columns and indexes, each trace root a line run with the viewer's indexes; no pf code: no conversion, masking or token counts) vs bare OTel + in-memory exporter`,
      baseline: `in-memory exporter: ${b.toFixed(1)} ms`,
      measured: `pf's layout: ${l.toFixed(1)} ms (pf: ${s.toFixed(1)} ms, ${(s / l).toFixed(2)}× this floor)`,
      ratio: l / b,
      target: '(the floor; no target)',
      met: true,
    },
  ]
}
