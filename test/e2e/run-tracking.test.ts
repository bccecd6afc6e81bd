import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {Azurite} from '../helpers/azurite.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {CosmosAccount} from '../helpers/cosmos.js'
import {FakeAzure, azureEnv, type FakeWorkspace, fakeAzCli, resourceGroup, subscription, workspaceId} from '../helpers/fake-azure.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'flows')
const defaultContainer = 'azureml-blobstore-test'
const artifactContainer = 'azureml'
const wsid = (ws: string) =>
  `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws}`

const uploadRows = (home: string): any[] => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
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

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({...azureEnv(azure, azurite.blobEndpoint, azDir), ...extra})

  const addWorkspace = async (name: string, settings: FakeWorkspace = {}) => {
    const ws: FakeWorkspace = {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [
        azurite.datastore(),
        azurite.datastore({name: 'workspaceartifactstore', isDefault: false, containerName: artifactContainer}),
      ],
      ...settings,
    }
    azure.workspaces.set(name, ws)
    await cosmos.createTraceStore(ws.databaseName!)
    // Spans have time to reach the workspace before a command ends (the default wait is 1 s).
    writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId(name)}\n  export_wait: 30\n`, {mode: 0o600})
    return ws
  }

  const pf = (args: string[], extra: NodeJS.ProcessEnv = {}) => runPf(args, {home, env: env(extra), timeoutMs: 120_000})
  /** `pf run create` of the run-answer fixture over the test data, named `name`. */
  const createAnswerRun = (name: string, flags: string[] = [], extra: NodeJS.ProcessEnv = {}) =>
    pf(['run', 'create', '--flow', path.join(fixtures, 'run-answer'), '--data', data, '--name', name, ...flags], extra)

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

  const jsonl = (buffer: Buffer | undefined) =>
    (buffer ?? Buffer.alloc(0))
      .toString('utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l))

  /** Each metric the fake took for a run, with how many times it was posted. */
  const metricCounts = (run: string) => {
    const counts: Record<string, number> = {}
    for (const m of azure.tracking.runs.get(run)?.metrics ?? []) counts[m.name] = (counts[m.name] ?? 0) + 1
    return counts
  }

  it('uploads a finished run: every blob of the layout, artifact, BulkRuns/create, metrics, output assets, history, portal URL', async () => {
    await addWorkspace('ws-up')
    writeFileSync(data, ['first', 'fail here', 'third'].map(q => JSON.stringify({question: q})).join('\n') + '\n')
    const result = await createAnswerRun('up_run', ['--display-name', 'Up', '--tag', 'team=blue'])
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
    expect(Object.keys(records[0]).sort()).to.deep.equal([
      'description',
      'end_time',
      'line_number',
      'name',
      'run_info',
      'start_time',
      'status',
      'tags',
    ])
    expect(records[0].run_info).to.include({status: 'Completed', parent_run_id: 'up_run', root_run_id: 'up_run', error: null})
    expect(records[0].run_info.inputs).to.deep.equal({question: 'first', repeat: 1, sleep_ms: 0})
    expect(records[0].run_info.output).to.deep.equal({answer: 'FIRST', length: 5})
    expect(records[0].run_info.otel_trace_id).to.match(/^0x[0-9a-f]{32}$/)
    expect(records[0].start_time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    expect(records[1].run_info.error.message).to.equal('cannot answer "fail here"')
    expect(blobs.get(`${root}/flow_logs/000000001.log`)!.toString()).to.match(
      /^\S+ Line 1: failed: RangeError: cannot answer "fail here"\n$/,
    )
    expect(jsonl(blobs.get(`${root}/flow_outputs/output.jsonl`))).to.deep.equal([
      {line_number: 0, answer: 'FIRST', length: 5},
      {line_number: 2, answer: 'THIRD', length: 5},
    ])
    expect(jsonl(blobs.get(`${root}/instance_results.jsonl`))).to.deep.equal([
      {
        line_number: 0,
        status: 'Completed',
        'inputs.question': 'first',
        'inputs.repeat': 1,
        'inputs.sleep_ms': 0,
        answer: 'FIRST',
        length: 5,
      },
      {line_number: 1, status: 'Failed', 'inputs.question': 'fail here', 'inputs.repeat': 1, 'inputs.sleep_ms': 0},
      {
        line_number: 2,
        status: 'Completed',
        'inputs.question': 'third',
        'inputs.repeat': 1,
        'inputs.sleep_ms': 0,
        answer: 'THIRD',
        length: 5,
      },
    ])
    // …the flow snapshot…
    const snapshot = await azurite.blobs(defaultContainer, 'runs/up_run/')
    expect([...snapshot.keys()].sort()).to.deep.equal(['runs/up_run/flow.flex.yaml', 'runs/up_run/flow.ts'])
    // …and the overall log in the artifact datastore's container.
    const logs = await azurite.blobs(artifactContainer, 'ExperimentRun/dcid.up_run/')
    expect([...logs.keys()]).to.deep.equal(['ExperimentRun/dcid.up_run/logs/azureml/executionlogs.txt'])
    expect(logs.get('ExperimentRun/dcid.up_run/logs/azureml/executionlogs.txt')!.toString()).to.contain(
      'Run up_run Failed: 2 completed, 1 failed of 3 lines.',
    )

    // The control plane calls, bodies field by field.
    const tracked = azure.tracking.runs.get('up_run')!
    expect(tracked.artifacts).to.deep.equal([
      {
        origin: 'ExperimentRun',
        container: 'dcid.up_run',
        path: 'instance_results.jsonl',
        dataPath: {dataStoreName: 'workspaceblobstore', relativePath: `${root}/instance_results.jsonl`},
      },
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
      [
        ['__pf__.lines.completed', 2],
        ['__pf__.lines.failed', 1],
      ].map(([name, value]) => ({
        values: [
          {name, columns: {[name]: 'Double'}, properties: {uxMetricType: 'azureml.v1.scalar'}, value: [{data: {[name]: value}, step: 0}]},
        ],
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

  it('uploads an evaluation run after its base run: variantRunId, node records, the run metric and node metrics', async () => {
    await addWorkspace('ws-eval')
    const base = await createAnswerRun('base_run')
    expect(base.code, base.stderr).to.equal(0)
    const evaluation = await pf([
      'run',
      'create',
      '--flow',
      path.join(fixtures, 'dag-eval'),
      '--data',
      data,
      '--run',
      'base_run',
      '--name',
      'eval_run',
      '--json',
      '--column-mapping',
      'answer=${run.outputs.answer}',
      '--column-mapping',
      'expected=${data.expected}',
    ])
    expect(evaluation.code, evaluation.stderr + evaluation.stdout).to.equal(0)
    expect(evaluation.json().upload).to.deep.equal([
      {
        run: 'eval_run',
        destination: workspaceId('ws-eval'),
        state: 'done',
        portalUrl: `https://ml.azure.com/prompts/trace/run/eval_run/details?wsid=${wsid('ws-eval')}&from=fake`,
        warnings: [],
      },
    ])
    const creates = azure.tracking.ofRoute(/^POST \/BulkRuns\/create$/).map(r => r.body)
    expect(creates.map(c => c.runId)).to.deep.equal(['base_run', 'eval_run'])
    expect(creates[1]).to.include({
      variantRunId: 'base_run',
      runExperimentName: 'dag_eval',
      flowDefinitionBlobPath: 'runs/eval_run/flow.dag.yaml',
      runStatus: 'Completed',
    })
    // The base run is looked up in the workspace before the evaluation run goes up.
    expect(azure.tracking.ofRoute(/^POST \/rundata$/).map(r => r.body.runId)).to.deep.equal(['base_run', 'base_run', 'eval_run'])
    expect(metricCounts('eval_run')).to.deep.equal({
      '__pf__.lines.completed': 1,
      '__pf__.lines.failed': 1,
      '__pf__.nodes.grade.completed': 1,
      '__pf__.nodes.accuracy.completed': 1,
      accuracy: 1,
    })
    expect(Object.fromEntries(azure.tracking.runs.get('eval_run')!.metrics.map(m => [m.name, m.value]))).to.deep.equal({
      '__pf__.lines.completed': 3,
      '__pf__.lines.failed': 0,
      '__pf__.nodes.grade.completed': 3,
      '__pf__.nodes.accuracy.completed': 1,
      accuracy: 1,
    })
    const root = 'promptflow/PromptFlowArtifacts/eval_run'
    const nodes = await azurite.blobs(defaultContainer, `${root}/node_artifacts/`)
    expect([...nodes.keys()].sort()).to.deep.equal(
      ['accuracy/000000000.jsonl', 'grade/000000000.jsonl', 'grade/000000001.jsonl', 'grade/000000002.jsonl'].map(
        p => `${root}/node_artifacts/${p}`,
      ),
    )
    const grade = jsonl(nodes.get(`${root}/node_artifacts/grade/000000001.jsonl`))[0]
    expect(grade).to.include({NodeName: 'grade', line_number: 1, status: 'Completed'})
    expect(grade.run_info).to.include({
      node: 'grade',
      flow_run_id: 'eval_run',
      run_id: 'eval_run_grade_1',
      parent_run_id: 'eval_run_1',
      index: 1,
      output: true,
    })
    expect(grade.run_info.inputs).to.deep.equal({answer: 'SECOND', expected: 'SECOND'})
    const accuracy = jsonl(nodes.get(`${root}/node_artifacts/accuracy/000000000.jsonl`))[0]
    expect(accuracy).to.include({NodeName: 'accuracy', line_number: null, status: 'Completed'})
  })

  it('an evaluation run created while its base run upload is pending waits for it; sync sends the base run first', async () => {
    await addWorkspace('ws-order')
    azure.tracking.inject({match: /^POST \/BulkRuns\/create$/, answer: 503, times: 1000})
    const base = await createAnswerRun('order_base', ['--upload-wait', '1'])
    expect(base.code, base.stderr).to.equal(0)
    const evaluation = await pf([
      'run',
      'create',
      '--flow',
      path.join(fixtures, 'dag-eval'),
      '--data',
      data,
      '--run',
      'order_base',
      '--name',
      'order_eval',
      '--upload-wait',
      '1',
      '--column-mapping',
      'answer=${run.outputs.answer}',
      '--column-mapping',
      'expected=${data.expected}',
    ])
    expect(evaluation.code, evaluation.stderr).to.equal(0)
    expect(evaluation.stderr).to.match(
      /Warning: the upload of run order_eval to the workspace is pending \(waiting for the upload of base run order_base \(creating the run record failed: HTTP 503 from [^)]*\)\); `pf run sync order_eval` finishes it\.\n/,
    )
    azure.tracking.faults.length = 0
    const sync = await pf(['run', 'sync', 'order_eval'])
    expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
    expect(azure.tracking.ofRoute(/^POST \/BulkRuns\/create$/).map(r => r.body.runId)).to.deep.equal(['order_base', 'order_eval'])
    expect(uploadRows(home).map(r => [r.run, r.state])).to.deep.equal([
      ['order_base', 'done'],
      ['order_eval', 'done'],
    ])
  })

  describe('errors: one line each, the upload stays pending (nothing is dropped)', () => {
    it('an evaluation run whose base run is not in the workspace; --wait exits 3; pf run sync says why', async () => {
      writeFileSync(path.join(home, 'pf.yaml'), 'trace:\n  destination: local\n', {mode: 0o600})
      const base = await createAnswerRun('local_base')
      expect(base.code, base.stderr).to.equal(0)
      await addWorkspace('ws-nobase')
      const args = [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'dag-eval'),
        '--data',
        data,
        '--run',
        'local_base',
        '--export-wait',
        '0',
        '--column-mapping',
        'answer=${run.outputs.answer}',
        '--column-mapping',
        'expected=${data.expected}',
      ]
      const message =
        'Evaluation run eval_nobase evaluates run local_base, which is not in workspace "ws-nobase" (resource group "rg-test", subscription 11111111-2222-3333-4444-555555555555); upload the base run first (create it with this trace destination)'
      const plain = await pf([...args, '--name', 'eval_nobase'])
      expect(plain.code, plain.stderr).to.equal(0)
      expect(plain.stderr).to.contain(
        `Warning: the upload of run eval_nobase to the workspace is pending (${message}); \`pf run sync eval_nobase\` finishes it.\n`,
      )
      expect(azure.tracking.ofRoute(/^POST \/BulkRuns\/create$/)).to.have.length(0)

      const waited = await pf([...args, '--name', 'eval_nobase2', '--wait', '--json'])
      expect(waited.code, waited.stderr).to.equal(3)
      const error = waited.json().error
      expect(error.code).to.equal('delivery_pending')
      // How many of the evaluation's spans are still waiting depends on timing (they wait for the evaluated lines).
      expect(error.message.replace(/and \d+ span\(s\) are pending/, 'and N span(s) are pending')).to.equal(
        `Run eval_nobase2 completed, but the upload of run eval_nobase2 is pending (${message.replaceAll('eval_nobase', 'eval_nobase2')}); \`pf run sync eval_nobase2\` finishes it, and N span(s) are pending; \`pf trace sync\` sends them.`,
      )
      expect(error.upload[0]).to.include({state: 'pending', code: 'base_run_not_in_workspace'})

      const sync = await pf(['run', 'sync', 'eval_nobase', '--json'])
      expect(sync.code, sync.stdout).to.equal(3)
      expect(sync.json().error).to.include({code: 'run_upload_pending'})
      expect(sync.json().error.message).to.equal(
        `1 run upload(s) still pending (eval_nobase: ${message}); run \`pf run sync\` again later.`,
      )
      expect((await showRun('eval_nobase')).upload).to.deep.equal([
        {run: 'eval_nobase', destination: workspaceId('ws-nobase'), state: 'pending', error: `${message}.`, warnings: []},
      ])
      // Nothing of the run reached the workspace: the check comes first.
      expect(await azurite.blobs(defaultContainer, 'promptflow/PromptFlowArtifacts/eval_nobase/')).to.have.property('size', 0)
    })

    it('storage 403 names the account, the container and the role; the upload goes up once the role is granted', async () => {
      const ws = await addWorkspace('ws-403')
      ws.datastores = ws.datastores!.map(d => ({...d, secrets: 403}))
      const deniedAz = fakeAzCli({storageDenied: true})
      const result = await createAnswerRun('denied_run', [], {
        PATH: `${deniedAz}:${process.env.PATH}`,
      })
      expect(result.code, result.stderr).to.equal(0)
      const warning = result.stderr.split('\n').find(l => l.includes('upload of run denied_run'))!
      expect(warning).to.match(
        /^Warning: the upload of run denied_run to the workspace is pending \(No permission to write to storage account pfteststore container azureml-blobstore-test .*"Storage Blob Data Contributor".*\); `pf run sync denied_run` finishes it\.$/,
      )
      expect(uploadRows(home)[0]).to.include({state: 'pending'})
      // The role is granted (the AD login now may write): sync finishes it.
      const sync = await pf(['run', 'sync', 'denied_run'])
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(sync.stdout).to.contain(
        `Run denied_run uploaded to ${workspaceId('ws-403')}: https://ml.azure.com/prompts/trace/run/denied_run/details?`,
      )
      expect((await azurite.blobs(defaultContainer, 'promptflow/PromptFlowArtifacts/denied_run/')).size).to.equal(7)
    })

    it('a run already in the workspace is overwritten, with a warning (as the reference does)', async () => {
      await addWorkspace('ws-dup')
      azure.tracking.existing.add('dup_run')
      const result = await createAnswerRun('dup_run')
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.contain(
        'Warning: Run dup_run was already in workspace "ws-dup" (resource group "rg-test", subscription 11111111-2222-3333-4444-555555555555); it was overwritten (as prompt flow does).\n',
      )
      expect(azure.tracking.runs.get('dup_run')!.create).to.include({runId: 'dup_run'})
    })

    it('signed out at sync time: one line saying to sign in; the upload waits and goes up after `az login`', async () => {
      await addWorkspace('ws-login')
      azure.tracking.inject({match: /^POST \/BulkRuns\/create$/, answer: 503, times: 1000})
      const result = await createAnswerRun('login_run', ['--upload-wait', '1'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.match(
        /Warning: the upload of run login_run to the workspace is pending \(creating the run record failed: HTTP 503 from 127\.0\.0\.1:\d+\); `pf run sync login_run` finishes it\.\n/,
      )
      azure.tracking.faults.length = 0
      const signedOut = await pf(['run', 'sync', '--json'], {PATH: `${fakeAzCli({loggedOut: true})}:${process.env.PATH}`})
      expect(signedOut.code).to.equal(3)
      expect(signedOut.json().error.uploads[0].error).to.equal(
        'Not signed in to Azure: run `az login` (or set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET for a service principal, or with AZURE_FEDERATED_TOKEN_FILE for workload identity), then try again.',
      )
      const sync = await pf(['run', 'sync'])
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(azure.tracking.runs.get('login_run')!.create).to.include({runId: 'login_run'})
    })
  })

  describe('faults at each step: the upload resumes where it stopped and lands exactly once', () => {
    const steps: Array<[string, RegExp, number | 'reset', number?]> = [
      ['the existence check', /^POST \/rundata$/, 503],
      ['the artifact registration', /^POST \/artifacts\/register$/, 429],
      ['BulkRuns/create', /^POST \/BulkRuns\/create$/, 'reset'],
      ['the second metric', /^POST \/runs\/[^/]+\/batchsync$/, 503, 1],
      ['the second output asset', /^POST \/dataversion\/createUnregisteredOutput$/, 'reset', 1],
      ['the run history patch', /^PATCH \/runs\/[^/]+$/, 429],
      ['reading the run back', /^GET \/BulkRuns\/[^/]+$/, 503],
    ]
    const expectUploadedOnce = async (run: string) => {
      const tracked = azure.tracking.runs.get(run)!
      expect(tracked.create, `${run} created`).to.include({runId: run})
      expect(metricCounts(run)).to.deep.equal({'__pf__.lines.completed': 1, '__pf__.lines.failed': 1})
      expect(tracked.outputs.map(o => o.name).sort()).to.deep.equal(['debug_info', 'flow_outputs'])
      expect(tracked.history.Outputs.flow_outputs.assetId).to.equal(tracked.outputs.find(o => o.name === 'flow_outputs')!.assetId)
      expect((await azurite.blobs(defaultContainer, `promptflow/PromptFlowArtifacts/${run}/`)).size).to.equal(7)
      expect((await azurite.blobs(artifactContainer, `ExperimentRun/dcid.${run}/`)).size).to.equal(1)
    }

    for (const [index, [name, match, answer, after]] of steps.entries())
      it(`${answer === 'reset' ? 'connection loss' : `HTTP ${answer}`} at ${name}`, async () => {
        await addWorkspace('ws-fault')
        const run = `fault_run_${index}`
        azure.tracking.inject({match, answer, times: 1000, after})
        const result = await createAnswerRun(run, ['--upload-wait', '1'])
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stderr).to.contain(`Warning: the upload of run ${run} to the workspace is pending (`)
        expect(uploadRows(home)[0]).to.include({state: 'pending'})
        azure.tracking.faults.length = 0
        // `pf trace sync` finishes run uploads too.
        const sync = await pf(index % 2 === 0 ? ['run', 'sync', run] : ['trace', 'sync'])
        expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
        expect(uploadRows(home)[0]).to.include({state: 'done'})
        await expectUploadedOnce(run)
        // A second sync has nothing to do and posts nothing.
        const before = azure.tracking.requests.length
        expect((await pf(['run', 'sync'])).code).to.equal(0)
        expect(azure.tracking.requests.length).to.equal(before)
      })

    it('blob storage down (Azurite stopped) during the upload', async () => {
      await addWorkspace('ws-blobdown')
      await azurite.stop()
      try {
        const result = await createAnswerRun('blobdown_run', ['--upload-wait', '2'])
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stderr).to.contain('Warning: the upload of run blobdown_run to the workspace is pending (')
      } finally {
        await azurite.start()
        await azurite.createContainer(defaultContainer)
        await azurite.createContainer(artifactContainer)
      }
      expect(azure.tracking.ofRoute(/^POST \/BulkRuns\/create$/)).to.have.length(0)
      const sync = await pf(['run', 'sync'])
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      await expectUploadedOnce('blobdown_run')
    })

    it('a transient 503 during `pf run create` is retried within --upload-wait; --stream shows the upload as the last step', async () => {
      await addWorkspace('ws-blip')
      azure.tracking.inject({match: /^POST \/artifacts\/register$/, answer: 503, times: 1})
      const result = await createAnswerRun('blip_run', ['--wait', '--stream'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stderr).to.contain('Run blip_run uploaded to')
      await expectUploadedOnce('blip_run')
      const streamed = result.stdout
        .trim()
        .split('\n')
        .map(l => JSON.parse(l))
      const firstUpload = streamed.findIndex(e => 'upload' in e)
      expect(
        streamed
          .slice(0, firstUpload)
          .map(e => e.line_number)
          .sort(),
      ).to.deep.equal([0, 1, 2])
      const steps = streamed.slice(firstUpload).map(e => e.upload)
      expect(steps).to.include.members([
        'uploaded 10 blob(s)',
        'registering instance_results.jsonl',
        'creating the run record (BulkRuns/create)',
        'posting 2 metric(s)',
      ])
      expect(streamed.slice(firstUpload).every(e => 'upload' in e)).to.equal(true)
    })

    it('a pending upload of a run that is then deleted is dropped, not retried forever', async () => {
      await addWorkspace('ws-deleted')
      azure.tracking.inject({match: /^POST \/BulkRuns\/create$/, answer: 503, times: 1000})
      const result = await createAnswerRun('gone_run', ['--upload-wait', '0'])
      expect(result.code, result.stderr).to.equal(0)
      expect((await pf(['run', 'delete', 'gone_run', '--yes'])).code).to.equal(0)
      const sync = await pf(['run', 'sync'])
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(sync.stdout).to.equal('No run upload pending.\n')
      expect(uploadRows(home)).to.deep.equal([])
    })

    it("SIGKILL in the middle of the metrics: sync takes the dead process's job back at once and posts each metric once", async () => {
      await addWorkspace('ws-kill')
      azure.tracking.inject({match: /^POST \/runs\/[^/]+\/batchsync$/, answer: 'hang', times: 1, after: 1})
      const fault = azure.tracking.faults[0]
      const child: ChildProcess = spawn(
        process.execPath,
        [pfBin, 'run', 'create', '--flow', path.join(fixtures, 'run-answer'), '--data', data, '--name', 'killed_run'],
        {
          env: {...process.env, ...env(), PF_HOME_DIRECTORY: home},
          stdio: 'ignore',
        },
      )
      const exited = new Promise(resolve => child.once('exit', resolve))
      const started = Date.now()
      while (!fault.struck && Date.now() - started < 60_000) await new Promise(resolve => setTimeout(resolve, 50))
      expect(fault.struck, 'the second metric request arrived').to.equal(true)
      child.kill('SIGKILL')
      await exited
      expect(metricCounts('killed_run')).to.deep.equal({'__pf__.lines.completed': 1})
      const syncStarted = Date.now()
      const sync = await pf(['run', 'sync', 'killed_run'])
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(Date.now() - syncStarted).to.be.below(20_000)
      await expectUploadedOnce('killed_run')
      expect(azure.tracking.ofRoute(/^POST \/BulkRuns\/create$/)).to.have.length(1)
    })
  })
})
