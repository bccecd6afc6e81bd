import {expect} from 'chai'
import {spawnSync} from 'node:child_process'

import {TraceStore} from '../../src/store/store.js'
import {createBulkRunRequest, experimentNameOf, metricRequest, runDataRequest} from '../../src/destinations/azureml/run-tracking.js'
import {RunUploadQueue} from '../../src/store/run-uploads.js'
import {tempDir} from '../helpers/cli.js'

const scope = {
  workspace: {subscriptionId: 'sub', resourceGroup: 'rg', workspaceName: 'ws'},
  serviceBaseUrl: 'https://eastus.api.azureml.ms',
}
const facts = {
  name: 'r1',
  status: 'Completed',
  createdOn: '2026-01-01T00:00:00.000Z',
  tags: {},
  flowFolderName: 'My Flow-2',
  flowFile: 'flow.flex.yaml',
  tokens: {total: 30, completion: 10, prompt: 20},
}

describe('run tracking: requests', () => {
  it('names the experiment as the reference does (lower case, words joined by _, no leading digit)', () => {
    expect(experimentNameOf('My Flow-2')).to.equal('my_flow_2')
    expect(experimentNameOf('2nd__flow!!')).to.equal('n2nd_flow')
    expect(experimentNameOf('run-answer')).to.equal('run_answer')
  })

  it('BulkRuns/create: absent values are left out; tokens are strings; an evaluation run names its base run', () => {
    const plain = createBulkRunRequest(scope, facts)
    expect(plain.url).to.equal(
      'https://eastus.api.azureml.ms/flow/api/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/BulkRuns/create',
    )
    const body = plain.body as Record<string, any>
    expect(Object.keys(body)).to.not.include.members(['endTimeUtc', 'description', 'variantRunId'])
    expect(body.runDisplayName).to.equal('r1')
    expect(body.properties).to.include({
      'azureml.promptflow.total_tokens': '30',
      'azureml.promptflow.completion_tokens': '10',
      'azureml.promptflow.prompt_tokens': '20',
    })
    const evaluation = createBulkRunRequest(scope, {
      ...facts,
      baseRun: 'base',
      description: 'd',
      endedOn: '2026-01-01T00:01:00.000Z',
      displayName: 'Eval',
    }).body as Record<string, any>
    expect(evaluation).to.include({variantRunId: 'base', description: 'd', endTimeUtc: '2026-01-01T00:01:00.000Z', runDisplayName: 'Eval'})
  })

  it('metric and rundata requests', () => {
    expect(metricRequest(scope, 'r 1', 'acc', 0.5)).to.deep.equal({
      method: 'POST',
      url: 'https://eastus.api.azureml.ms/metric/v2.0/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/runs/r%201/batchsync',
      body: {
        values: [
          {name: 'acc', columns: {acc: 'Double'}, properties: {uxMetricType: 'azureml.v1.scalar'}, value: [{data: {acc: 0.5}, step: 0}]},
        ],
      },
    })
    expect(runDataRequest(scope, 'r1').url).to.match(/\/history\/v1\.0\/subscriptions\/sub\/.*\/workspaces\/ws\/rundata$/)
  })
})

describe('run tracking: the durable upload queue', () => {
  let store: TraceStore
  beforeEach(() => {
    store = TraceStore.open(tempDir('pf-home-'))
  })
  afterEach(() => store.close())

  it('enqueues once per run and destination, records steps, settles done', () => {
    const queue = new RunUploadQueue(store)
    queue.enqueue('r1', 'azureml:ws')
    queue.enqueue('r1', 'azureml:ws')
    expect(queue.pending()).to.have.length(1)
    const job = queue.claim('r1', 'azureml:ws', 60_000)!
    expect(job.state).to.equal('pending')
    queue.recordStep('r1', 'azureml:ws', 'blobs', {count: 3}, 60_000)
    queue.recordStep('r1', 'azureml:ws', 'metric:acc', 0.5, 60_000)
    expect(queue.get('r1', 'azureml:ws')!.steps).to.deep.equal({blobs: {count: 3}, 'metric:acc': 0.5})
    queue.settle('r1', 'azureml:ws', {done: true})
    expect(queue.pending()).to.have.length(0)
    expect(queue.claim('r1', 'azureml:ws', 60_000)).to.equal(undefined)
  })

  it("leaves a live process's lease alone, takes a dead one's back at once, and honours backoff unless told not to", () => {
    const queue = new RunUploadQueue(store)
    queue.enqueue('r1', 'd')
    // A lease held by a process that is alive (this test's parent) is respected…
    store.db.prepare('UPDATE run_uploads SET claimed_until = ?, claimed_by = ?').run(Date.now() + 60_000, process.ppid)
    expect(queue.claim('r1', 'd', 60_000)).to.equal(undefined)
    // …one held by a process that is gone is not.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim()
    store.db.prepare('UPDATE run_uploads SET claimed_by = ?').run(Number(dead))
    expect(queue.claim('r1', 'd', 60_000)?.run).to.equal('r1')
    queue.settle('r1', 'd', {done: false, error: 'HTTP 503', retryAt: Date.now() + 60_000})
    expect(queue.claim('r1', 'd', 60_000)).to.equal(undefined)
    expect(queue.claim('r1', 'd', 60_000, true)?.lastError).to.equal('HTTP 503')
  })
})
