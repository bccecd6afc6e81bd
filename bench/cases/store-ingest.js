import {spawnSync} from 'node:child_process'
import path from 'node:path'

import {median, repoRoot} from '../lib.js'

const worker = path.join(repoRoot, 'bench', 'workers', 'store-ingest.js')
const target = 90_000

const ingest = (mode, total, batch = 500) => {
  const result = spawnSync(process.execPath, [worker, mode, String(total), String(batch)], {encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`store-ingest worker (${mode}) failed: ${result.stderr}`)
  const {ms, rss} = JSON.parse(result.stdout)
  return {rate: total / (ms / 1000), rss}
}

const fmt = n => Math.round(n).toLocaleString('en-US')

/**
 * Local store ingest: span records written through TraceStore.recordSpans in batches of 500 (what the span
 * processor does). Three figures: the sustained rate over 500k spans against the 50,000 spans/s target; the rate
 * against plain better-sqlite3 inserts of the same rows (one table, same pragmas; median of alternating pairs of
 * 100k) — the cost of pf's indexes, line runs and bookkeeping; and RSS after 500k spans against after 100k.
 */
export default async function storeIngest({pairs, quick}) {
  const rounds = Math.max(1, Math.min(3, pairs))
  const pf = []
  const raw = []
  for (let i = 0; i < rounds; i++) {
    raw.push(ingest('raw', quick ? 1000 : 100_000).rate)
    pf.push(ingest('pf', quick ? 1000 : 100_000).rate)
  }
  const total = quick ? 5000 : 500_000
  const sustained = ingest('pf', total)
  const pfRate = median(pf)
  const rawRate = median(raw)
  const memory = sustained.rss[String(total)] / sustained.rss[String(total / 5)]
  return [
    {
      name: 'Local store ingest, sustained over 500k spans (TraceStore.recordSpans, batches of 500) vs the target rate',
      baseline: `target: ${fmt(target)} spans/s`,
      measured: `${fmt(sustained.rate)} spans/s`,
      ratio: sustained.rate / target,
      target: '≥ 1×',
      met: sustained.rate >= target,
    },
    {
      name: 'Local store ingest vs plain better-sqlite3 inserts of the same rows (100k spans)',
      baseline: `better-sqlite3: ${fmt(rawRate)} spans/s`,
      measured: `TraceStore: ${fmt(pfRate)} spans/s`,
      ratio: pfRate / rawRate,
      target: '≥ 0.5×',
      met: pfRate / rawRate >= 0.5,
    },
    {
      name: 'Local store ingest memory: RSS after 500k spans vs after 100k',
      baseline: `after 100k: ${(sustained.rss[String(total / 5)] / 2 ** 20).toFixed(0)} MiB`,
      measured: `after 500k: ${(sustained.rss[String(total)] / 2 ** 20).toFixed(0)} MiB`,
      ratio: memory,
      target: '≤ 1.25× (flat)',
      met: memory <= 1.25,
    },
  ]
}
