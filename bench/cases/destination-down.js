import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {register} from 'tsx/esm/api'

import {median, pfBin, startSilentServer, tempDir, timeProcessAsync} from '../lib.js'

/**
 * What a down remote destination adds to a traced command: `pf flow test` of a trivial flex flow (JavaScript entry,
 * built as the flow-test case builds it) with trace.destination an Azure ML workspace whose Cosmos DB is down,
 * against the same command, same home, same flow, with trace.destination `local`. The workspace is real HTTP: the
 * tests' fake control plane (ARM, resource tokens) and fake `az`, and Azurite as its default datastore, so span data
 * is written and the export fails at Cosmos itself. Two kinds of down, one row each: refused (the resource tokens
 * name a 127.0.0.1 port nobody listens on) and unresponsive (a TCP server that accepts connections and never
 * answers). The baseline is the same command with the workspace's Cosmos up (cosmosdb-server): the difference is
 * what the outage adds (the export attempts and the end-of-command wait, trace.export_wait, 1 s by default), which
 * the target bounds at 1 s. The measured cell also gives the command with trace.destination `local` (nothing remote
 * at all): that difference adds the remote destination's own cost, sign-in and workspace lookup. The subject must
 * exit 0 and leave its spans in the local store, queued (pending) for the workspace; the baseline must deliver them.
 */
