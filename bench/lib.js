// Shared helpers for the benchmarks: timing child processes, medians, alternating pairs.
import {spawnSync} from 'node:child_process'
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
