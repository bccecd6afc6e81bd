import {rmSync} from 'node:fs'
import path from 'node:path'

import {getJson, repoRoot, seedViewerStore, tempDir} from '../lib.js'

const timeAsync = async fn => {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/**
 * The viewer's trace list API (first page, over HTTP) on a store of 100k traces / 1M spans, against the same page
 * computed by a full scan of line_runs (NOT INDEXED: every row read and sorted) in the same process. Target: first page ≤ 50 ms median.
 */
export default async function viewerList({pairs, quick}) {
  const traces = quick ? 1000 : Number(process.env.PF_BENCH_VIEWER_TRACES ?? 100_000)
  const {startViewerServer} = await import(path.join(repoRoot, 'dist', 'service', 'server.js'))
  const home = tempDir('pf-bench-viewer-')
  try {
    const counts = await seedViewerStore(home, traces)

    const viewer = await startViewerServer({home, host: '127.0.0.1', port: 0})
    const {TraceReader} = await import(path.join(repoRoot, 'dist', 'store', 'reader.js'))
    const reader = TraceReader.open(home)
    // The same first page without the indexes: a full scan of line_runs and a sort.
    const fullScan = reader.db.prepare('SELECT * FROM line_runs NOT INDEXED ORDER BY start_time DESC, trace_id DESC LIMIT 51')
    try {
      const first = await getJson(viewer.port, '/v1.0/api/traces?limit=50')
      const samples = {}
      const measure = async (label, url) => {
        const base = []
        const subj = []
        await timeAsync(() => fullScan.all())
        await timeAsync(() => getJson(viewer.port, url))
        for (let i = 0; i < pairs; i++) {
          base.push(await timeAsync(() => fullScan.all()))
          subj.push(await timeAsync(() => getJson(viewer.port, url)))
        }
        const {median} = await import('../lib.js')
        samples[label] = {baseline: median(base), subject: median(subj)}
      }
      await measure('first', '/v1.0/api/traces?limit=50')
      await measure('collection', '/v1.0/api/traces?limit=50&collection=flow_7&status=Ok')
      const deep = await getJson(
        viewer.port,
        `/v1.0/api/traces?limit=50&cursor=${(await getJson(viewer.port, '/v1.0/api/traces?limit=200')).nextCursor}`,
      )
      if (first.traces.length !== 50 || deep.traces.length !== 50) throw new Error('the list API returned short pages')
      const row = (name, label, target) => ({
        name,
        baseline: `same page by full scan of line_runs (${traces} rows, in-process): ${samples[label].baseline.toFixed(1)} ms`,
        measured: `${samples[label].subject.toFixed(1)} ms`,
        ratio: samples[label].subject / samples[label].baseline,
        target: `≤ ${target} ms`,
        met: samples[label].subject <= target,
      })
      return [
        row(
          `Viewer trace list API, first page of 50 (${traces / 1000}k traces / ${(counts.spans / 1e6).toFixed(1)}M spans, HTTP)`,
          'first',
          50,
        ),
        row('Viewer trace list API, first page filtered by collection + status', 'collection', 50),
      ]
    } finally {
      reader.close()
      await viewer.close()
    }
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}
