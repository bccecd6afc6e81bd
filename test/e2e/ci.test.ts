import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'
import yaml from 'js-yaml'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {Azurite} from '../helpers/azurite.js'
import {CosmosAccount} from '../helpers/cosmos.js'
import {FakeAzure, type FakeWorkspace, workspaceId} from '../helpers/fake-azure.js'
import {FakeEntra} from '../helpers/fake-entra.js'

interface Step {
  name?: string
  uses?: string
  run?: string
}

/** The workflow of docs/ci.md: its job-level env names and its steps. */
const workflow = (): {envNames: string[]; steps: Step[]} => {
  const text = readFileSync(path.join(repoRoot, 'docs', 'ci.md'), 'utf8')
  const block = /```yaml\n([\s\S]*?)```/.exec(text)![1]
  const job = (yaml.load(block) as any).jobs.evaluate
  return {envNames: Object.keys(job.env), steps: job.steps}
}

/** `bash -eo pipefail` as GitHub runs a `run:` step, with no terminal (stdin closed). */
const bash = (script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{code: number | null; stdout: string; stderr: string}> =>
  new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })

const tenant = 'tttttttt-0000-4000-8000-000000000002'
const clientId = 'cccccccc-0000-4000-8000-000000000003'
const clientSecret = 'ci-secret-value-0123456789'

