import {expect} from 'chai'
import {spawn} from 'node:child_process'
import net from 'node:net'
import path from 'node:path'

import {blobAccountUrl, datastoreUri, parseDatastore} from '../../src/destinations/azureml/datastore.js'
import {Azurite} from '../helpers/azurite.js'
import {repoRoot} from '../helpers/cli.js'
import {FakeAzure, azureEnv, armDatastore, fakeAzCli, resourceGroup, subscription} from '../helpers/fake-azure.js'

const ws = {subscriptionId: subscription, resourceGroup, workspaceName: 'ws1'}

describe('azureml: the default datastore', () => {
  it('reads an AzureBlob datastore from ARM; anything else is a clear error', () => {
    const ds = parseDatastore(armDatastore({name: 'workspaceblobstore', accountName: 'acct1', containerName: 'c1'}, '/x'))
    expect(ds).to.deep.equal({
      name: 'workspaceblobstore',
      accountName: 'acct1',
      containerName: 'c1',
      endpoint: 'core.windows.net',
      protocol: 'https',
      credentialsType: 'None',
    })
    expect(() => parseDatastore(armDatastore({name: 'files', type: 'AzureFile', accountName: 'a', containerName: 'c'}, '/x')))
      .to.throw('Default datastore files is AzureFile, not AzureBlob.')
      .with.property('code', 'datastore_not_blob')
  })

  it('builds the account URL from the datastore, or from PF_BLOB_ENDPOINT with {account}', () => {
    const ds = {accountName: 'acct1', endpoint: 'core.chinacloudapi.cn', protocol: 'https'}
    expect(blobAccountUrl(ds, {})).to.equal('https://acct1.blob.core.chinacloudapi.cn')
    expect(blobAccountUrl(ds, {PF_BLOB_ENDPOINT: 'https://127.0.0.1:10000/{account}/'})).to.equal('https://127.0.0.1:10000/acct1')
  })

  it('names blobs with azureml:// datastore URIs', () => {
    expect(datastoreUri(ws, 'workspaceblobstore', '.promptflow/.trace/c/t/s/span.json')).to.equal(
      `azureml://subscriptions/${subscription}/resourcegroups/${resourceGroup}/workspaces/ws1/datastores/workspaceblobstore/paths/.promptflow/.trace/c/t/s/span.json`,
    )
  })
})

/**
 * DatastoreBlobs writes one blob twice (the second write shows the cached datastore and credential) in a child
 * process: pf trusts the test certificate through NODE_EXTRA_CA_CERTS, read at start-up only.
 */
const driver = `
const {ControlPlane} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/control-plane.ts'))})
const {signInFor} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/credential.ts'))})
const {datastoreBlobs} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/datastore.ts'))})
const {configReader} = await import(${JSON.stringify(path.join(repoRoot, 'src/config/files.ts'))})
const ws = JSON.parse(process.env.TEST_WS)
const signIn = signInFor(configReader({}), process.env)
const blobs = datastoreBlobs(new ControlPlane(signIn, process.env), signIn, ws, process.env)
try {
  for (const n of [1, 2]) await blobs.withContainer(c => c.getBlockBlobClient('dir/hello.txt').upload('hello ' + n, 7))
  console.log(JSON.stringify({ok: true, auth: await blobs.auth(), datastore: await blobs.datastore()}))
} catch (error) {
  console.log(JSON.stringify({ok: false, name: error.name, code: error.code, message: error.message}))
}
`

/** pf's span blob writer for one small span, in a child process; prints its outcome and how long it took. */
const spanDriver = `
const {ControlPlane} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/control-plane.ts'))})
const {signInFor} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/credential.ts'))})
const {datastoreBlobs} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/datastore.ts'))})
const {SpanBlobWriter} = await import(${JSON.stringify(path.join(repoRoot, 'src/destinations/azureml/span-blobs.ts'))})
const {configReader} = await import(${JSON.stringify(path.join(repoRoot, 'src/config/files.ts'))})
const ws = JSON.parse(process.env.TEST_WS)
const signIn = signInFor(configReader({}), process.env)
const writer = new SpanBlobWriter(datastoreBlobs(new ControlPlane(signIn, process.env), signIn, ws, process.env))
const ref = {name: 's', context: {trace_id: '0x' + 'a'.repeat(32), span_id: '0x' + 'b'.repeat(16), trace_state: ''}, kind: 1, parent_id: null,
  start_time: '2026-01-01T00:00:00.000000Z', end_time: '2026-01-01T00:00:01.000000Z', status: {status_code: 'Ok', description: ''},
  attributes: {}, events: [], links: [], resource: {attributes: {}, schema_url: ''}}
const started = Date.now()
const outcome = await writer.write('c1', ref)
console.log(JSON.stringify({...outcome, ms: Date.now() - started}))
process.exit(0)
`

