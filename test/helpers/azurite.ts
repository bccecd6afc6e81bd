/**
 * Azurite (the Azure Storage emulator, npm `azurite`) as the workspace's blob storage: its blob service in a child
 * process on 127.0.0.1, a random port, in memory, `--disableTelemetry`, over HTTPS with the tests' certificate
 * (testTls, trusted by pf through NODE_EXTRA_CA_CERTS) and `--oauth basic`, so Azure AD tokens are checked
 * (audience, issuer, lifetime; the fake `az` of fake-azure.ts mints storage-scoped ones).
 *
 * API:
 * - `await new Azurite().start({accounts?})` → accounts `account` (default `pfteststore`) with key `accountKey`.
 * - `blobEndpoint`: the PF_BLOB_ENDPOINT value for pf (`https://127.0.0.1:PORT/{account}`).
 * - `datastore(overrides)`: a FakeDatastore (fake-azure.ts) pointing at one of its accounts, with its key as secrets.
 * - `container(name, account?)`: a ContainerClient signed with the account key (to create containers and read
 *   what pf wrote); `createContainer(name)`.
 * - `stop()` (storage down: data is lost, it is in memory) and `start()` again on the same port (storage up).
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import https from 'node:https'
import {createRequire} from 'node:module'
import path from 'node:path'

import {ContainerClient, StorageSharedKeyCredential, newPipeline} from '@azure/storage-blob'

import {testTls} from './cosmos.js'
import type {FakeDatastore} from './fake-azure.js'

const azuriteBlobMain = path.join(
  path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')),
  'dist',
  'src',
  'blob',
  'main.js',
)

export class Azurite {
  private child: ChildProcess | undefined
  port = 0
  readonly account: string
  readonly accountKey = randomBytes(64).toString('base64')
  private readonly agent: https.Agent

  constructor(account = 'pfteststore') {
    this.account = account
    // No keep-alive: the test's client makes no retries (maxTries 1), and a pooled socket that Azurite closes after
    // its 5 s idle timeout just as the client reuses it fails the test with ECONNRESET (seen once in CI).
    this.agent = new https.Agent({ca: testTls().cert, keepAlive: false})
  }

  /** What pf's PF_BLOB_ENDPOINT is set to: Azurite's path-style account URL. */
  get blobEndpoint(): string {
    return `https://127.0.0.1:${this.port}/{account}`
  }

  accountUrl(account = this.account): string {
    return `https://127.0.0.1:${this.port}/${account}`
  }

  /** Starts the blob service (again on the same port after a stop: "storage back up"). */
  async start(): Promise<this> {
    const {certFile} = testTls()
    const keyFile = path.join(path.dirname(certFile), 'key.pem')
    const args = [
      azuriteBlobMain,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(this.port),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--cert',
      certFile,
      '--key',
      keyFile,
      '--oauth',
      'basic',
    ]
    const child = spawn(process.execPath, args, {
      env: {...process.env, AZURITE_ACCOUNTS: `${this.account}:${this.accountKey}`},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    let output = ''
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within 30 s: ${output}`)), 30_000)
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8')
        const match = /listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(output)
        if (match) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`Azurite exited (${code}) before listening: ${output}`))
      })
    })
    child.stdout!.resume()
    child.stderr!.resume()
    return this
  }

  /** CPU time the blob service has used so far, in ms (Linux /proc; for benchmarks). */
  cpuMs(): number {
    const pid = this.child?.pid
    if (!pid) return 0
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100) // utime + stime, in clock ticks of 10 ms
  }

  /** Stops the blob service (everything it held is gone: it keeps data in memory only). */
  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }

  /** A workspace datastore (for FakeAzure) on this Azurite account; listSecrets answers its account key. */
  datastore(overrides: Partial<FakeDatastore> = {}): FakeDatastore {
    return {
      name: 'workspaceblobstore',
      isDefault: true,
      accountName: this.account,
      containerName: 'azureml-blobstore-test',
      secrets: {secretsType: 'AccountKey', key: this.accountKey},
      ...overrides,
    }
  }

  /** A client for one container, signed with the account key (the test's own view of the storage). */
  container(name: string, account = this.account): ContainerClient {
    const pipeline = newPipeline(new StorageSharedKeyCredential(account, this.accountKey), {retryOptions: {maxTries: 1}})
    // Trust the tests' certificate (this process has no NODE_EXTRA_CA_CERTS): a request policy sets the agent.
    const agent = this.agent
    pipeline.factories.unshift({
      create: next => ({
        sendRequest(request) {
          request.agent = agent
          return next.sendRequest(request)
        },
      }),
    })
    return new ContainerClient(`${this.accountUrl(account)}/${name}`, pipeline)
  }

  async createContainer(name: string): Promise<ContainerClient> {
    const container = this.container(name)
    await container.createIfNotExists()
    return container
  }

  /** Every blob under a prefix: name → content. */
  async blobs(containerName: string, prefix = ''): Promise<Map<string, Buffer>> {
    const container = this.container(containerName)
    const out = new Map<string, Buffer>()
    for await (const blob of container.listBlobsFlat({prefix}))
      out.set(blob.name, await container.getBlobClient(blob.name).downloadToBuffer())
    return out
  }
}
