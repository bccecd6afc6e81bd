import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'

import {Azurite} from '../helpers/azurite.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {CosmosAccount, testTls} from '../helpers/cosmos.js'
import {FakeAzure, type FakeWorkspace, fakeAzCli, resourceGroup, subscription, workspaceId} from '../helpers/fake-azure.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'flows')
const defaultContainer = 'azureml-blobstore-test'
const artifactContainer = 'azureml'
const wsid = (ws: string) => `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws}`

const uploadRows = (home: string): any[] => {
  const db = new Database(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return db.prepare('SELECT run, state, steps, attempts, last_error FROM run_uploads ORDER BY run').all() as any[]
  } finally {
    db.close()
  }
}

describe('run tracking: pf run create uploads the run to the workspace (fake control plane, Azurite, cosmosdb-server)', function () {
  this.timeout(180_000)
  let azure: FakeAzure
  let cosmos: CosmosAccount
  let azurite: Azurite
  let home: string
  let azDir: string
  let data: string

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: `${azDir}:${process.env.PATH}`,
    PF_ARM_ENDPOINT: azure.url,
    PF_BLOB_ENDPOINT: azurite.blobEndpoint,
    NODE_EXTRA_CA_CERTS: testTls().certFile,
    ...extra,
  })

  const addWorkspace = async (name: string, settings: FakeWorkspace = {}) => {
    const ws: FakeWorkspace = {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [azurite.datastore(), azurite.datastore({name: 'workspaceartifactstore', isDefault: false, containerName: artifactContainer})],
      ...settings,
    }
    azure.workspaces.set(name, ws)
    await cosmos.createTraceStore(ws.databaseName!)
    writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId(name)}\n`, {mode: 0o600})
    return ws
  }

  const pf = (args: string[], extra: NodeJS.ProcessEnv = {}) => runPf(args, {home, env: env(extra), timeoutMs: 120_000})

  before(async () => {
    cosmos = await new CosmosAccount().start()
    azure = await new FakeAzure().start()
    azure.cosmosEndpoint = cosmos.endpoint
    azurite = await new Azurite().start()
    azDir = fakeAzCli()
  })
  after(async () => {
    await azure?.stop()
    await cosmos?.stop()
    await azurite?.stop()
  })
  beforeEach(async () => {
    home = tempDir('pf-home-')
    azure.calls.length = 0
    azure.workspaces.clear()
    azure.tracking.requests.length = 0
    azure.tracking.runs.clear()
    azure.tracking.existing.clear()
    azure.tracking.faults.length = 0
    await azurite.createContainer(defaultContainer)
    await azurite.createContainer(artifactContainer)
    data = path.join(tempDir(), 'data.jsonl')
    writeFileSync(data, ['first', 'second', 'third'].map(q => JSON.stringify({question: q, expected: q.toUpperCase()})).join('\n') + '\n')
  })

  const showRun = async (name: string) => {
    const shown = await pf(['run', 'show', name, '--json'])
    expect(shown.code, shown.stderr).to.equal(0)
    return shown.json()
  }

  const jsonl = (buffer: Buffer | undefined) => (buffer ?? Buffer.alloc(0)).toString('utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l))

  /** Each metric the fake took for a run, with how many times it was posted. */
  const metricCounts = (run: string) => {
    const counts: Record<string, number> = {}
    for (const m of azure.tracking.runs.get(run)?.metrics ?? []) counts[m.name] = (counts[m.name] ?? 0) + 1
    return counts
  }

  it('uploads a finished run: every blob of the layout, artifact, BulkRuns/create, metrics, output assets, history, portal URL', async () => {
    await addWorkspace('ws-up')
    writeFileSync(data, ['first', 'fail here', 'third'].map(q => JSON.stringify({question: q})).join('\n') + '\n')
    const result = await pf(['run', 'create', '--flow', path.join(fixtures, 'run-answer'), '--data', data, '--name', 'up_run', '--display-name', 'Up', '--tag', 'team=blue'])
    // The run failed (a line threw): it is uploaded all the same, as the reference does.
    expect(result.code, result.stderr).to.equal(1)
    const portal = `https://ml.azure.com/prompts/trace/run/up_run/details?wsid=${wsid('ws-up')}&from=fake`
    expect(result.stderr).to.contain(`Portal: ${portal}\n`)
    expect(result.stderr).to.contain(`Run up_run uploaded to ${workspaceId('ws-up')}.\n`)
    const run = await showRun('up_run')
    expect(run.upload).to.deep.equal([{run: 'up_run', destination: workspaceId('ws-up'), state: 'done', portalUrl: portal, warnings: []}])

    // Blobs: exact paths, in the default datastore's container…
    const root = 'promptflow/PromptFlowArtifacts/up_run'
    const blobs = await azurite.blobs(defaultContainer, `${root}/`)
    expect([...blobs.keys()].sort()).to.deep.equal(
      [
        'flow_artifacts/000000000_000000024.jsonl',
        'flow_logs/000000000.log',
        'flow_logs/000000001.log',
        'flow_logs/000000002.log',
        'flow_outputs/output.jsonl',
        'instance_results.jsonl',
        'meta.json',
      ].map(p => `${root}/${p}`),
    )
    expect(JSON.parse(blobs.get(`${root}/meta.json`)!.toString())).to.deep.equal({batch_size: 25})
    const records = jsonl(blobs.get(`${root}/flow_artifacts/000000000_000000024.jsonl`))
    expect(records.map(r => [r.line_number, r.status, r.run_info.run_id, r.run_info.index])).to.deep.equal([
      [0, 'Completed', 'up_run_0', 0],
      [1, 'Failed', 'up_run_1', 1],
      [2, 'Completed', 'up_run_2', 2],
    ])
    expect(Object.keys(records[0]).sort()).to.deep.equal(['description', 'end_time', 'line_number', 'name', 'run_info', 'start_time', 'status', 'tags'])
    expect(records[0].run_info).to.include({status: 'Completed', parent_run_id: 'up_run', root_run_id: 'up_run', error: null})
    expect(records[0].run_info.inputs).to.deep.equal({question: 'first', repeat: 1, sleep_ms: 0})
    expect(records[0].run_info.output).to.deep.equal({answer: 'FIRST', length: 5})
    expect(records[0].run_info.otel_trace_id).to.match(/^0x[0-9a-f]{32}$/)
    expect(records[0].start_time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    expect(records[1].run_info.error.message).to.equal('cannot answer "fail here"')
    expect(blobs.get(`${root}/flow_logs/000000001.log`)!.toString()).to.match(/^\S+ Line 1: failed: RangeError: cannot answer "fail here"\n$/)
    expect(jsonl(blobs.get(`${root}/flow_outputs/output.jsonl`))).to.deep.equal([
      {line_number: 0, answer: 'FIRST', length: 5},
      {line_number: 2, answer: 'THIRD', length: 5},
    ])
    expect(jsonl(blobs.get(`${root}/instance_results.jsonl`))).to.deep.equal([
      {line_number: 0, status: 'Completed', 'inputs.question': 'first', 'inputs.repeat': 1, 'inputs.sleep_ms': 0, answer: 'FIRST', length: 5},
      {line_number: 1, status: 'Failed', 'inputs.question': 'fail here', 'inputs.repeat': 1, 'inputs.sleep_ms': 0},
      {line_number: 2, status: 'Completed', 'inputs.question': 'third', 'inputs.repeat': 1, 'inputs.sleep_ms': 0, answer: 'THIRD', length: 5},
    ])
    // …the flow snapshot…
    const snapshot = await azurite.blobs(defaultContainer, 'runs/up_run/')
    expect([...snapshot.keys()].sort()).to.deep.equal(['runs/up_run/flow.flex.yaml', 'runs/up_run/flow.ts'])
    // …and the overall log in the artifact datastore's container.
    const logs = await azurite.blobs(artifactContainer, 'ExperimentRun/dcid.up_run/')
    expect([...logs.keys()]).to.deep.equal(['ExperimentRun/dcid.up_run/logs/azureml/executionlogs.txt'])
    expect(logs.get('ExperimentRun/dcid.up_run/logs/azureml/executionlogs.txt')!.toString()).to.contain('Run up_run Failed: 2 completed, 1 failed of 3 lines.')

    // The control plane calls, bodies field by field.
    const tracked = azure.tracking.runs.get('up_run')!
    expect(tracked.artifacts).to.deep.equal([
      {origin: 'ExperimentRun', container: 'dcid.up_run', path: 'instance_results.jsonl', dataPath: {dataStoreName: 'workspaceblobstore', relativePath: `${root}/instance_results.jsonl`}},
    ])
    expect(tracked.create).to.deep.equal({
      runId: 'up_run',
      runStatus: 'Failed',
      startTimeUtc: run.created_on,
      endTimeUtc: run.ended_at,
      runDisplayName: 'Up',
      tags: {team: 'blue'},
      properties: {
        '_azureml.evaluate_artifacts': '[{"path": "instance_results.jsonl", "type": "table"}]',
        'azureml.promptflow.total_tokens': '0',
        'azureml.promptflow.completion_tokens': '0',
        'azureml.promptflow.prompt_tokens': '0',
      },
      runExperimentName: 'run_answer',
      runDisplayNameGenerationType: 'UserProvidedMacro',
      outputDataStore: 'workspaceblobstore',
      flowArtifactsRootPath: root,
      logFileRelativePath: 'ExperimentRun/dcid.up_run/logs/azureml/executionlogs.txt',
      flowDefinitionDataStoreName: 'workspaceblobstore',
      flowDefinitionBlobPath: 'runs/up_run/flow.flex.yaml',
    })
    expect(azure.tracking.ofRoute(/^POST \/runs\/up_run\/batchsync$/).map(r => r.body)).to.deep.equal(
      [['__pf__.lines.completed', 2], ['__pf__.lines.failed', 1]].map(([name, value]) => ({
        values: [{name, columns: {[name]: 'Double'}, properties: {uxMetricType: 'azureml.v1.scalar'}, value: [{data: {[name]: value}, step: 0}]}],
      })),
    )
    const uri = `azureml://subscriptions/${subscription}/resourcegroups/${resourceGroup}/workspaces/ws-up/datastores/workspaceblobstore/paths/${root}`
    expect(tracked.outputs.map(o => o.body)).to.deep.equal([
      {RunId: 'up_run', OutputName: 'debug_info', Type: 'UriFolder', Uri: uri},
      {RunId: 'up_run', OutputName: 'flow_outputs', Type: 'UriFolder', Uri: `${uri}/flow_outputs`},
    ])
    expect(tracked.history).to.deep.equal({
      Outputs: {
        debug_info: {assetId: tracked.outputs[0].assetId, type: 'UriFolder'},
        flow_outputs: {assetId: tracked.outputs[1].assetId, type: 'UriFolder'},
      },
    })
    expect(azure.tracking.ofRoute(/^POST \/rundata$/).map(r => r.body)).to.deep.equal([
      {runId: 'up_run', selectRunMetadata: true, selectRunDefinition: true, selectJobSpecification: true},
    ])
    // The reference's order: look-up, blobs, artifact, BulkRuns/create, metrics, assets, history, read back.
    expect(azure.tracking.requests.map(r => `${r.method} ${r.route.replace(/up_run/g, 'R')}`)).to.deep.equal([
      'POST /rundata',
      'POST /artifacts/register',
      'POST /BulkRuns/create',
      'POST /runs/R/batchsync',
      'POST /runs/R/batchsync',
      'POST /dataversion/createUnregisteredOutput',
      'POST /dataversion/createUnregisteredOutput',
      'PATCH /runs/R',
      'GET /BulkRuns/R',
    ])
    // The run's spans carry batch_run_id = the run, so the portal joins traces and run.
    const spans = await cosmos.items('db-ws-up', 'Span')
    expect(spans.length).to.be.greaterThan(0)
    expect(spans.every(s => s.attributes.batch_run_id === 'up_run')).to.equal(true)
  })
})
