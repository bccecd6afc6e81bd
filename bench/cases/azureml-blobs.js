import {register} from 'tsx/esm/api'

import {median, runExportDriver, tempDir} from '../lib.js'

/**
 * Export of 2,500 spans (each with its inputs and output events, as pf's function spans) to a workspace: with span
 * data to blob storage (Azurite: span.json + one blob per event, then the Cosmos items) against the same spans
 * written to Cosmos only; and the peak memory of the export with blobs for 4,000 spans against 1,000.
 */
export default async function azuremlBlobs({pairs, quick}) {
  register()
  const {FakeAzure, fakeAzCli, workspaceId} = await import('../../test/helpers/fake-azure.ts')
  const {CosmosAccount, testTls} = await import('../../test/helpers/cosmos.ts')
  const {Azurite} = await import('../../test/helpers/azurite.ts')
  const cosmos = await new CosmosAccount().start()
  const azure = await new FakeAzure().start()
  const azurite = await new Azurite().start()
  azure.cosmosEndpoint = cosmos.endpoint
  const env = {
    ...process.env,
    PATH: `${fakeAzCli()}:${process.env.PATH}`,
    PF_ARM_ENDPOINT: azure.url,
    PF_BLOB_ENDPOINT: azurite.blobEndpoint,
    NODE_EXTRA_CA_CERTS: testTls().certFile,
    PF_BENCH_SPAN_EVENTS: '1',
  }
  let runs = 0
  const run = async (spans, mode) => {
    const name = `bench-blobs-${++runs}`
    azure.workspaces.set(name, {
      traceCosmosStatus: 'Initialized',
      databaseName: name,
      datastores: [azurite.datastore({containerName: name})],
    })
    await cosmos.createTraceStore(name)
    // A fresh (in-memory) Azurite per run: after long runs with many deleted blobs it stalls for minutes.
    await azurite.stop()
    await azurite.start()
    await azurite.createContainer(name)
    const home = tempDir('pf-bench-home-')
    await runExportDriver([home, workspaceId(name), String(spans), 'prepare'], env)
    const storageCpu = azurite.cpuMs()
    const result = await runExportDriver([home, workspaceId(name), String(spans), mode], env)
    result.storageCpuMs = azurite.cpuMs() - storageCpu
    process.stderr.write(
      `  ${mode} ${spans} spans: ${(result.ms / 1000).toFixed(1)} s, pf CPU ${(result.cpuMs / 1000).toFixed(1)} s, storage CPU ${(result.storageCpuMs / 1000).toFixed(1)} s, max RSS ${result.maxRssMb.toFixed(0)} MB\n`,
    )
    await cosmos.client.database(name).delete()
    return result
  }
  // 2,500 spans are 7,500 blobs: Azurite takes about 150–250 blob writes a second here, and fewer as a container
  // fills. PF_BENCH_BLOB_SPANS sets another count (the figures name the count they used).
  const spans = quick ? 50 : Number(process.env.PF_BENCH_BLOB_SPANS ?? 2500)
  const label = count => (count % 1000 === 0 ? `${count / 1000}k` : String(count))
  const rounds = Math.max(1, Math.min(pairs, 3))
  try {
    // Warm-up (skipped in quick mode, where one pass of each path is the point).
    if (!quick) {
      await run(Math.min(1000, spans), 'pf')
      await run(Math.min(1000, spans), 'pf-no-blobs')
    }
    const withBlobs = []
    const cosmosOnly = []
    const cpu = {blobs: [], cosmos: []}
    for (let i = 0; i < rounds; i++) {
      const base = await run(spans, 'pf-no-blobs')
      cosmosOnly.push(base.ms)
      cpu.cosmos.push(base.cpuMs)
      const full = await run(spans, 'pf')
      withBlobs.push(full.ms)
      cpu.blobs.push({pf: full.cpuMs, storage: full.storageCpuMs})
    }
    const blobCpu = cpu.blobs[Math.floor(cpu.blobs.length / 2)]
    // Peak memory, one round of 1,000 against 4,000 spans: Azurite slows down as one container fills (10k spans, 30k
    // blobs, ran for over 6 minutes at 100 % CPU), and peak memory varies little between runs.
    const memorySpans = quick ? spans : 1000
    const small = [(await run(memorySpans, 'pf')).maxRssMb]
    const large = [(await run(4 * memorySpans, 'pf')).maxRssMb]
    const timeRatio = median(withBlobs) / median(cosmosOnly)
    const memoryRatio = median(large) / median(small)
    return [
      {
        name: `azureml export of ${label(spans)} spans (2 events each) with span data to blob storage (Azurite) vs Cosmos items only`,
        baseline: `Cosmos only: ${(spans / (median(cosmosOnly) / 1000)).toFixed(0)} spans/s (pf CPU ${(median(cpu.cosmos) / 1000).toFixed(1)} s)`,
        measured: `blobs + Cosmos: ${(spans / (median(withBlobs) / 1000)).toFixed(0)} spans/s (pf CPU ${(blobCpu.pf / 1000).toFixed(1)} s, Azurite CPU ${(blobCpu.storage / 1000).toFixed(1)} s)`,
        ratio: timeRatio,
        target: '≤ 2.5×',
        met: timeRatio <= 2.5,
      },
      {
        name: `azureml export with blobs, peak memory (max RSS of the exporting process): ${label(4 * memorySpans)} spans vs ${label(memorySpans)} spans`,
        baseline: `${label(memorySpans)} spans: ${median(small).toFixed(0)} MB`,
        measured: `${label(4 * memorySpans)} spans: ${median(large).toFixed(0)} MB`,
        ratio: memoryRatio,
        target: '≤ 1.25×',
        met: memoryRatio <= 1.25,
      },
    ]
  } finally {
    await azure.stop()
    await cosmos.stop()
    await azurite.stop()
  }
}
