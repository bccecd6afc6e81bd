import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {cpSync, existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {Azurite} from '../helpers/azurite.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {CosmosAccount} from '../helpers/cosmos.js'
import {FakeAzure, azureEnv, type FakeDatastore, fakeAzCli, resourceGroup, subscription, user, workspaceId} from '../helpers/fake-azure.js'
import {outboxStates, storedSpans} from '../helpers/store.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'flows')
const hex = (id: string) => `0x${id}`

describe('azureml span data in blob storage (built CLI, Azurite, cosmosdb-server, fake ARM)', function () {
  this.timeout(180_000)
  let azure: FakeAzure
  let cosmos: CosmosAccount
  let azurite: Azurite
  let home: string

  const env = (az: {storageDenied?: boolean} = {}): NodeJS.ProcessEnv => azureEnv(azure, azurite.blobEndpoint, fakeAzCli(az))

  /** A workspace whose default datastore is a container on Azurite; pf.yaml points at it. */
  const useWorkspace = async (name: string, datastore: Partial<FakeDatastore> = {}) => {
    azure.workspaces.set(name, {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [azurite.datastore({containerName: `c-${name}`, ...datastore})],
    })
    await cosmos.createTraceStore(`db-${name}`)
    await azurite.createContainer(`c-${name}`)
    await runPf(['config', 'set', `trace.destination=${workspaceId(name)}`], {home, env: env()})
  }

  const flow = (fixture: string) => {
    const dir = path.join(tempDir('pf-flows-'), fixture)
    cpSync(path.join(fixtures, fixture), dir, {recursive: true})
    return dir
  }

  const blobDir = (collectionId: string, span: any) =>
    `.promptflow/.trace/${collectionId}/${hex(span.context.trace_id)}/${hex(span.context.span_id)}/`

  before(async () => {
    cosmos = await new CosmosAccount().start()
    azure = await new FakeAzure().start()
    azurite = await new Azurite().start()
    azure.cosmosEndpoint = cosmos.endpoint
  })
  after(async () => {
    await azure.stop()
    await cosmos.stop()
    await azurite.stop()
  })
  beforeEach(() => {
    home = tempDir('pf-home-')
    azure.calls.length = 0
  })

  it('writes items and blobs identical to the reference-shaped golden fixtures, field by field', async () => {
    const golden = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'azureml-items', 'golden.json'), 'utf8'))
    const name = golden.workspace
    azure.workspaces.set(name, {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [azurite.datastore({containerName: `c-${name}`})],
    })
    await cosmos.createTraceStore(`db-${name}`)
    await azurite.createContainer(`c-${name}`)
    // pf's azureml sink in a child process, as pf runs it (fake `az`, test CA), one export call per step.
    const exportSpans = (spans: object[]) =>
      new Promise<any>((resolve, reject) => {
        const script = `
          const {azuremlProvider} = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'destinations', 'azureml', 'provider.js'))})
          const {configReader} = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'config', 'files.js'))})
          const ctx = {cwd: process.cwd(), config: configReader({}), env: process.env}
          const sink = await azuremlProvider.exporter(await azuremlProvider.resolve(process.argv[1], ctx), ctx)
          const result = await sink.export(JSON.parse(process.argv[2]), {attempts: {}})
          await sink.shutdown?.()
          console.log(JSON.stringify(result))`
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, workspaceId(name), JSON.stringify(spans)], {
          env: {...process.env, ...env()},
        })
        let out = ''
        let err = ''
        child.stdout.on('data', d => (out += d))
        child.stderr.on('data', d => (err += d))
        child.on('close', code => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))))
      })
    const strip = ({_etag, _ts, _rid, _self, _attachments, ...rest}: any) => rest
    const expectFields = (actual: any, expected: any, what: string) => {
      expect(Object.keys(actual).sort(), `${what}: fields`).to.deep.equal(Object.keys(expected).sort())
      for (const key of Object.keys(expected)) expect(actual[key], `${what}.${key}`).to.deep.equal(expected[key])
    }
    const {A, B, C, D} = golden.spans
    expect((await exportSpans([B])).code).to.equal('ok')
    expectFields(strip((await cosmos.items(`db-${name}`, 'LineSummary'))[0]), golden.placeholderAfterB, 'placeholder')
    expect((await exportSpans([A, D])).code).to.equal('ok')
    expect((await exportSpans([C])).code).to.equal('ok')
    for (const container of ['Span', 'LineSummary'] as const) {
      const items = (await cosmos.items(`db-${name}`, container)).map(strip)
      expect(items.map(i => i.id).sort(), container).to.deep.equal(golden.items[container].map((i: any) => i.id).sort())
      for (const expected of golden.items[container])
        expectFields(
          items.find(i => i.id === expected.id),
          expected,
          `${container} ${expected.name}`,
        )
    }
    const blobs = await azurite.blobs(`c-${name}`)
    expect([...blobs.keys()].sort()).to.deep.equal(Object.keys(golden.blobs).sort())
    for (const [blobPath, content] of blobs) expect(JSON.parse(content.toString('utf8')), blobPath).to.deep.equal(golden.blobs[blobPath])
  })

  it('keeps a 50 MB input whole in blob storage while its Cosmos item stays under 2 MB', async () => {
    await useWorkspace('ws-big')
    const size = 50_000_000
    const result = await runPf(
      ['flow', 'test', '--flow', flow('many-spans'), '--inputs', 'count=1', `size=${size}`, '--export-wait', '150', '--json'],
      {home, env: env(), timeoutMs: 170_000},
    )
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    expect(result.json().export[0]).to.include({delivered: 2, pending: 0, parked: 0})
    const step = storedSpans(home).find(s => s.name === 'step')!
    const collectionId = `many-spans_${user.oid}`
    const dir = blobDir(collectionId, step)
    const container = azurite.container('c-ws-big')
    const spanJson = JSON.parse((await container.getBlobClient(`${dir}span.json`).downloadToBuffer()).toString('utf8'))
    const text = JSON.parse(spanJson.attributes.inputs).text
    expect(text.length).to.equal(size)
    expect(/^x+$/.test(text)).to.equal(true)
    // The inputs event, whole, in its own blob.
    const inputsEvent = step.events.findIndex((e: any) => e.name === 'promptflow.function.inputs')
    expect(inputsEvent).to.be.at.least(0)
    const event = JSON.parse((await container.getBlobClient(`${dir}${inputsEvent}`).downloadToBuffer()).toString('utf8'))
    expect(JSON.parse(event.attributes.payload).text.length).to.equal(size)

    const [item] = (await cosmos.items('db-ws-big', 'Span')).filter(s => s.id === hex(step.context.span_id))
    expect(Buffer.byteLength(JSON.stringify(item))).to.be.below(2 * 1024 * 1024)
    expect(item.attributes.inputs).to.have.length(8192)
    expect(item.events[inputsEvent].attributes).to.deep.equal({})
    const base = `azureml://subscriptions/${subscription}/resourcegroups/${resourceGroup}/workspaces/ws-big/datastores/workspaceblobstore/paths/`
    expect(item.span_json_uri).to.equal(`${base}${dir}span.json`)
    expect(item.external_event_data_uris[inputsEvent]).to.equal(`${base}${dir}${inputsEvent}`)
  })

  it('storage down: spans wait in the outbox (no item without its blobs); storage up: `pf trace sync` delivers each once', async () => {
    await useWorkspace('ws-down')
    await azurite.stop()
    try {
      const result = await runPf(
        // Long enough for the first attempt (sign-in, datastore lookup, refused connection) on a loaded machine.
        ['flow', 'test', '--flow', flow('many-spans'), '--inputs', 'count=20', 'size=100', '--export-wait', '6', '--json'],
        {home, env: env()},
      )
      expect(result.code, result.stderr + result.stdout).to.equal(0)
      const [report] = result.json().export
      expect(report).to.include({delivered: 0, pending: 21, parked: 0})
      expect(report.lastError).to.match(/^blob storage: /)
      const human = await runPf(['trace', 'sync', '--timeout', '2'], {home, env: env()})
      expect(human.code, 'still pending: exit 3').to.equal(3)
      expect(human.stdout).to.contain('21 pending')
      expect(await cosmos.items('db-ws-down', 'Span'), 'no item points at blobs that are not there').to.have.length(0)
    } finally {
      await azurite.start() // same port, empty: storage is back
    }
    await azurite.createContainer('c-ws-down')
    const sync = await runPf(['trace', 'sync', '--timeout', '60', '--json'], {home, env: env()})
    expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
    const local = storedSpans(home)
    expect(outboxStates(home)).to.deep.equal({delivered: local.length})
    const items = await cosmos.items('db-ws-down', 'Span')
    expect(items.map(i => i.id).sort()).to.deep.equal(local.map(s => hex(s.context.span_id)).sort())
    const blobs = await azurite.blobs('c-ws-down')
    const collectionId = `many-spans_${user.oid}`
    for (const span of local) expect(blobs.has(`${blobDir(collectionId, span)}span.json`), span.name).to.equal(true)
    expect(blobs.size).to.equal(local.reduce((n, s) => n + 1 + s.events.length, 0))
  })

  it('loses and duplicates nothing when pf is SIGKILLed while it uploads span data (pf trace sync finishes)', async function () {
    this.timeout(300_000)
    await useWorkspace('ws-kill')
    const container = azurite.container('c-ws-kill')
    let child: ChildProcess | undefined
    const exited = new Promise<NodeJS.Signals | null>(resolve => {
      // A long export wait: pf is still uploading when it is killed (the default wait is 1 s). 600 spans: since the
      // items go in transactional batches, 150 were sometimes all sent between the first blob and the kill.
      child = spawn(
        process.execPath,
        [pfBin, 'flow', 'test', '--flow', flow('many-spans'), '--inputs', 'count=600', 'size=2000', '--export-wait', '120'],
        {
          cwd: home,
          env: {...process.env, PF_HOME_DIRECTORY: home, ...env()},
          stdio: 'ignore',
        },
      )
      child.on('close', (_code, signal) => resolve(signal))
    })
    // Kill as soon as the first blobs are in: uploads (and items) are under way.
    let ended = false
    void exited.then(() => (ended = true))
    for (;;) {
      const first = await container.listBlobsFlat().next()
      if (!first.done) break
      if (ended) expect.fail('pf ended before it wrote any span data')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    child!.kill('SIGKILL')
    expect(await exited).to.equal('SIGKILL')
    const local = storedSpans(home)
    expect(local).to.have.length(601)
    expect(outboxStates(home).pending ?? 0, 'spans were still to be sent when pf died').to.be.greaterThan(0)

    const sync = await runPf(['trace', 'sync', '--timeout', '120', '--json'], {home, env: env(), timeoutMs: 150_000})
    expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
    expect(outboxStates(home)).to.deep.equal({delivered: 601})
    const items = await cosmos.items('db-ws-kill', 'Span')
    const ids = items.map(i => i.id)
    expect(new Set(ids).size, 'no duplicated item').to.equal(ids.length)
    expect(ids.sort()).to.deep.equal(local.map(s => hex(s.context.span_id)).sort())
    const blobs = await azurite.blobs('c-ws-kill')
    const collectionId = `many-spans_${user.oid}`
    expect([...blobs.keys()].filter(k => k.endsWith('/span.json')).sort()).to.deep.equal(
      local.map(s => `${blobDir(collectionId, s)}span.json`).sort(),
    )
    expect(blobs.size).to.equal(local.reduce((n, s) => n + 1 + s.events.length, 0))
    for (const span of local)
      expect(JSON.parse(blobs.get(`${blobDir(collectionId, span)}span.json`)!.toString('utf8')).attributes.inputs, span.name).to.equal(
        span.attributes.inputs,
      )
  })

  it('falls back to the datastore secrets when the storage refuses the Azure AD token (403)', async () => {
    await useWorkspace('ws-key')
    const result = await runPf(['flow', 'test', '--flow', flow('flex-basic'), '--export-wait', '50', '--json'], {
      home,
      env: env({storageDenied: true}),
    })
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    expect(result.json().export[0]).to.include({delivered: 3, pending: 0})
    expect(azure.callsTo(/POST .*\/datastores\/workspaceblobstore\/listSecrets/)).to.have.length(1)
    expect((await azurite.blobs('c-ws-key')).size).to.be.greaterThan(3)
  })

  it('names the missing role when the storage refuses the token and the secrets are not readable; the spans wait', async () => {
    await useWorkspace('ws-norole', {secrets: 403})
    const result = await runPf(['flow', 'test', '--flow', flow('flex-basic'), '--export-wait', '6', '--json'], {
      home,
      env: env({storageDenied: true}),
    })
    expect(result.code, result.stderr + result.stdout).to.equal(0)
    const [report] = result.json().export
    expect(report).to.include({delivered: 0, pending: 3, parked: 0})
    expect(report.lastError).to.contain(`No permission to write to storage account ${azurite.account} container c-ws-norole`)
    expect(report.lastError).to.contain(`"Storage Blob Data Contributor" on account ${azurite.account}`)
    expect(await cosmos.items('db-ws-norole', 'Span')).to.have.length(0)
    // The role granted (here: the token accepted), a sync delivers them.
    const sync = await runPf(['trace', 'sync', '--json'], {home, env: env()})
    expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
    expect(await cosmos.items('db-ws-norole', 'Span')).to.have.length(3)
  })

  it('says so when the default datastore is not blob storage; nothing is written, the spans wait', async () => {
    await useWorkspace('ws-files', {name: 'workspacefilestore', type: 'AzureFile'})
    const result = await runPf(['flow', 'test', '--flow', flow('flex-basic'), '--export-wait', '6'], {home, env: env()})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.contain('3 span(s) pending for')
    expect(result.stderr).to.contain('Default datastore workspacefilestore is AzureFile, not AzureBlob.')
    expect(await cosmos.items('db-ws-files', 'Span')).to.have.length(0)
    expect(outboxStates(home)).to.deep.equal({pending: 3})
  })
})

if (!existsSync(pfBin)) throw new Error('build first: npm run build')
