import {spawn, spawnSync} from 'node:child_process'
import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {register} from 'tsx/esm/api'

import {median, pfBin, repoRoot, tempDir} from '../lib.js'

const driver = path.join(repoRoot, 'bench', 'drivers', 'run-upload.js')
// 2,500 lines are about 2,600 blobs (Azurite writes 150–250 a second here); PF_BENCH_UPLOAD_LINES sets another count.
const linesOf = quick => (quick ? 30 : Number(process.env.PF_BENCH_UPLOAD_LINES ?? 2500))

const runDriver = (args, env) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [driver, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', d => (out += d))
    child.stderr.on('data', d => (err += d))
    child.on('close', code => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`run-upload driver exited ${code}: ${err}${out}`))))
  })

/**
 * Run tracking: the upload of a finished 2,500-line run (prompt flow's blob layout, ~2.6k blobs, to Azurite through
 * the fake control plane, parallel blob uploads) against writing the same files to a local folder.
 */
export default async function runUpload({pairs, quick}) {
  const lines = linesOf(quick)
  register()
  const {FakeAzure, fakeAzCli, workspaceId} = await import('../../test/helpers/fake-azure.ts')
  const {Azurite} = await import('../../test/helpers/azurite.ts')
  const {testTls} = await import('../../test/helpers/cosmos.ts')
  const azure = await new FakeAzure().start()
  const azurite = await new Azurite().start()
  try {
    await azurite.createContainer('azureml-blobstore-test')
    await azurite.createContainer('azureml')
    azure.workspaces.set('bench-ws', {
      traceCosmosStatus: 'Initialized',
      datastores: [azurite.datastore(), azurite.datastore({name: 'workspaceartifactstore', isDefault: false, containerName: 'azureml'})],
    })
    const env = {
      ...process.env,
      PATH: `${fakeAzCli()}:${process.env.PATH}`,
      PF_ARM_ENDPOINT: azure.url,
      PF_BLOB_ENDPOINT: azurite.blobEndpoint,
      NODE_EXTRA_CA_CERTS: testTls().certFile,
    }
    // One finished run, traced locally (its line runs feed the line records).
    const home = tempDir('pf-bench-upload-home-')
    const data = path.join(home, 'data.jsonl')
    writeFileSync(data, Array.from({length: lines}, (_, i) => JSON.stringify({question: `question ${i}`})).join('\n') + '\n')
    writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: local\n')
    const created = spawnSync(
      process.execPath,
      [
        pfBin,
        'run',
        'create',
        '--flow',
        path.join(repoRoot, 'test', 'fixtures', 'flows', 'run-answer'),
        '--data',
        data,
        '--name',
        'bench_run',
      ],
      {
        env: {...env, PF_HOME_DIRECTORY: home},
        encoding: 'utf8',
      },
    )
    if (created.status !== 0) throw new Error(`pf run create failed: ${created.stderr}`)
    // An upload of thousands of lines takes minutes against Azurite (one Node process doing ~100 blob writes/s on a busy
    // 2-core machine): one warm-up of the fast side, then one round.
    const rounds = Math.max(1, Math.min(pairs, 1))
    const local = []
    const upload = []
    const sdk = []
    let blobs = 0
    const out = () => tempDir('pf-bench-upload-local-')
    rmSync(out(), {recursive: true, force: true})
    await runDriver([home, 'bench_run', 'local', out()], env)
    for (let i = 0; i < rounds; i++) {
      const folder = out()
      local.push((await runDriver([home, 'bench_run', 'local', folder], env)).ms)
      rmSync(folder, {recursive: true, force: true})
      const result = await runDriver([home, 'bench_run', 'upload', workspaceId('bench-ws')], env)
      upload.push(result.ms)
      blobs = result.blobs
      sdk.push(
        (
          await runDriver([home, 'bench_run', 'sdk', `${azurite.accountUrl()}/azureml-blobstore-test`], {
            ...env,
            BENCH_ACCOUNT_KEY: azurite.accountKey,
          })
        ).ms,
      )
    }
    const ratio = median(upload) / median(local)
    const overhead = median(upload) / median(sdk)
    return [
      {
        name: `run upload of a ${lines}-line run (${blobs} blobs to Azurite + control plane calls) vs writing the same files to a local folder`,
        baseline: `local folder: ${(median(local) / 1000).toFixed(2)} s`,
        measured: `upload: ${(median(upload) / 1000).toFixed(2)} s`,
        ratio,
        target: '≤ 5×',
        met: ratio <= 5,
      },
      {
        name: `run upload of the same run: pf (job, datastores, control plane calls, ${blobs} blobs) vs the same blobs sent straight with the storage SDK, 32 at a time`,
        baseline: `storage SDK: ${(median(sdk) / 1000).toFixed(2)} s`,
        measured: `pf upload: ${(median(upload) / 1000).toFixed(2)} s`,
        ratio: overhead,
        target: '≤ 1.5×',
        met: overhead <= 1.5,
      },
    ]
  } finally {
    await azurite.stop()
    await azure.stop()
  }
}