export default async function destinationDown({pairs}) {
  register()
  const {FakeAzure, fakeAzCli, workspaceId} = await import('../../test/helpers/fake-azure.ts')
  const {CosmosAccount, testTls} = await import('../../test/helpers/cosmos.ts')
  const {Azurite} = await import('../../test/helpers/azurite.ts')
  const {default: Database} = await import('better-sqlite3')

  const cleanup = []
  try {
    const azure = await new FakeAzure().start()
    cleanup.push(() => azure.stop())
    const azurite = await new Azurite().start()
    cleanup.push(() => azurite.stop())
    const cosmos = await new CosmosAccount().start()
    cleanup.push(() => cosmos.stop())
    const workspace = 'bench-down'
    await cosmos.createTraceStore(workspace)
    azure.workspaces.set(workspace, {
      traceCosmosStatus: 'Initialized',
      databaseName: workspace,
      datastores: [azurite.datastore({containerName: workspace})],
    })
    await azurite.createContainer(workspace)

    // Refused: a port that was just free (bound, then closed), so nothing listens there.
    const probe = net.createServer()
    await new Promise(resolve => probe.listen(0, '127.0.0.1', resolve))
    const refusedPort = probe.address().port
    await new Promise(resolve => probe.close(resolve))
    // Unresponsive: accepts every connection, reads nothing back, answers nothing (not even the TLS handshake).
    const silent = await startSilentServer()
    cleanup.push(() => silent.close())

    const home = tempDir('pf-bench-home-')
    const flow = tempDir('pf-bench-flow-')
    cleanup.push(() => rmSync(home, {recursive: true, force: true}))
    cleanup.push(() => rmSync(flow, {recursive: true, force: true}))
    writeFileSync(path.join(flow, 'flow.flex.yaml'), 'entry: flow:run\ninputs:\n  x:\n    type: string\n    default: hi\n')
    writeFileSync(path.join(flow, 'flow.mjs'), 'export function run({x}) { return {echo: x} }\n')
    mkdirSync(path.join(home, 'cwd'))
    const azDir = fakeAzCli()
    cleanup.push(() => rmSync(path.dirname(azDir), {recursive: true, force: true}))
    // The same environment on both sides: only pf.yaml's trace.destination differs.
    const env = {
      ...process.env,
      PF_HOME_DIRECTORY: home,
      PATH: `${azDir}:${process.env.PATH}`,
      PF_ARM_ENDPOINT: azure.url,
      PF_BLOB_ENDPOINT: azurite.blobEndpoint,
      NODE_EXTRA_CA_CERTS: testTls().certFile,
    }
    const destination = workspaceId(workspace)
    const flowTest = async value => {
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${value}\n`, {mode: 0o600})
      return timeProcessAsync([pfBin, 'flow', 'test', '--flow', flow], {env, cwd: path.join(home, 'cwd')})
    }
    const store = (work, options = {}) => {
      const db = new Database(path.join(home, 'pf.sqlite'), options)
      try {
        return work(db)
      } finally {
        db.close()
      }
    }
    const counts = () =>
      store(
        db =>
          db
            .prepare(
              // A delivered item leaves the outbox; its destination counts it (schema migration 8).
              `SELECT (SELECT COUNT(*) FROM spans) AS spans,
                 (SELECT COUNT(*) FROM outbox WHERE destination LIKE 'azureml:%' AND state = 'pending') AS pending,
                 (SELECT COUNT(*) FROM outbox WHERE destination LIKE 'azureml:%' AND state = 'parked') AS parked,
                 (SELECT TOTAL(spans) FROM outbox_delivered WHERE destination LIKE 'azureml:%') AS delivered`,
            )
            .get(),
        {readonly: true},
      )
    /**
     * The subject: the command exits 0 (timeProcessAsync checks), its spans are stored and wait for the workspace, and
     * the export got as far as Cosmos. Each run starts from an empty outbox (no pf process is running then), so every
     * run does the same work: the spans of earlier runs would otherwise come due again and be retried with its own.
     */
    const downFlowTest = async (kind, reachedCosmos) => {
      store(db => db.prepare(`DELETE FROM outbox WHERE destination LIKE 'azureml:%'`).run())
      const before = counts()
      const connections = silent.accepted()
      const ms = await flowTest(destination)
      const after = counts()
      const added = after.spans - before.spans
      if (added === 0 || after.pending !== added || after.parked !== 0 || after.delivered !== before.delivered)
        throw new Error(
          `Cosmos ${kind}: expected the command's spans stored and pending for the workspace; before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
        )
      if (!reachedCosmos(connections))
        throw new Error(`Cosmos ${kind}: the export did not reach Cosmos (its spans failed earlier: sign-in, ARM or blob storage?)`)
      return ms
    }
    // Refused: the pending spans' reason is the refused connection (the export attempts ended before the wait did).
    const refusedReason = () =>
      store(
        db => db.prepare(`SELECT DISTINCT last_error FROM outbox WHERE destination LIKE 'azureml:%' AND state = 'pending'`).pluck().all(),
        {readonly: true},
      ).some(reason => reason?.includes(`ECONNREFUSED 127.0.0.1:${refusedPort}`))
    // Unresponsive: the export is still waiting for an answer when the command ends (its spans stay claimed by the
    // exited process, which the next pf command takes back), so the proof is the connection it opened.
    const silentReached = connections => silent.accepted() > connections

    /** The baseline: Cosmos up, every span delivered before the command ends. */
    const upFlowTest = async () => {
      azure.cosmosEndpoint = cosmos.endpoint
      store(db => db.prepare(`DELETE FROM outbox WHERE destination LIKE 'azureml:%'`).run())
      const before = counts()
      const ms = await flowTest(destination)
      const after = counts()
      if (after.pending !== 0 || after.parked !== 0 || after.delivered !== before.delivered + after.spans - before.spans)
        throw new Error(
          `Cosmos up: expected every span delivered by the end of the command; before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
        )
      return ms
    }

    const rows = []
    for (const [kind, endpoint, reachedCosmos] of [
      ['refused', `https://127.0.0.1:${refusedPort}`, refusedReason],
      ['unresponsive', `https://127.0.0.1:${silent.port}`, silentReached],
    ]) {
      const down = () => {
        azure.cosmosEndpoint = endpoint
        return downFlowTest(kind, reachedCosmos)
      }
      await flowTest('local')
      await upFlowTest()
      await down()
      const local = []
      const base = []
      const subject = []
      for (let i = 0; i < pairs; i++) {
        local.push(await flowTest('local'))
        base.push(await upFlowTest())
        subject.push(await down())
      }
      const l = median(local)
      const x = median(base)
      const y = median(subject)
      const signed = ms => `${ms >= 0 ? '+' : '-'}${Math.abs(ms).toFixed(0)} ms`
      rows.push({
        name: `Added wall time of a traced command whose destination is down: \`pf flow test\` of a trivial flex flow to an azureml workspace whose Cosmos DB is ${kind === 'refused' ? 'refusing connections' : 'accepting connections but never answering'} vs the same command with Cosmos up`,
        baseline: `Cosmos up: ${x.toFixed(0)} ms`,
        measured: `Cosmos ${kind}: ${y.toFixed(0)} ms (${signed(y - x)}; destination local: ${l.toFixed(0)} ms, so ${signed(y - l)} over local)`,
        ratio: y / x,
        target: '≤ +1 s added',
        met: y - x <= 1000,
      })
    }
    return rows
  } finally {
    for (const step of cleanup.reverse()) await step()
  }
}
