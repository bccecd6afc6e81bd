// Uploads a finished run of a pf home to a workspace (run tracking), or writes the same files to a local folder;
// prints {ms, blobs, bytes}.
// Usage: node run-upload.js <pf home> <run> <upload|local|sdk> <workspace id | output folder | container URL>
// `upload`: resolves the workspace (PF_ARM_ENDPOINT, an `az` on PATH, PF_BLOB_ENDPOINT), queues the run's upload job
// afresh and runs it as `pf run create` / `pf run sync` do. `local`: builds the same layout and writes each blob
// as a file under the folder (the baseline). `sdk`: the same blobs straight to one container with the storage SDK,
// 32 at a time (account key in BENCH_ACCOUNT_KEY): the storage's own cost, without pf's job, datastores or
// control plane calls. All three time building the layout and writing it.
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'

import {repoRoot} from '../lib.js'

const [home, runName, mode, target] = process.argv.slice(2)
const dist = p => import(`${repoRoot}/dist/${p}`)
const [{TraceStore}, {RunRecords}, {RunLayout}, {enqueueRunUploads, driveRunUploads}, {configReader}] = await Promise.all([
  dist('store/store.js'),
  dist('run/records.js'),
  dist('run/cloud-layout.js'),
  dist('run/upload-job.js'),
  dist('config/files.js'),
])
const config = configReader({})
process.env.PF_HOME_DIRECTORY = home
const store = TraceStore.open(home)
const records = RunRecords.open()
const run = records.get(runName)
records.close()

if (mode === 'upload') {
  const {azuremlProvider} = await dist('destinations/azureml/provider.js')
  const dest = await azuremlProvider.resolve(target, {cwd: process.cwd(), config, env: process.env})
  store.db.prepare('DELETE FROM run_uploads WHERE run = ?').run(runName)
  enqueueRunUploads(store, runName, [dest])
  const start = performance.now()
  const [report] = await driveRunUploads(store, [runName], {deadline: Date.now() + 600_000, config})
  const ms = performance.now() - start
  if (report.state !== 'done') throw new Error(`upload not done: ${report.error}`)
  const steps = JSON.parse(store.db.prepare('SELECT steps FROM run_uploads WHERE run = ?').pluck().get(runName))
  console.log(JSON.stringify({ms, blobs: steps.blobs.count}))
} else if (mode === 'sdk') {
  const {ContainerClient, StorageSharedKeyCredential} = await import('@azure/storage-blob')
  const url = new URL(target)
  const account = url.pathname.split('/')[1]
  // The same retry options as pf's clients (datastore.ts), so both sides ride out a slow emulator alike.
  const retryOptions = {maxTries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000, tryTimeoutInMs: 120_000}
  const container = new ContainerClient(target, new StorageSharedKeyCredential(account, process.env.BENCH_ACCOUNT_KEY), {retryOptions})
  const start = performance.now()
  const layout = await RunLayout.load(run, store)
  const iterator = layout.blobs()
  let blobs = 0
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      await container.getBlockBlobClient(next.value.path).upload(next.value.body, Buffer.byteLength(next.value.body))
      blobs++
    }
  }
  await Promise.all(Array.from({length: 32}, worker))
  console.log(JSON.stringify({ms: performance.now() - start, blobs}))
} else {
  const start = performance.now()
  const layout = await RunLayout.load(run, store)
  let blobs = 0
  let bytes = 0
  const made = new Set()
  for (const blob of layout.blobs()) {
    const file = path.join(target, blob.datastore, blob.path)
    const dir = path.dirname(file)
    if (!made.has(dir)) {
      mkdirSync(dir, {recursive: true})
      made.add(dir)
    }
    writeFileSync(file, blob.body)
    blobs++
    bytes += Buffer.byteLength(blob.body)
  }
  console.log(JSON.stringify({ms: performance.now() - start, blobs, bytes}))
}
store.close()