const runDriver = (env: NodeJS.ProcessEnv, code = driver): Promise<any> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: repoRoot,
      env: {...process.env, ...env},
    })
    let out = ''
    let err = ''
    child.stdout.on('data', d => (out += d))
    child.stderr.on('data', d => (err += d))
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!))
      } catch {
        reject(new Error(`driver failed: ${out}${err}`))
      }
    })
  })

describe('azureml: datastore blobs (Azurite with --oauth basic, fake ARM)', function () {
  this.timeout(60_000)
  let azurite: Azurite
  let azure: FakeAzure
  const container = 'azureml-blobstore-test'

  before(async () => {
    azurite = await new Azurite().start()
    azure = await new FakeAzure().start()
  })
  after(async () => {
    await azure.stop()
    await azurite.stop()
  })
  beforeEach(async () => {
    azure.calls.length = 0
    await azurite.container(container).deleteIfExists()
    await azurite.createContainer(container)
  })

  const env = (azOptions: {storageDenied?: boolean} = {}) => ({
    ...azureEnv(azure, azurite.blobEndpoint, fakeAzCli(azOptions)),
    TEST_WS: JSON.stringify(ws),
  })
  const text = async () => (await azurite.blobs(container)).get('dir/hello.txt')?.toString('utf8')

  it('writes with the Azure AD storage token; datastore resolved once (isDefault list) and cached', async () => {
    azure.workspaces.set('ws1', {datastores: [azurite.datastore({name: 'other', isDefault: false}), azurite.datastore()]})
    const result = await runDriver(env())
    expect(result, JSON.stringify(result)).to.include({ok: true, auth: 'aad'})
    expect(result.datastore).to.include({name: 'workspaceblobstore', accountName: azurite.account, containerName: container})
    expect(await text()).to.equal('hello 2')
    expect(azure.callsTo(/GET .*\/datastores\?api-version=2023-04-01-preview&isDefault=true$/)).to.have.length(1)
    expect(azure.callsTo(/listSecrets/)).to.have.length(0)
  })

  it('falls back to the datastore account key when the storage answers 403 to the AD token, and keeps using it', async () => {
    azure.workspaces.set('ws1', {datastores: [azurite.datastore()]})
    const result = await runDriver(env({storageDenied: true}))
    expect(result, JSON.stringify(result)).to.include({ok: true, auth: 'secrets'})
    expect(await text()).to.equal('hello 2')
    expect(azure.callsTo(/POST .*\/datastores\/workspaceblobstore\/listSecrets\?api-version=2023-04-01-preview$/)).to.have.length(1)
  })

  it('says which role is missing when both the AD token and the secrets are refused', async () => {
    azure.workspaces.set('ws1', {datastores: [azurite.datastore({secrets: 403})]})
    const result = await runDriver(env({storageDenied: true}))
    expect(result).to.include({ok: false, code: 'storage_forbidden'})
    expect(result.message).to.contain(`Storage Blob Data Contributor" on account ${azurite.account}`)
    expect(result.message).to.contain(`container ${container}`)
    expect(await text()).to.equal(undefined)
  })

  it('refuses a default datastore that is not blob storage', async () => {
    azure.workspaces.set('ws1', {datastores: [azurite.datastore({name: 'files', type: 'AzureFile'})]})
    const result = await runDriver(env())
    expect(result).to.include({ok: false, code: 'datastore_not_blob'})
    expect(result.message).to.contain('Default datastore files is AzureFile, not AzureBlob.')
  })

  it('gives up an upload the storage never answers (retryable), so the export never hangs', async function () {
    this.timeout(120_000)
    azure.workspaces.set('ws1', {datastores: [azurite.datastore()]})
    // Accepts connections and never says a word (not even the TLS handshake).
    const sockets: net.Socket[] = []
    const silent = net.createServer(socket => sockets.push(socket))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as net.AddressInfo).port
      const result = await runDriver({...env(), PF_BLOB_ENDPOINT: `https://127.0.0.1:${port}/{account}`}, spanDriver)
      expect(result, JSON.stringify(result)).to.include({code: 'retryable'})
      expect(result.reason).to.match(/^blob storage: /)
      expect(result.ms).to.be.within(29_000, 60_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  it('reports storage that does not answer as transient (the outbox retries it)', async () => {
    azure.workspaces.set('ws1', {datastores: [azurite.datastore()]})
    const result = await runDriver({...env(), PF_BLOB_ENDPOINT: 'https://127.0.0.1:1/{account}'})
    expect(result).to.include({ok: false, name: 'TransientAzureError'})
  })
})