// docs/ci.md's GitHub Actions job, step by step as a runner runs them: bash -eo pipefail, CI=true, no terminal,
// signed in from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (fake Entra ID), traces to a workspace (fake
// control plane, real cosmosdb-server).
describe('docs/ci.md: the GitHub Actions workflow (built CLI, CI=true, no TTY)', function () {
  this.timeout(240_000)
  let azure: FakeAzure
  let entra: FakeEntra
  let cosmos: CosmosAccount
  let azurite: Azurite
  let pfDir: string

  before(async () => {
    cosmos = await new CosmosAccount().start()
    azure = await new FakeAzure().start()
    azure.cosmosEndpoint = cosmos.endpoint
    azurite = await new Azurite().start()
    entra = await new FakeEntra(tenant, clientId, clientSecret).start()
    // `pf` on PATH as `npm link` puts it (the workflow's Install pf step); no `az`, so sign-in is the environment's.
    pfDir = tempDir('pf-bin-')
    writeFileSync(path.join(pfDir, 'pf'), `#!/bin/sh\nexec '${process.execPath}' '${pfBin}' "$@"\n`)
    chmodSync(path.join(pfDir, 'pf'), 0o755)
  })
  after(async () => {
    await entra.stop()
    await azure.stop()
    await cosmos.stop()
    await azurite.stop()
  })

  /** A workspace with its trace store (Cosmos) and its blob datastores (span data, run artifacts) on Azurite. */
  const addWorkspace = async (name: string) => {
    const ws: FakeWorkspace = {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [
        azurite.datastore({containerName: `c-${name}`}),
        azurite.datastore({name: 'workspaceartifactstore', isDefault: false, containerName: `a-${name}`}),
      ],
    }
    azure.workspaces.set(name, ws)
    await cosmos.createTraceStore(`db-${name}`)
    await azurite.createContainer(`c-${name}`)
    await azurite.createContainer(`a-${name}`)
  }

  /** A checkout: the flows and data the workflow names. */
  const checkout = async (): Promise<string> => {
    const repo = tempDir('pf-ci-repo-')
    cpSync(path.join(repoRoot, 'examples', 'hello'), path.join(repo, 'flows', 'answer'), {recursive: true})
    const init = await runPf(['flow', 'init', '--flow', path.join(repo, 'flows', 'grade'), '--type', 'evaluation'], {home: tempDir()})
    expect(init.code, init.stderr).to.equal(0)
    mkdirSync(path.join(repo, 'data'))
    writeFileSync(
      path.join(repo, 'data', 'questions.jsonl'),
      [
        {
          question: 'What does pf trace?',
          expected: 'Hello! pf records every function and LLM call of a flow as a span, locally and in the cloud.',
        },
        {question: 'Is it raining?', expected: 'Hello! Ask me about tracing.'},
      ]
        .map(l => JSON.stringify(l))
        .join('\n') + '\n',
    )
    return repo
  }

  /** Runs the workflow's steps in order, as GitHub runs `run:` steps; stops at the first failing step. */
  const runJob = async (repo: string, workspace: string, edit: (step: Step) => Step = s => s) => {
    const {envNames, steps} = workflow()
    const runnerTemp = tempDir('pf-runner-temp-')
    const jobEnv: NodeJS.ProcessEnv = {
      AZURE_TENANT_ID: tenant,
      AZURE_CLIENT_ID: clientId,
      AZURE_CLIENT_SECRET: clientSecret,
      WORKSPACE: workspace,
      PF_HOME_DIRECTORY: path.join(runnerTemp, 'pf-home'),
    }
    expect(envNames.sort()).to.deep.equal(Object.keys(jobEnv).sort())
    const env: NodeJS.ProcessEnv = {
      PATH: `${pfDir}:${process.env.PATH}`,
      HOME: tempDir('pf-runner-home-'),
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_RUN_ID: '4242',
      RUNNER_TEMP: runnerTemp,
      ...jobEnv,
      // Where this test's Azure lives (a runner reaches the real one): ARM, and Entra ID through an HTTPS proxy.
      PF_ARM_ENDPOINT: azure.url,
      PF_BLOB_ENDPOINT: azurite.blobEndpoint,
      HTTPS_PROXY: entra.proxyUrl,
      NO_PROXY: '127.0.0.1,localhost',
      NODE_EXTRA_CA_CERTS: entra.caFile,
    }
    const results: Array<{name: string; code: number | null; stdout: string; stderr: string}> = []
    for (const step of steps.map(edit)) {
      if (!step.run || step.name === 'Install pf') continue
      // Asynchronous: the fakes answer from this process.
      const result = await bash(step.run, repo, env)
      results.push({name: step.name ?? step.run, ...result})
      if (result.code !== 0) break
    }
    return {results, home: jobEnv.PF_HOME_DIRECTORY!}
  }

  it('runs, evaluates, checks the metrics and ends with every span in the workspace', async () => {
    await addWorkspace('ws-ci')
    const repo = await checkout()
    const {results, home} = await runJob(repo, workspaceId('ws-ci'))
    for (const r of results) expect(r.code, `${r.name}\n${r.stdout}\n${r.stderr}`).to.equal(0)
    expect(results.map(r => r.name)).to.deep.equal([
      'Send traces to the workspace',
      'Batch run',
      'Evaluate the run',
      'Check the metrics',
      'Every span delivered',
    ])

    // Signed in as the service principal (client credentials), the secret never printed.
    expect(entra.tokenRequests.length).to.be.greaterThan(0)
    expect(entra.tokenRequests[0]).to.include({tenant, clientId, grantType: 'client_credentials'})
    for (const r of results) expect(r.stdout + r.stderr).not.to.contain(clientSecret)
    // No terminal: no progress bar, no escape codes; --json output is one document.
    for (const r of results) expect(r.stderr).not.to.match(new RegExp(`${String.fromCharCode(27)}\\[|█`))
    expect(JSON.parse(readFileSync(path.join(repo, 'run.json'), 'utf8')).run).to.include({name: 'answer-4242', status: 'Completed'})
    expect(JSON.parse(readFileSync(path.join(repo, 'metrics.json'), 'utf8'))).to.deep.equal({accuracy: 1})

    const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
    const local = db.prepare('SELECT COUNT(*) FROM spans').pluck().get() as number
    const pending = db.prepare("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'").pluck().get() as number
    db.close()
    expect(pending).to.equal(0)
    expect((await cosmos.items('db-ws-ci', 'Span')).length).to.equal(local)
  })

  it('fails the job at the last step while spans cannot reach the workspace', async () => {
    await addWorkspace('ws-down')
    azure.cosmosEndpoint = 'https://127.0.0.1:1' // Cosmos unreachable: every write fails
    try {
      const repo = await checkout()
      // The one change: a short sync timeout, so the test does not wait two minutes.
      const {results} = await runJob(repo, workspaceId('ws-down'), s =>
        s.run?.startsWith('pf trace sync') ? {...s, run: 'pf trace sync --timeout 3'} : s,
      )
      expect(results.slice(0, -1).map(r => r.code)).to.deep.equal([0, 0, 0, 0])
      const last = results.at(-1)!
      expect(last.name).to.equal('Every span delivered')
      expect(last.code).to.not.equal(0)
      expect(last.stderr).to.match(/\d+ span\(s\)( and \d+ run upload\(s\))? still pending/)
    } finally {
      azure.cosmosEndpoint = cosmos.endpoint
    }
  })
})
