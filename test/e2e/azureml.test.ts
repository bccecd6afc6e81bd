import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'

import {Azurite} from '../helpers/azurite.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {CosmosAccount, type Fault, FaultProxy, type ProxiedRequest} from '../helpers/cosmos.js'
import {
  FakeAzure,
  azureEnv,
  type FakeWorkspace,
  fakeAzCli,
  resourceGroup,
  subscription,
  user,
  userToken,
  workspaceId,
} from '../helpers/fake-azure.js'
import {outboxStates, storedSpans} from '../helpers/store.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'flows')

/** Ids as the workspace's items carry them (the local store keeps pf's bare hex). */
const hex = (id: string) => `0x${id}`

/** A copy of a fixture flow in its own folder (its folder name is the collection). */
const copyFlow = (fixture: string, parent: string, name = fixture): string => {
  const dir = path.join(parent, name)
  cpSync(path.join(fixtures, fixture), dir, {recursive: true})
  return dir
}

describe('azureml destination (built CLI, fake Azure control plane, real cosmosdb-server, Azurite)', function () {
  this.timeout(120_000)
  let azure: FakeAzure
  let cosmos: CosmosAccount
  let azurite: Azurite
  let home: string
  let azDir: string

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({...azureEnv(azure, azurite.blobEndpoint, azDir), ...extra})

  const addWorkspace = async (name: string, settings: FakeWorkspace = {}) => {
    // Its default datastore: a container of its own on the Azurite account.
    const ws: FakeWorkspace = {
      traceCosmosStatus: 'Initialized',
      databaseName: `db-${name}`,
      datastores: [azurite.datastore({containerName: `c-${name}`})],
      ...settings,
    }
    azure.workspaces.set(name, ws)
    await cosmos.createTraceStore(ws.databaseName!)
    await azurite.createContainer(`c-${name}`)
    return ws
  }

  before(async () => {
    cosmos = await new CosmosAccount().start()
    azure = await new FakeAzure().start()
    azurite = await new Azurite().start()
    azure.cosmosEndpoint = cosmos.endpoint
    azDir = fakeAzCli()
  })
  after(async () => {
    await azure.stop()
    await cosmos.stop()
    await azurite.stop()
  })
  beforeEach(() => {
    home = tempDir('pf-home-')
    azure.calls.length = 0
    azure.workspaces.clear()
    azure.cosmosEndpoint = cosmos.endpoint
  })

  describe('pf config set trace.destination=azureml://…', () => {
    it('sets up a trace store that is not initialized (202 + polling), then saves the value', async () => {
      await addWorkspace('ws-new', {traceCosmosStatus: 'NotExists', setup: {respond: 202, pollsUntilDone: 2}})
      const result = await runPf(['config', 'set', `trace.destination=${workspaceId('ws-new')}`, '--json'], {home, env: env()})
      expect(result.code, result.stderr + result.stdout).to.equal(0)
      expect((await runPf(['config', 'get', 'trace.destination'], {home})).stdout.trim()).to.equal(workspaceId('ws-new'))
      expect(azure.callsTo(/^GET \/subscriptions\/.*\/workspaces\/ws-new\?api-version=/)).to.have.length(1)
      expect(azure.callsTo(/^GET \/flow\/api\/.*\/workspaces\/ws-new\/TraceSessions$/)).to.have.length(1)
      expect(azure.callsTo(/^POST \/flow\/api\/.*\/workspaces\/ws-new\/TraceSessions\/setup$/)).to.have.length(1)
      expect(azure.callsTo(/^GET \/operations\//).length).to.equal(2)
      expect(azure.workspaces.get('ws-new')!.traceCosmosStatus).to.equal('Initialized')
    })

    it('saves at once when the store is initialized (no setup call); either resourceGroups spelling', async () => {
      await addWorkspace('ws-ready')
      for (const value of [workspaceId('ws-ready'), workspaceId('ws-ready').replace('resourceGroups', 'resourcegroups')]) {
        const result = await runPf(['config', 'set', `trace.destination=${value}`], {home, env: env()})
        expect(result.code, result.stderr).to.equal(0)
        expect((await runPf(['config', 'get', 'trace.destination'], {home})).stdout.trim()).to.equal(value)
      }
      expect(azure.callsTo(/setup/)).to.have.length(0)
      expect(azure.callsTo(/^GET \/subscriptions\/.*\/workspaces\/ws-ready\?/)).to.have.length(2)
    })

    it('saves bare `azureml` as is without calling Azure', async () => {
      const result = await runPf(['config', 'set', 'trace.destination=azureml'], {home, env: env()})
      expect(result.code, result.stderr).to.equal(0)
      expect(azure.calls).to.have.length(0)
      expect(readFileSync(path.join(home, 'pf.yaml'), 'utf8')).to.equal('trace:\n  destination: azureml\n')
    })

    const failures: Array<[string, FakeWorkspace | undefined, string[], string, number, RegExp, {loggedOut?: boolean}?]> = [
      ['workspace not found', undefined, [], 'workspace_not_found', 2, /was not found/],
      ['no access (403)', {armStatus: 403}, [], 'workspace_forbidden', 2, /HTTP 403/],
      ['an AI hub', {kind: 'Hub'}, [], 'workspace_is_hub', 2, /is an Azure AI hub/],
      ['a disabled trace store', {traceCosmosConfiguration: 'Disabled'}, [], 'trace_store_disabled', 2, /disabled/],
      [
        'a failed setup',
        {traceCosmosStatus: 'NotExists', setup: {respond: 202, pollsUntilDone: 1, outcome: 'Failed'}},
        [],
        'trace_store_setup_failed',
        1,
        /quota exceeded/,
      ],
      [
        'a setup that outlives --timeout',
        {traceCosmosStatus: 'NotExists', setup: {respond: 202, outcome: 'Never'}},
        ['--timeout', '2'],
        'trace_store_setup_timeout',
        1,
        /after 2 s/,
      ],
      ['no Azure login', {}, [], 'azure_login_required', 1, /run `az login`/, {loggedOut: true}],
    ]
    for (const [name, workspace, flags, code, exit, message, az] of failures) {
      it(`leaves pf.yaml untouched for ${name}`, async () => {
        if (workspace) await addWorkspace('ws-bad', workspace)
        const before = 'trace:\n  destination: local\n'
        writeFileSync(path.join(home, 'pf.yaml'), before, {mode: 0o600})
        const childEnv = az?.loggedOut ? env({PATH: `${fakeAzCli({loggedOut: true})}:${process.env.PATH}`}) : env()
        const human = await runPf(['config', 'set', `trace.destination=${workspaceId('ws-bad')}`, ...flags], {home, env: childEnv})
        expect(human.code, human.stderr).to.equal(exit)
        expect(human.stderr.trim().split('\n'), human.stderr).to.have.length(1)
        expect(human.stderr).to.match(/^Error: /)
        expect(human.stderr).to.match(message)
        const json = await runPf(['config', 'set', `trace.destination=${workspaceId('ws-bad')}`, ...flags, '--json'], {home, env: childEnv})
        expect(json.code).to.equal(exit)
        expect(json.json().error.code).to.equal(code)
        expect(readFileSync(path.join(home, 'pf.yaml'), 'utf8')).to.equal(before)
        // Tokens never leak into what pf prints.
        expect(human.stderr + json.stdout).not.to.contain('eyJ')
      })
    }
  })

  describe('export', () => {
    const setDestination = (value: string) =>
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${value}\n  export_wait: 30\n`, {mode: 0o600})

    it('writes every span, the line summary and the collection with the spec shapes; prints portal links', async () => {
      await addWorkspace('ws-main', {tokenAsString: true})
      setDestination(workspaceId('ws-main'))
      const flow = copyFlow('flex-basic', tempDir('pf-flows-'))
      const result = await runPf(['flow', 'test', '--flow', flow, '--inputs', 'question=hello', '--json'], {home, env: env()})
      expect(result.code, result.stderr + result.stdout).to.equal(0)
      const out = result.json()
      expect(out.export).to.deep.equal([{destination: workspaceId('ws-main'), delivered: 3, parked: 0, pending: 0}])
      const wsid = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/ws-main`
      const collectionId = `flex-basic_${user.oid}`
      expect(out.links.portal).to.deep.equal([
        `https://ml.azure.com/trace/detail/${out.traceId}?wsid=${wsid}`,
        `https://ml.azure.com/trace/collection/${collectionId}/list?wsid=${wsid}`,
      ])
      const human = await runPf(['flow', 'test', '--flow', flow, '--inputs', 'question=again'], {home, env: env()})
      expect(human.code, human.stderr).to.equal(0)
      expect(human.stderr).to.match(new RegExp(`^Portal: https://ml\\.azure\\.com/trace/detail/[0-9a-f]{32}\\?wsid=${wsid}$`, 'm'))

      const local = storedSpans(home)
      expect(local).to.have.length(6)
      const spans = await cosmos.items('db-ws-main', 'Span')
      expect(spans.map(s => s.id).sort()).to.deep.equal(local.map(s => hex(s.context.span_id)).sort())
      const createdBy = {object_id: user.oid, tenant_id: user.tid, name: 'Dev User'}
      const blobs = await azurite.blobs('c-ws-main')
      const blobBase = `azureml://subscriptions/${subscription}/resourcegroups/${resourceGroup}/workspaces/ws-main/datastores/workspaceblobstore/paths/`
      // The reference's forms: 0x ids, OTLP kind, status with its description, integers as strings.
      const protobuf = (attributes: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, typeof v === 'number' && Number.isInteger(v) ? String(v) : v]))
      for (const record of local) {
        const item = spans.find(s => s.id === hex(record.context.span_id))
        expect(item).to.include({partition_key: collectionId, collection_id: collectionId, name: record.name, kind: 1})
        if (record.parent_id) expect(item.parent_id).to.equal(hex(record.parent_id))
        else expect(item).not.to.have.property('parent_id')
        expect(item).not.to.have.property('links')
        expect(item.created_by).to.deep.equal(createdBy)
        expect(item.context).to.deep.equal({trace_id: hex(record.context.trace_id), span_id: hex(record.context.span_id), trace_state: ''})
        expect(item.start_time)
          .to.equal(record.start_time)
          .and.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
        expect(item.end_time).to.equal(record.end_time)
        expect(item.status).to.deep.equal({status_code: record.status.status_code, description: record.status.description ?? ''})
        expect(item.attributes).to.deep.equal(protobuf(record.attributes))
        // The events' data lives in blob storage; the item keeps their names and times.
        expect(item.events).to.deep.equal(record.events.map((e: any) => ({...e, attributes: {}})))
        const dir = `.promptflow/.trace/${collectionId}/${hex(record.context.trace_id)}/${hex(record.context.span_id)}/`
        expect(item.span_json_uri).to.equal(`${blobBase}${dir}span.json`)
        expect(item.external_event_data_uris).to.deep.equal(record.events.map((_: unknown, i: number) => `${blobBase}${dir}${i}`))
        const spanJson = JSON.parse(blobs.get(`${dir}span.json`)!.toString('utf8'))
        expect(spanJson).to.deep.include({
          name: record.name,
          context: item.context,
          kind: 1,
          parent_id: item.parent_id ?? null,
          status: item.status,
          resource: item.resource,
        })
        expect(spanJson.attributes).to.deep.equal(protobuf(record.attributes))
        expect(spanJson.events).to.deep.equal(record.events.map((e: any) => ({...e, attributes: protobuf(e.attributes)})))
        record.events.forEach((e: any, i: number) =>
          expect(JSON.parse(blobs.get(`${dir}${i}`)!.toString('utf8'))).to.deep.equal({...e, attributes: protobuf(e.attributes)}),
        )
        expect(item.resource.attributes).to.include({
          'service.name': 'promptflow',
          collection: 'flex-basic',
          'collection.id': collectionId,
          'subscription.id': subscription,
          'resource_group.name': resourceGroup,
          'workspace.name': 'ws-main',
        })
      }
      // Exactly the blobs of these spans: span.json and one per event.
      expect(blobs.size).to.equal(local.reduce((n, r) => n + 1 + r.events.length, 0))
      const summaries = await cosmos.items('db-ws-main', 'LineSummary')
      expect(summaries).to.have.length(2)
      const summary = summaries.find(s => s.id === hex(out.traceId))
      const root = local.find(s => s.context.trace_id === out.traceId && s.parent_id === null)!
      expect(summary).to.include({
        partition_key: collectionId,
        collection_id: collectionId,
        session_id: 'flex-basic',
        trace_id: hex(out.traceId),
        root_span_id: hex(root.context.span_id),
        status: 'Ok',
        name: 'answer',
        kind: 'Flow',
        line_run_id: out.lineRunId,
        batch_run_id: null,
        line_number: null,
        start_time: root.start_time.replace(/Z$/, ''),
        end_time: root.end_time.replace(/Z$/, ''),
      })
      expect(summary.inputs).to.deep.equal({question: 'hello', times: 2})
      expect(summary.outputs).to.deep.equal({answer: 'HELLO HELLO', length: 5})
      expect(summary.latency).to.be.a('number').and.be.greaterThan(0)
      expect(summary.created_by).to.deep.equal(createdBy)
      expect(summary.cumulative_token_count).to.equal(null)
      const collections = await cosmos.items('db-ws-main', 'Collection')
      expect(collections).to.have.length(1)
      expect(collections[0]).to.include({id: collectionId, partition_key: collectionId, name: 'flex-basic', location: 0})
      expect(collections[0].created_by).to.deep.equal(createdBy)
      expect(collections[0].updated_at).to.be.at.least(collections[0].created_at)
      // Resource tokens were asked once per container and command (cached), with write access.
      expect(azure.callsTo(/resourceToken\?acquireWrite=true$/)).to.have.length(6)
      // No token on disk: not in the store (spans, outbox, destinations) nor anywhere under the pf home.
      for (const file of readdirSync(home, {recursive: true}) as string[]) {
        if (statSync(path.join(home, file)).isDirectory()) continue
        const bytes = readFileSync(path.join(home, file)).toString('latin1')
        expect(bytes, file).not.to.contain(userToken.split('.')[1])
        expect(bytes, file).not.to.contain('sig=fake-')
        expect(bytes, file).not.to.contain(azurite.accountKey)
      }
    })

    it('links AI projects to ai.azure.com', async () => {
      await addWorkspace('proj-1', {kind: 'Project'})
      setDestination(workspaceId('proj-1'))
      const flow = copyFlow('flex-basic', tempDir('pf-flows-'))
      const result = await runPf(['flow', 'test', '--flow', flow, '--json'], {home, env: env()})
      expect(result.code, result.stderr).to.equal(0)
      const {links, traceId} = result.json()
      expect(links.portal[0]).to.match(new RegExp(`^https://ai\\.azure\\.com/projecttrace/detail/${traceId}\\?wsid=/subscriptions/`))
      expect(links.portal[1]).to.contain(`https://ai.azure.com/projecttrace/collection/flex-basic_${user.oid}/list?wsid=`)
    })

    it('sends two flows with two .azureml/config.json files to two workspaces (bare azureml)', async () => {
      await addWorkspace('ws-a')
      await addWorkspace('ws-b')
      setDestination('azureml')
      const flows = tempDir('pf-flows-')
      const flow1 = copyFlow('flex-basic', flows, 'flow1')
      const flow2 = copyFlow('flex-basic', flows, 'flow2')
      for (const [dir, ws] of [
        [flow1, 'ws-a'],
        [flow2, 'ws-b'],
      ]) {
        mkdirSync(path.join(dir, '.azureml'))
        writeFileSync(
          path.join(dir, '.azureml', 'config.json'),
          JSON.stringify({subscription_id: subscription, resource_group: resourceGroup, workspace_name: ws}),
        )
      }
      for (const dir of [flow1, flow2]) {
        const result = await runPf(['flow', 'test', '--flow', dir, '--json'], {home, env: env()})
        expect(result.code, result.stderr).to.equal(0)
        expect(result.json().export[0].pending).to.equal(0)
      }
      const a = await cosmos.items('db-ws-a', 'Span')
      const b = await cosmos.items('db-ws-b', 'Span')
      expect(a).to.have.length(3)
      expect(b).to.have.length(3)
      expect(a.every(s => s.resource.attributes['workspace.name'] === 'ws-a' && s.resource.attributes.collection === 'flow1')).to.equal(
        true,
      )
      expect(b.every(s => s.resource.attributes['workspace.name'] === 'ws-b' && s.resource.attributes.collection === 'flow2')).to.equal(
        true,
      )
    })

    it('without sign-in, flow test still runs and records locally; spans wait with the reason until sync after `az login`', async () => {
      await addWorkspace('ws-signin')
      setDestination(workspaceId('ws-signin'))
      const flow = copyFlow('flex-basic', tempDir('pf-flows-'))
      const loggedOut = env({PATH: `${fakeAzCli({loggedOut: true})}:${process.env.PATH}`})
      const result = await runPf(['flow', 'test', '--flow', flow, '--export-wait', '1', '--json'], {home, env: loggedOut})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.json().status).to.equal('Completed')
      expect(storedSpans(home)).to.have.length(3)
      expect(result.json().export).to.have.length(1)
      expect(result.json().export[0]).to.include({destination: workspaceId('ws-signin'), delivered: 0, pending: 3})
      expect(result.json().export[0].lastError).to.match(/^Not signed in to Azure: run `az login`/)
      const pending = await runPf(['trace', 'list', '--pending', '--json'], {home, env: loggedOut})
      expect(pending.json()[0].lastError).to.match(/^Not signed in to Azure/)

      const sync = await runPf(['trace', 'sync', '--json'], {home, env: env()})
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect((await cosmos.items('db-ws-signin', 'Span')).map(s => s.id).sort()).to.deep.equal(
        storedSpans(home)
          .map(s => hex(s.context.span_id))
          .sort(),
      )
    })

    for (const [name, extra, cause] of [
      ['no Azure CLI at all', {PATH: tempDir('pf-empty-path-')}, /Sign-in failed: the Azure CLI \(az\) is not installed\.$/],
      [
        'a workload identity whose token file is missing',
        {
          PATH: tempDir('pf-empty-path-'),
          AZURE_TENANT_ID: 'tenant-1',
          AZURE_CLIENT_ID: 'client-1',
          AZURE_FEDERATED_TOKEN_FILE: '/nonexistent/token',
        },
        /Sign-in failed: the Azure CLI \(az\) is not installed; workload identity \(AZURE_FEDERATED_TOKEN_FILE\) failed: .*\/nonexistent\/token/,
      ],
    ] as const)
      it(`names the real sign-in cause: ${name} (one line; every attempt with --debug)`, async () => {
        await addWorkspace('ws-main')
        const human = await runPf(['config', 'set', `trace.destination=${workspaceId('ws-main')}`], {home, env: env(extra)})
        expect(human.code).to.equal(1)
        expect(human.stderr.trim().split('\n'), human.stderr).to.have.length(1)
        expect(human.stderr.trim())
          .to.match(/^Error: Not signed in to Azure: run `az login`/)
          .and.match(cause)
        const debug = await runPf(['config', 'set', `trace.destination=${workspaceId('ws-main')}`, '--debug'], {home, env: env(extra)})
        expect(debug.stderr).to.contain('Sign-in attempts:').and.contain('Azure CLI could not be found')
      })
  })

  it('writes batch-run spans under the run name: LineSummary per line number, no Collection item', async () => {
    await addWorkspace('ws-batch')
    const driver = path.join(repoRoot, 'bench', 'drivers', 'azureml-export.js')
    const drive = (mode: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [driver, home, workspaceId('ws-batch'), '30', mode, 'run_20260101_000000'], {
          env: {...cleanEnv(), ...env()},
        })
        let text = ''
        child.stdout.on('data', d => (text += d))
        child.on('close', code => (code === 0 ? resolve(text) : reject(new Error(`driver exited ${code}`))))
      })
    await drive('prepare')
    const out = await drive('pf')
    expect(JSON.parse(out)).to.include({delivered: 30, pending: 0, parked: 0})
    const spans = await cosmos.items('db-ws-batch', 'Span')
    expect(spans).to.have.length(30)
    expect(spans.every(s => s.partition_key === 'run_20260101_000000' && s.collection_id === 'run_20260101_000000')).to.equal(true)
    const lines = await cosmos.items('db-ws-batch', 'LineSummary')
    expect(lines.map(l => l.line_number).sort()).to.deep.equal(['0', '1', '2'])
    for (const line of lines)
      expect(line).to.include({
        batch_run_id: 'run_20260101_000000',
        line_run_id: null,
        partition_key: 'run_20260101_000000',
        status: 'Ok',
        kind: 'Flow',
      })
    expect(await cosmos.items('db-ws-batch', 'Collection')).to.have.length(0)
  })

  it('`pf run create` exports every line under the run and prints the run portal link when it ends', async () => {
    await addWorkspace('ws-run')
    writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-run')}\n  export_wait: 30\n`, {mode: 0o600})
    const data = path.join(tempDir(), 'data.jsonl')
    writeFileSync(data, ['first', 'second', 'third'].map(q => JSON.stringify({question: q})).join('\n') + '\n')
    const result = await runPf(['run', 'create', '--flow', path.join(fixtures, 'flex-basic'), '--data', data, '--name', 'cloud_run'], {
      home,
      env: env(),
    })
    expect(result.code, result.stderr).to.equal(0)
    const wsid = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/ws-run`
    expect(result.stderr).to.contain(`Portal: https://ml.azure.com/prompts/trace/run/cloud_run/details?wsid=${wsid}`)
    expect(result.stderr).to.match(/^Trace: http:\/\/127\.0\.0\.1:\d+\/v1\.0\/ui\/traces\/\?#run=cloud_run/m)
    const spans = await cosmos.items('db-ws-run', 'Span')
    expect(spans.map(s => s.id).sort()).to.deep.equal(
      storedSpans(home)
        .map(s => hex(s.context.span_id))
        .sort(),
    )
    expect(spans.every(s => s.partition_key === 'cloud_run')).to.equal(true)
    const lines = await cosmos.items('db-ws-run', 'LineSummary')
    expect(lines.map(l => l.line_number).sort()).to.deep.equal(['0', '1', '2'])
    expect(await cosmos.items('db-ws-run', 'Collection')).to.have.length(0)
  })

  it('records an evaluation run on the lines it evaluated (LineSummary evaluations) and exports its own lines', async () => {
    await addWorkspace('ws-eval')
    writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-eval')}\n  export_wait: 30\n`, {mode: 0o600})
    const data = path.join(tempDir(), 'data.jsonl')
    const rows = [
      {question: 'a', expected: 'A A'},
      {question: 'b', expected: 'wrong'},
      {question: 'c', expected: 'C C'},
    ]
    writeFileSync(data, rows.map(r => JSON.stringify(r)).join('\n') + '\n')
    const base = await runPf(['run', 'create', '--flow', path.join(fixtures, 'flex-basic'), '--data', data, '--name', 'base_run'], {
      home,
      env: env(),
    })
    expect(base.code, base.stderr).to.equal(0)
    const evaluation = await runPf(
      [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'run-eval'),
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
      ],
      {home, env: env()},
    )
    expect(evaluation.code, evaluation.stderr + evaluation.stdout).to.equal(0)
    expect(evaluation.json().export).to.deep.equal([{destination: workspaceId('ws-eval'), delivered: 4, parked: 0, pending: 0}])

    const local = storedSpans(home)
    const spans = await cosmos.items('db-ws-eval', 'Span')
    expect(spans.map(s => s.id).sort()).to.deep.equal(local.map(s => hex(s.context.span_id)).sort())
    const summaries = await cosmos.items('db-ws-eval', 'LineSummary')
    const baseLines = summaries.filter(s => s.batch_run_id === 'base_run').sort((a, b) => a.line_number - b.line_number)
    const evalLines = summaries
      .filter(s => s.batch_run_id === 'eval_run' && s.line_number !== null)
      .sort((a, b) => a.line_number - b.line_number)
    expect(baseLines.map(l => l.line_number)).to.deep.equal(['0', '1', '2'])
    // The evaluation's own lines keep their items (partitioned by the evaluation run), with no evaluations of their own.
    expect(evalLines.map(l => l.line_number)).to.deep.equal(['0', '1', '2'])
    for (const line of evalLines) {
      expect(line).to.include({partition_key: 'eval_run', status: 'Ok'})
      expect(line.evaluations).to.deep.equal({})
    }
    baseLines.forEach((line, n) => {
      const evalLine = evalLines[n]
      expect(line).to.include({partition_key: 'base_run', status: 'Ok', name: 'answer'})
      expect(line.outputs).to.deep.equal({answer: `${rows[n].question.toUpperCase()} ${rows[n].question.toUpperCase()}`, length: 1})
      expect(Object.keys(line.evaluations)).to.deep.equal(['eval_run'])
      // As the reference records it: the evaluation line's whole summary item, without its own evaluations.
      const {evaluations, _etag, _ts, _rid, _self, _attachments, ...own} = evalLine
      expect(line.evaluations.eval_run).to.deep.equal(own)
      expect(line.evaluations.eval_run).to.include({
        batch_run_id: 'eval_run',
        line_number: String(n),
        line_run_id: null,
        collection_id: 'eval_run',
      })
      expect(line.evaluations.eval_run.outputs).to.deep.equal({correct: n !== 1})
    })

    // Sending everything again (as after a crash) changes nothing: the base lines keep their evaluations.
    expect(outboxStates(home)).to.deep.equal({delivered: local.length})
    const db = openDatabase(path.join(home, 'pf.sqlite'))
    db.prepare(
      `INSERT INTO outbox (destination, trace_id, span_id, created_at) SELECT key, trace_id, span_id, 0 FROM spans, destinations`,
    ).run()
    db.close()
    // Every span goes again; the two runs' uploads stay pending (this fake workspace has no artifact datastore,
    // workspaceartifactstore; run tracking is tested in run-tracking.test.ts), so sync exits 3.
    const sync = await runPf(['trace', 'sync', '--json'], {home, env: env()})
    expect(sync.code, sync.stderr + sync.stdout).to.equal(3)
    expect(sync.json().error.destinations[0]).to.include({pending: 0, parked: 0})
    expect(sync.json().error.uploads.map((u: any) => [u.run, u.state])).to.deep.equal([
      ['base_run', 'pending'],
      ['eval_run', 'pending'],
    ])
    expect(outboxStates(home), 'every span sent once more').to.deep.equal({delivered: 2 * local.length})
    const again = await cosmos.items('db-ws-eval', 'LineSummary')
    const strip = (items: any[]) =>
      items.map(({_etag, _ts, _rid, _self, _attachments, ...rest}) => rest).sort((a, b) => a.id.localeCompare(b.id))
    expect(strip(again)).to.deep.equal(strip(summaries))
    expect(await cosmos.items('db-ws-eval', 'Span')).to.have.length(local.length)
  })

  it('an evaluation line waits (retryable, with the reason) for the line it evaluated, then gives up on the entry', async () => {
    await addWorkspace('ws-wait')
    // The azureml sink itself, in a child process like pf (fake `az`, test CA): exports spans with given attempt counts.
    const exportSpans = (spans: object[], attempts: Record<string, number>) =>
      new Promise<any>((resolve, reject) => {
        const script = `
          const {azuremlProvider} = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'destinations', 'azureml', 'provider.js'))})
          const {configReader} = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'config', 'files.js'))})
          const ctx = {cwd: process.cwd(), config: configReader({}), env: process.env}
          const sink = await azuremlProvider.exporter(await azuremlProvider.resolve(process.argv[1], ctx), ctx)
          const result = await sink.export(JSON.parse(process.argv[2]), {attempts: JSON.parse(process.argv[3])})
          await sink.shutdown?.()
          console.log(JSON.stringify(result))`
        const child = spawn(
          process.execPath,
          ['--input-type=module', '-e', script, workspaceId('ws-wait'), JSON.stringify(spans), JSON.stringify(attempts)],
          {env: {...cleanEnv(), ...env()}},
        )
        let out = ''
        let err = ''
        child.stdout.on('data', d => (out += d))
        child.stderr.on('data', d => (err += d))
        child.on('close', code => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))))
      })
    const root = (traceId: string, spanId: string, name: string, attributes: Record<string, unknown>) => ({
      name,
      context: {trace_id: traceId, span_id: spanId, trace_state: ''},
      kind: 'SpanKind.INTERNAL',
      parent_id: null,
      start_time: '2026-01-01T00:00:00.000100Z',
      end_time: '2026-01-01T00:00:01.000100Z',
      status: {status_code: 'Ok'},
      attributes: {framework: 'promptflow', span_type: 'Flow', inputs: '{}', ...attributes},
      events: [],
      links: [],
      resource: {attributes: {'service.name': 'promptflow', collection: 'evals'}, schema_url: ''},
    })
    const evalOfBatch = root('e'.repeat(32), 'e'.repeat(16), 'grade', {
      batch_run_id: 'late_eval',
      line_number: 0,
      line_run_id: 'late_eval_0',
      'referenced.batch_run_id': 'late_base',
      'referenced.line_run_id': 'late_base_0',
      output: '{"correct":true}',
    })
    const waiting = await exportSpans([evalOfBatch], {})
    expect(waiting.code).to.equal('retryable')
    expect(waiting.spans['e'.repeat(16)]).to.deep.equal({
      code: 'retryable',
      reason: 'LineSummary: evaluation waits for the evaluated line: line 0 of run late_base is not in the trace store yet',
    })
    // Its own items are written meanwhile.
    expect((await cosmos.items('db-ws-wait', 'LineSummary')).map(l => l.id)).to.deep.equal([hex('e'.repeat(32))])
    // The last attempt delivers it without the entry.
    expect((await exportSpans([evalOfBatch], {['e'.repeat(16)]: 7})).code).to.equal('ok')
    // Once the base line is there, a retry records the evaluation on it (partition: the base run).
    const baseLine = root('b'.repeat(32), 'b'.repeat(16), 'answer', {
      batch_run_id: 'late_base',
      line_number: 0,
      line_run_id: 'late_base_0',
      output: '{"answer":"HI"}',
    })
    expect((await exportSpans([baseLine], {})).code).to.equal('ok')
    expect((await exportSpans([evalOfBatch], {['e'.repeat(16)]: 1})).code).to.equal('ok')
    const baseItem = (await cosmos.items('db-ws-wait', 'LineSummary')).find(l => l.id === hex('b'.repeat(32)))
    expect(baseItem.partition_key).to.equal('late_base')
    expect(baseItem.evaluations.late_eval).to.include({trace_id: hex('e'.repeat(32)), batch_run_id: 'late_eval', line_number: '0'})
    expect(baseItem.evaluations.late_eval.outputs).to.deep.equal({correct: true})

    // A flow-test trace evaluated by a single evaluation (referenced.line_run_id; key: the evaluation flow's name).
    const main = root('a'.repeat(32), 'a'.repeat(16), 'answer', {line_run_id: 'line-main', output: '{"answer":"HI"}'})
    const evalOfTrace = root('f'.repeat(32), 'f'.repeat(16), 'grade', {
      line_run_id: 'line-eval',
      'referenced.line_run_id': 'line-main',
      output: `{"score":"${'x'.repeat(600)}","detail":[1]}`,
    })
    expect((await exportSpans([main], {})).code).to.equal('ok')
    expect((await exportSpans([evalOfTrace], {})).code).to.equal('ok')
    const summaries = await cosmos.items('db-ws-wait', 'LineSummary')
    const mainItem = summaries.find(l => l.id === hex('a'.repeat(32)))
    expect(Object.keys(mainItem.evaluations)).to.deep.equal(['grade'])
    expect(mainItem.evaluations.grade).to.include({
      trace_id: hex('f'.repeat(32)),
      root_span_id: hex('f'.repeat(16)),
      status: 'Ok',
      name: 'grade',
      line_run_id: 'line-eval',
      batch_run_id: null,
    })
    expect(mainItem.evaluations.grade.outputs).to.deep.equal({score: 'x'.repeat(500), detail: '[...]'})
    expect(summaries.find(l => l.id === hex('f'.repeat(32))).evaluations).to.deep.equal({})
  })

  describe('nothing lost, nothing duplicated', () => {
    let proxy: FaultProxy
    beforeEach(async () => {
      proxy = await new FaultProxy(cosmos).start()
      azure.cosmosEndpoint = proxy.endpoint
    })
    afterEach(async () => {
      await proxy.stop()
    })

    const expectAllDelivered = async (database: string) => {
      const local = storedSpans(home)
      const spans = await cosmos.items(database, 'Span')
      const ids = spans.map(s => s.id)
      expect(new Set(ids).size, 'no duplicated span items').to.equal(ids.length)
      expect(ids.sort()).to.deep.equal(local.map(s => hex(s.context.span_id)).sort())
      const traces = new Set(local.map(s => hex(s.context.trace_id)))
      const summaries = await cosmos.items(database, 'LineSummary')
      expect(summaries.map(s => s.id).sort()).to.deep.equal([...traces].sort())
      for (const s of summaries) expect(s.status, 'the finished line wins over placeholders').to.equal('Ok')
      // Every span's data in blob storage too (span.json and one blob per event), each once.
      const blobs = await azurite.blobs(`c-${database.replace(/^db-/, '')}`)
      expect([...blobs.keys()].filter(k => k.endsWith('/span.json')).sort()).to.deep.equal(
        local
          .map(s => `.promptflow/.trace/${spans[0].collection_id}/${hex(s.context.trace_id)}/${hex(s.context.span_id)}/span.json`)
          .sort(),
      )
      expect(blobs.size).to.equal(local.reduce((n, s) => n + 1 + s.events.length, 0))
      expect(outboxStates(home)).to.deep.equal({delivered: local.length})
      return local.length
    }

    it('rides out 429 (retry-after honoured), 503 and dropped connections', async () => {
      await addWorkspace('ws-faults')
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-faults')}\n  export_wait: 30\n`)
      const plan: Fault[] = [
        {status: 429, retryAfterMs: 400},
        {status: 429, retryAfterMs: 400},
        {status: 429, retryAfterMs: 400},
        {status: 429, retryAfterMs: 400},
        {status: 503},
        'drop',
        'drop-after-write',
        {status: 503},
        'drop-after-write',
        'drop',
      ]
      const seen: Array<{at: number; body: string; path: string; fault?: Fault}> = []
      proxy.fault = req => {
        if (!req.isWrite) return undefined
        const fault = plan.shift()
        seen.push({at: Date.now(), body: req.bodyHash, fault, path: req.path})
        return fault
      }
      const flow = copyFlow('many-spans', tempDir('pf-flows-'))
      // Long enough for pf's own retries after the 429s (≈ 1 s each) to be sent by this process, as the same request;
      // with 1 s, a throttled batch could be left to `pf trace sync`, whose claims group the spans differently.
      const result = await runPf(['flow', 'test', '--flow', flow, '--inputs', 'count=120', '--export-wait', '5', '--json'], {
        home,
        env: env(),
      })
      expect(result.code, result.stderr + result.stdout).to.equal(0)
      const sync = await runPf(['trace', 'sync', '--timeout', '60', '--json'], {home, env: env()})
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(plan, 'every fault was injected').to.have.length(0)
      const outcomes = proxy.log.map(l => l.outcome)
      for (const o of ['429', '503', 'drop', 'drop-after-write']) expect(outcomes).to.include(o)
      // A request throttled with retry-after 400 ms was sent again no sooner.
      const throttled = seen.filter(s => typeof s.fault === 'object' && 'status' in s.fault && s.fault.status === 429)
      expect(throttled).to.have.length(4)
      for (const t of throttled) {
        // The same body again; a Collection item carries updated_at (in seconds), so it is the next write of one.
        const again = seen.find(
          s => s.at >= t.at && s !== t && (s.body === t.body || (/\/colls\/Collection\//.test(t.path) && s.path === t.path)),
        )
        const timeline = JSON.stringify(seen.map(x => ({...x, at: x.at - seen[0].at, body: x.body.slice(0, 6)})))
        expect(again, `the throttled request was sent again: ${timeline}`).to.not.equal(undefined)
        expect(again!.at - t.at, timeline).to.be.at.least(380)
      }
      expect(await expectAllDelivered('db-ws-faults')).to.equal(121)
    })

    it('parks a span Cosmos rejects for good (4xx) with its reason; the rest is delivered', async () => {
      await addWorkspace('ws-reject')
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-reject')}\n  export_wait: 30\n`)
      let rejected = false
      proxy.fault = req => {
        if (rejected || !req.isWrite || !req.path.includes('/colls/Span/')) return undefined
        rejected = true
        return {rewrite: (ops: any[]) => ops.map((op, i) => (i === 0 ? {statusCode: 400, requestCharge: 0} : op))}
      }
      const flow = copyFlow('flex-basic', tempDir('pf-flows-'))
      const result = await runPf(['flow', 'test', '--flow', flow, '--json'], {home, env: env()})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.json().export).to.deep.equal([
        {
          destination: workspaceId('ws-reject'),
          delivered: 2,
          parked: 1,
          pending: 0,
          lastError: 'Span: Cosmos DB rejected the item (HTTP 400)',
        },
      ])
      expect(outboxStates(home)).to.deep.equal({delivered: 2, parked: 1})
      const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
      const parked = db.prepare(`SELECT last_error FROM outbox WHERE state = 'parked'`).all() as Array<{last_error: string}>
      db.close()
      expect(parked).to.deep.equal([{last_error: 'Span: Cosmos DB rejected the item (HTTP 400)'}])
      const human = await runPf(['flow', 'test', '--flow', flow], {home, env: env()})
      expect(human.stderr).not.to.match(/rejected by/) // only the first answer was rewritten
    })

    it('sends the rest of a batch Cosmos refused for one item at once, each on its own, and retries a throttled one', async () => {
      await addWorkspace('ws-atomic')
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-atomic')}\n  export_wait: 30\n`)
      const spanWrites: Array<ProxiedRequest & {at: number}> = []
      // As Cosmos answers a transactional batch that failed on one operation: its status, 424 for every other one
      // (rolled back; cosmosdb-server applies them anyway, so sending them again finds them there: 409).
      const failedBatch = (status: number) => (ops: any[]) =>
        ops.map((_op, i) => (i === 1 ? {statusCode: status, requestCharge: 0} : {statusCode: 424, requestCharge: 0}))
      let plan: Array<Fault | undefined> = [{rewrite: failedBatch(409)}]
      proxy.fault = req => {
        if (!req.isWrite || !req.path.includes('/colls/Span/')) return undefined
        spanWrites.push({...req, at: Date.now()})
        return plan.shift()
      }
      const flow = copyFlow('flex-basic', tempDir('pf-flows-'))
      const first = await runPf(['flow', 'test', '--flow', flow, '--json'], {home, env: env()})
      expect(first.code, first.stderr).to.equal(0)
      // The item already there counts as written; the two others went in one bulk request right after the batch.
      expect(first.json().export).to.deep.equal([{destination: workspaceId('ws-atomic'), delivered: 3, parked: 0, pending: 0}])
      expect(spanWrites.map(r => ({atomic: r.atomic, operations: r.operations}))).to.deep.equal([
        {atomic: true, operations: 3},
        {atomic: false, operations: 2},
      ])

      // Throttled: nothing was applied and nothing is sent again at once; the whole batch goes again after its wait.
      spanWrites.length = 0
      plan = [{rewrite: failedBatch(429)}]
      const second = await runPf(['flow', 'test', '--flow', flow, '--json'], {home, env: env()})
      expect(second.code, second.stderr).to.equal(0)
      expect(second.json().export).to.deep.equal([
        {
          destination: workspaceId('ws-atomic'),
          delivered: 3,
          parked: 0,
          pending: 0,
          lastError: 'Span: Cosmos DB throttled the write (HTTP 429)',
        },
      ])
      // Each span waits out its backoff (250–500 ms), so they may go again one by one or together. Nothing goes
      // again at once. (cosmosdb-server applied the batch whose answer was rewritten, so a later batch can find its
      // items there, 409, and send the rest in bulk: how many operations follow depends on how the spans regroup.)
      const [throttled, ...again] = spanWrites
      expect(throttled).to.include({atomic: true, operations: 3})
      expect(again.length, 'sent again').to.be.greaterThan(0)
      for (const r of again) expect(r.at - throttled.at, 'sent again after a wait').to.be.at.least(200)
      expect(await expectAllDelivered('db-ws-atomic')).to.equal(6)
    })

    it('loses and duplicates nothing when pf is SIGKILLed mid-export (pf trace sync finishes)', async function () {
      // Every span's blobs go to Azurite before its item: more work than the Cosmos items alone.
      this.timeout(300_000)
      await addWorkspace('ws-kill')
      writeFileSync(path.join(home, 'pf.yaml'), `trace:\n  destination: ${workspaceId('ws-kill')}\n  export_wait: 30\n`)
      // The first write reaches Cosmos but its answer never reaches pf; later writes hang: pf dies waiting.
      let child: ChildProcess | undefined
      let killed = false
      let writes = 0
      proxy.fault = req => (req.isWrite && req.path.includes('/colls/Span/') ? (writes++ === 0 ? {holdMs: 30_000} : 'hang') : undefined)
      proxy.onRequest = req => {
        if (req.isWrite && req.path.includes('/colls/Span/') && !killed && child) {
          killed = true
          setTimeout(() => child!.kill('SIGKILL'), 300)
        }
      }
      const flow = copyFlow('many-spans', tempDir('pf-flows-'))
      const exit = await new Promise<NodeJS.Signals | null>(resolve => {
        child = spawn(process.execPath, [pfBin, 'flow', 'test', '--flow', flow, '--inputs', 'count=300'], {
          cwd: home,
          env: {...cleanEnv(), PF_HOME_DIRECTORY: home, ...env()},
          stdio: 'ignore',
        })
        child.on('close', (_code, signal) => resolve(signal))
      })
      expect(exit).to.equal('SIGKILL')
      expect(proxy.writesSeen).to.be.at.least(1)
      const written = (await cosmos.items('db-ws-kill', 'Span')).length
      expect(written, 'the held write reached Cosmos before the kill').to.be.greaterThan(0)
      expect(written, 'some spans were not written before the kill').to.be.lessThan(storedSpans(home).length)
      const pendingBefore = outboxStates(home).pending ?? 0
      expect(pendingBefore).to.be.greaterThan(0)

      proxy.fault = () => undefined
      const sync = await runPf(['trace', 'sync', '--timeout', '120', '--json'], {home, env: env(), timeoutMs: 150_000})
      expect(sync.code, sync.stderr + sync.stdout).to.equal(0)
      expect(await expectAllDelivered('db-ws-kill')).to.equal(301)
    })
  })
})

const cleanEnv = (): NodeJS.ProcessEnv => {
  const out = {...process.env}
  for (const key of Object.keys(out)) if (key.startsWith('PF_') || key.startsWith('AZURE_') || key === 'NODE_OPTIONS') delete out[key]
  return out
}

if (!existsSync(pfBin)) throw new Error('build first: npm run build')
