import {spawn} from 'node:child_process'
import {cpSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {register} from 'tsx/esm/api'

import {median, pfBin, runExportDriver, startSilentServer, tempDir, timeProcessAsync} from '../lib.js'

/**
 * `pf trace sync` right after an exporting pf process was SIGKILLed while it held claims on the outbox, cloud up:
 * how long the dead process's claims hold delivery back. The subject is the whole sync of 500 pending spans (50 in
 * quick mode) to an Azure ML workspace (the tests' fake control plane and fake `az`, cosmosdb-server, Azurite as the
 * default datastore), from a home where a `pf trace sync` was killed with 9 holding claims on up to 400 of them (its
 * Cosmos did not answer: a TCP server that accepts and stays silent); the baseline is the same sync of the same spans
 * from a copy of the same home where nothing holds a claim. The difference is what the dead claims cost (their lease
 * is 60 s; pf is meant to take them back at once), so timing the whole sync bounds from above the time to start
 * delivering. Every sync must exit 0 with every span in Cosmos and none pending. Each measurement needs a fresh copy
 * of the prepared home, an emptied Cosmos database and (for the subject) a killed exporter, so up to 5 rounds are
 * taken, not `pairs`.
 */
export default async function syncAfterKill({pairs, quick}) {
  register()
  const {FakeAzure, fakeAzCli, workspaceId} = await import('../../test/helpers/fake-azure.ts')
  const {CosmosAccount, testTls} = await import('../../test/helpers/cosmos.ts')
  const {Azurite} = await import('../../test/helpers/azurite.ts')
  const {default: Database} = await import('better-sqlite3')

  const spans = quick ? 50 : 500
  const rounds = Math.max(1, Math.min(pairs, 5))
  const cleanup = []
  try {
    const cosmos = await new CosmosAccount().start()
    cleanup.push(() => cosmos.stop())
    const azure = await new FakeAzure().start()
    cleanup.push(() => azure.stop())
    const azurite = await new Azurite().start()
    cleanup.push(() => azurite.stop())
    const workspace = 'bench-sync'
    azure.workspaces.set(workspace, {
      traceCosmosStatus: 'Initialized',
      databaseName: workspace,
      datastores: [azurite.datastore({containerName: workspace})],
    })
    await azurite.createContainer(workspace)
    // The Cosmos the killed exporter talks to: accepts connections, never answers (not even the TLS handshake).
    const silent = await startSilentServer()
    cleanup.push(() => silent.close())

    const azDir = fakeAzCli()
    cleanup.push(() => rmSync(path.dirname(azDir), {recursive: true, force: true}))
    const baseEnv = {
      ...process.env,
      PATH: `${azDir}:${process.env.PATH}`,
      PF_ARM_ENDPOINT: azure.url,
      PF_BLOB_ENDPOINT: azurite.blobEndpoint,
      NODE_EXTRA_CA_CERTS: testTls().certFile,
    }
    const homes = []
    cleanup.push(() => homes.forEach(home => rmSync(home, {recursive: true, force: true})))
    const newHome = () => {
      const home = tempDir('pf-bench-home-')
      homes.push(home)
      return home
    }

    // The prepared home: `spans` spans (lines of 10, as the azureml-export case makes them) recorded in pf's store and
    // queued for the workspace, which trace.destination names.
    const prepared = newHome()
    writeFileSync(path.join(prepared, 'pf.yaml'), `trace:\n  destination: ${workspaceId(workspace)}\n`, {mode: 0o600})
    await runExportDriver([prepared, workspaceId(workspace), String(spans), 'prepare'], baseEnv)
    const copyOfPrepared = () => {
      const home = newHome()
      cpSync(prepared, home, {recursive: true})
      return home
    }
    const query = (home, sql, ...params) => {
      const db = new Database(path.join(home, 'pf.sqlite'), {readonly: true})
      try {
        return db.prepare(sql).get(...params)
      } finally {
        db.close()
      }
    }
    const outbox = home =>
      query(
        home,
        // A delivered item leaves the outbox; its destination counts it (schema migration 8).
        `SELECT TOTAL(state = 'pending') AS pending, (SELECT TOTAL(spans) FROM outbox_delivered) AS delivered,
           TOTAL(state = 'parked') AS parked, TOTAL(state = 'pending' AND claimed_until > ?) AS claimed FROM outbox`,
        Date.now(),
      )
    const deadClaims = (home, pid) =>
      query(
        home,
        `SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND claimed_by LIKE ? AND claimed_until > ?`,
        `${pid}:%`,
        Date.now(),
      ).n

    /** A pf exporting to a silent Cosmos, SIGKILLed once it holds claims and waits for Cosmos; returns its claims. */
    const killExporter = async home => {
      azure.cosmosEndpoint = `https://127.0.0.1:${silent.port}`
      const connections = silent.accepted()
      const child = spawn(process.execPath, [pfBin, 'trace', 'sync'], {
        cwd: home,
        env: {...baseEnv, PF_HOME_DIRECTORY: home},
        stdio: 'ignore',
      })
      const exited = new Promise(resolve => child.on('close', resolve))
      cleanup.push(() => child.kill('SIGKILL'))
      const deadline = Date.now() + 30_000
      while (!(silent.accepted() > connections && deadClaims(home, child.pid) > 0)) {
        if (child.exitCode !== null) throw new Error(`the exporter to kill exited ${child.exitCode} before holding claims`)
        if (Date.now() > deadline) throw new Error('the exporter to kill held no claims (or never reached Cosmos) within 30 s')
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      child.kill('SIGKILL')
      await exited
      // Claims of a process that is gone, their lease still running: what the timed sync must take back.
      const held = deadClaims(home, child.pid)
      if (held === 0) throw new Error(`no claims left by the killed pf (pid ${child.pid})`)
      return held
    }

    /** The timed part: `pf trace sync` to a Cosmos that is up, from an emptied database; every span must arrive. */
    const sync = async home => {
      azure.cosmosEndpoint = cosmos.endpoint
      await cosmos.client
        .database(workspace)
        .delete()
        .catch(error => {
          if (error.code !== 404) throw error
        })
      await cosmos.createTraceStore(workspace)
      const ms = await timeProcessAsync([pfBin, 'trace', 'sync'], {cwd: home, env: {...baseEnv, PF_HOME_DIRECTORY: home}})
      const items = (await cosmos.items(workspace, 'Span')).length
      const counts = outbox(home)
      if (items !== spans || counts.pending !== 0 || counts.parked !== 0 || counts.delivered !== spans)
        throw new Error(`sync left spans undelivered: ${items} of ${spans} Span items in Cosmos, outbox ${JSON.stringify(counts)}`)
      return ms
    }

    const clean = []
    const killed = []
    const held = []
    const round = async () => {
      clean.push(await sync(copyOfPrepared()))
      const home = copyOfPrepared()
      held.push(await killExporter(home))
      killed.push(await sync(home))
    }
    // A warm-up round (the first syncs run while Azurite and cosmosdb-server are still cold, often twice as slow).
    if (!quick) {
      await round()
      for (const list of [clean, killed, held]) list.length = 0
    }
    for (let i = 0; i < rounds; i++) await round()
    const x = median(clean)
    const y = median(killed)
    return [
      {
        name: `\`pf trace sync\` of ${spans} pending spans (whole sync timed: an upper bound of the time to start delivering) after the exporting pf was SIGKILLed holding claims on ${median(held)} of them, vs the same sync with no claims held (median of ${rounds} rounds)`,
        baseline: `no claims: ${x.toFixed(0)} ms`,
        measured: `claims of a killed pf: ${y.toFixed(0)} ms (${y >= x ? '+' : '-'}${Math.abs(y - x).toFixed(0)} ms)`,
        ratio: y / x,
        target: '≤ 2 s to start delivering',
        met: y <= x + 2000,
      },
    ]
  } finally {
    for (const step of cleanup.reverse()) await step()
  }
}
