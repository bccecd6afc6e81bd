import {expect} from 'chai'

import {ControlPlane, parseContainerToken, serviceBaseUrlOf, workspaceKindOf} from '../../src/destinations/azureml/control-plane.js'
import {
  collectionIdOf,
  collectionItem,
  cutChars,
  evaluationKey,
  evaluationPatch,
  finishedSummaryItem,
  finishedSummaryPatch,
  itemBytesBound,
  jsonBytesBound,
  mainLineOf,
  mainLineQuery,
  maxItemBytes,
  referenceSpan,
  runningSummaryItem,
  spanItem,
  summarizeIo,
} from '../../src/destinations/azureml/cosmos-items.js'
import {configReader} from '../../src/config/files.js'
import {secondsBetween, spanTimeMicros} from '../../src/util/span-time.js'
import {batchesOf, classifyStatus, containerOfPath} from '../../src/destinations/azureml/cosmos-writer.js'
import {armEndpoint, createdByFromToken, credentialModeOf} from '../../src/destinations/azureml/credential.js'
import {azuremlProvider} from '../../src/destinations/azureml/provider.js'
import type {SpanRecord} from '../../src/contract/destination.js'
import {fakeJwt} from '../helpers/fake-azure.js'

const createdBy = {object_id: 'oid-1', tenant_id: 'tid-1', name: 'dev@contoso.example'}

const span = (over: Partial<SpanRecord> = {}, attributes: Record<string, unknown> = {}): SpanRecord => ({
  name: 'answer',
  context: {trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), trace_state: ''},
  kind: 'SpanKind.INTERNAL',
  parent_id: null,
  start_time: '2026-01-01T00:00:00.000100Z',
  end_time: '2026-01-01T00:00:01.250200Z',
  status: {status_code: 'Ok'},
  attributes: {span_type: 'Flow', line_run_id: 'line-1', inputs: '{"question":"hi"}', output: '"HI"', ...attributes},
  events: [],
  links: [],
  resource: {attributes: {'service.name': 'promptflow', collection: 'my_flow'}, schema_url: ''},
  ...over,
})

describe('azureml: Cosmos items', () => {
  it('uses <collection>_<oid> as collection id, the run name for batch runs', () => {
    expect(collectionIdOf(span(), 'oid-1')).to.equal('my_flow_oid-1')
    expect(collectionIdOf(span({}, {batch_run_id: 'run-7', line_number: 3}), 'oid-1')).to.equal('run-7')
  })

  it('builds the Span item: span id as id, collection id as partition key, created_by, collection.id resource', () => {
    const item = spanItem(referenceSpan(span(), 'my_flow_oid-1'), 'my_flow_oid-1', createdBy)
    expect(item).to.include({id: '0x' + 'b'.repeat(16), partition_key: 'my_flow_oid-1', collection_id: 'my_flow_oid-1', name: 'answer'})
    expect(item.created_by).to.deep.equal(createdBy)
    expect(item.resource.attributes).to.include({collection: 'my_flow', 'collection.id': 'my_flow_oid-1'})
  })

  it('cuts string attribute values at 8192 characters (code points, no marker) and keeps items under 2 MB', () => {
    expect(cutChars('é'.repeat(10_000))).to.equal('é'.repeat(8192))
    expect(cutChars('😀'.repeat(9000))).to.equal('😀'.repeat(8192))
    expect(cutChars('short')).to.equal('short')
    const ref = (s: SpanRecord) => referenceSpan(s, 'c')
    const item = spanItem(ref(span({}, {inputs: 'x'.repeat(10_000)})), 'c', createdBy)
    expect(item.attributes!.inputs).to.equal('x'.repeat(8192))

    const many = Object.fromEntries(Array.from({length: 400}, (_, i) => [`attr.${i}`, 'x'.repeat(8000)]))
    const events = Array.from({length: 40}, () => ({
      name: 'promptflow.function.inputs',
      timestamp: '2026-01-01T00:00:00.000000Z',
      attributes: {payload: 'y'.repeat(50_000)},
    }))
    for (const base of [undefined, 'azureml://x/paths/']) {
      const big = spanItem(ref(span({events}, many)), 'c', createdBy, base)
      expect(Buffer.byteLength(JSON.stringify(big))).to.be.below(maxItemBytes)
      expect(big.attributes!.span_type).to.equal('Flow')
    }
  })

  it("bounds an item's JSON size from above without building it, and measures it exactly when the bound is near the limit", () => {
    const values: unknown[] = [
      '',
      'plain ascii',
      'quote " backslash \\ newline \n tab \t',
      '\u0001\u001f control characters',
      '\u0001'.repeat(50),
      '\ud83d'.repeat(20),
      'é 中 😀 mixed',
      '\ud800 lone surrogate \udc00',
      -1.7976931348623157e308,
      5e-324,
      0,
      true,
      null,
      [undefined, 1, 'a', [[]], {}],
      {a: undefined, ключ: {nested: ['😀'.repeat(100)]}, n: -0.000001234},
    ]
    for (const value of values)
      expect(jsonBytesBound(value), JSON.stringify(value)).to.be.at.least(Buffer.byteLength(JSON.stringify(value)))
    expect(jsonBytesBound(values)).to.be.at.least(Buffer.byteLength(JSON.stringify(values)))

    // 60 values of 8000 characters: bound ≈ 2.9 MB, over the limit; the item itself ≈ 0.5 MB, so nothing is dropped.
    const wide = Object.fromEntries(Array.from({length: 60}, (_, i) => [`attr.${i}`, 'x'.repeat(8000)]))
    const events = [{name: 'promptflow.function.inputs', timestamp: '2026-01-01T00:00:00.000000Z', attributes: {payload: 'kept'}}]
    const item = spanItem(referenceSpan(span({events}, wide), 'c'), 'c', createdBy)
    expect(jsonBytesBound(item)).to.be.above(maxItemBytes)
    expect(Object.keys(item.attributes!)).to.have.length.above(60)
    expect(item.events![0].attributes).to.deep.equal({payload: 'kept'})
  })

  it('gives the batching the bound spanItem computed, of the item as it returned it (also once events were emptied)', () => {
    const small = spanItem(referenceSpan(span(), 'c'), 'c', createdBy)
    expect(itemBytesBound(small)).to.equal(jsonBytesBound(small))
    // 300 events of 8192 characters (each cut to that): ≈ 2.5 MB, over the item limit, so their attributes go.
    const events = Array.from({length: 300}, () => ({
      name: 'promptflow.function.inputs',
      timestamp: '2026-01-01T00:00:00.000000Z',
      attributes: {payload: 'y'.repeat(8192)},
    }))
    const emptied = spanItem(referenceSpan(span({events}), 'c'), 'c', createdBy)
    expect(emptied.events![0].attributes).to.deep.equal({})
    expect(itemBytesBound(emptied)).to.equal(jsonBytesBound(emptied))
    expect(itemBytesBound({id: 'x'})).to.equal(jsonBytesBound({id: 'x'}))
  })

  it('summarizes line inputs/outputs: strings cut at 500, lists and dicts folded', () => {
    expect(summarizeIo(JSON.stringify({a: 'x'.repeat(600), b: [1, 2], c: {d: 1}, e: 3}))).to.deep.equal({
      a: 'x'.repeat(500),
      b: '[...]',
      c: '{...}',
      e: 3,
    })
    expect(summarizeIo('"plain"')).to.equal('plain')
  })

  it('writes a Running placeholder for child spans and the finished line for the root', () => {
    const child = span({parent_id: 'c'.repeat(16), context: {trace_id: 'a'.repeat(32), span_id: 'd'.repeat(16), trace_state: ''}})
    const running = runningSummaryItem(child, 'col', createdBy)
    expect(running).to.include({
      id: '0x' + 'a'.repeat(32),
      partition_key: 'col',
      status: 'Running',
      session_id: 'my_flow',
      line_run_id: 'line-1',
      batch_run_id: null,
    })
    const root = finishedSummaryItem(
      span(
        {},
        {
          '__computed__.cumulative_token_count.completion': 5,
          '__computed__.cumulative_token_count.prompt': 7,
          '__computed__.cumulative_token_count.total': 12,
        },
      ),
      'col',
      createdBy,
    )
    expect(root).to.include({
      id: '0x' + 'a'.repeat(32),
      root_span_id: '0x' + 'b'.repeat(16),
      status: 'Ok',
      name: 'answer',
      kind: 'Flow',
      outputs: 'HI',
    })
    expect(root.inputs).to.deep.equal({question: 'hi'})
    expect(root.latency).to.be.closeTo(1.2501, 1e-9)
    expect(root.cumulative_token_count).to.deep.equal({completion: 5, prompt: 7, total: 12})
    expect(finishedSummaryItem(span(), 'col', createdBy).cumulative_token_count).to.equal(null)
  })

  it('identifies batch lines by batch_run_id + line_number', () => {
    const batch = span({}, {line_run_id: undefined, batch_run_id: 'run-7', line_number: 4})
    delete batch.attributes.line_run_id
    expect(finishedSummaryItem(batch, 'run-7', createdBy)).to.include({
      batch_run_id: 'run-7',
      line_number: '4',
      line_run_id: null,
      partition_key: 'run-7',
    })
  })

  it('finds the line an evaluation line evaluated: base run + line number, else the referenced line run', () => {
    const batchEval = span(
      {},
      {
        batch_run_id: 'eval_1',
        line_number: 3,
        line_run_id: 'eval_1_3',
        'referenced.batch_run_id': 'base',
        'referenced.line_run_id': 'base_3',
      },
    )
    expect(mainLineOf(batchEval)).to.deep.equal({batchRunId: 'base', lineNumber: '3'})
    expect(mainLineQuery(mainLineOf(batchEval)!)).to.deep.equal({
      query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.batch_run_id = @run AND c.line_number = @line',
      parameters: [
        {name: '@run', value: 'base'},
        {name: '@line', value: '3'},
      ],
      partitionKey: 'base',
    })
    const traceEval = span({}, {'referenced.line_run_id': 'line-main'})
    expect(mainLineOf(traceEval)).to.deep.equal({lineRunId: 'line-main'})
    // Another flow test's line may live in any collection: no partition key, the query crosses partitions.
    expect(mainLineQuery(mainLineOf(traceEval)!)).to.deep.equal({
      query: 'SELECT c.id, c.partition_key, c.status FROM c WHERE c.line_run_id = @line',
      parameters: [{name: '@line', value: 'line-main'}],
    })
    // Not an evaluation, or not its root span: nothing to record.
    expect(mainLineOf(span())).to.equal(undefined)
    expect(mainLineOf(span({parent_id: 'c'.repeat(16)}, {'referenced.line_run_id': 'line-main'}))).to.equal(undefined)
    expect(mainLineOf(span({}, {batch_run_id: 'eval_1', line_run_id: 'eval_1_aggregation', 'referenced.batch_run_id': 'base'}))).to.equal(
      undefined,
    )
  })

  it('records an evaluation under the evaluation run (else the evaluation flow): add, the whole summary minus evaluations', () => {
    const batchEval = span(
      {name: 'grade', status: {status_code: 'Error'}},
      {
        batch_run_id: 'eval/1~x',
        line_number: 2,
        output: JSON.stringify({reason: 'y'.repeat(700), scores: [1, 2], detail: {a: 1}, ok: false}),
        'referenced.batch_run_id': 'base',
      },
    )
    delete batchEval.attributes.line_run_id
    expect(evaluationKey(batchEval)).to.equal('eval/1~x')
    const {evaluations, ...summary} = finishedSummaryItem(batchEval, 'eval/1~x', createdBy)
    expect(evaluations).to.deep.equal({})
    const patch = evaluationPatch(batchEval, 'eval/1~x', createdBy)
    // JSON Pointer: "~" → "~0", "/" → "~1".
    expect(patch).to.deep.equal([{op: 'add', path: '/evaluations/eval~11~0x', value: summary}])
    expect(patch[0].value).to.include({batch_run_id: 'eval/1~x', line_number: '2', line_run_id: null, status: 'Error', name: 'grade'})
    expect(patch[0].value.outputs).to.deep.equal({reason: 'y'.repeat(500), scores: '[...]', detail: '{...}', ok: false})
    expect(patch[0].value).not.to.have.property('evaluations')
    const traceEval = span({name: 'grade'}, {line_run_id: 'line-eval', 'referenced.line_run_id': 'line-main'})
    expect(evaluationKey(traceEval)).to.equal('grade')
    expect(evaluationPatch(traceEval, 'grade_oid-1', createdBy)[0].value).to.include({
      line_run_id: 'line-eval',
      batch_run_id: null,
      line_number: null,
      outputs: 'HI',
    })
  })

  it("sets the finished line's own fields over an existing item, keeping its evaluations (at most 10 operations)", () => {
    const child = span({parent_id: 'c'.repeat(16)})
    const finished = finishedSummaryItem(span(), 'col', createdBy)
    const patch = finishedSummaryPatch(finished)
    expect(patch.length).to.be.at.most(10)
    expect(patch.map(p => p.path)).not.to.include('/evaluations')
    // Applied to the placeholder, the patch gives the finished item, whatever evaluations it holds.
    const placeholder: Record<string, unknown> = {...runningSummaryItem(child, 'col', createdBy), evaluations: {eval_1: {outputs: {}}}}
    for (const op of patch) placeholder[op.path.slice(1)] = op.value
    expect(placeholder).to.deep.equal({...finished, evaluations: {eval_1: {outputs: {}}}})
  })

  it('makes Collection items (local location 0, epoch seconds)', () => {
    expect(collectionItem('c_1', 'c', createdBy, 1_700_000_000_500)).to.deep.equal({
      id: 'c_1',
      partition_key: 'c_1',
      name: 'c',
      created_at: 1_700_000_000,
      updated_at: 1_700_000_000,
      created_by: createdBy,
      location: 0,
    })
  })

  it('computes latency to the microsecond', () => {
    expect(secondsBetween('2026-01-01T00:00:59.999999Z', '2026-01-01T00:01:00.000001Z')).to.be.closeTo(0.000002, 1e-9)
    expect(secondsBetween('2026-01-01T00:00:00.5', '2026-01-01T00:00:01.25Z')).to.be.closeTo(0.75, 1e-9)
    expect(spanTimeMicros('2026-01-01T00:00:00.123456789Z') % 1_000_000).to.equal(123456)
    // Read in turns (the parsed second is remembered): each time still reads as itself.
    const times = ['2026-01-01T00:00:01.000002Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02.3', '2026-01-01T00:00:01.25Z']
    expect(times.map(spanTimeMicros)).to.deep.equal(
      times.map(t => Date.parse(t.slice(0, 19) + 'Z') * 1000 + [2, 0, 300_000, 250_000][times.indexOf(t)]),
    )
    expect(Number.isNaN(spanTimeMicros('not a time'))).to.equal(true)
  })
})

describe('azureml: write outcomes', () => {
  it('classifies per-item statuses', () => {
    expect(classifyStatus(201, true).code).to.equal('ok')
    expect(classifyStatus(200, false).code).to.equal('ok')
    expect(classifyStatus(409, true).code).to.equal('ok')
    expect(classifyStatus(409, false).code).to.equal('fatal')
    expect(classifyStatus(429, true, 700)).to.deep.include({code: 'retryable', retryAfterMs: 700})
    for (const status of [408, 410, 449, 500, 503]) expect(classifyStatus(status, true).code).to.equal('retryable')
    for (const status of [400, 403, 413]) expect(classifyStatus(status, true)).to.deep.include({code: 'fatal'})
  })

  it('groups operations into transactional batches: one partition key each, in order, ≤ 100 and ≤ 1.75 MB (bound)', () => {
    const op = (partitionKey: string, n: number, text = 'x') => ({
      op: {operationType: 'Create' as const, partitionKey, resourceBody: {id: `${partitionKey}-${n}`, text}},
    })
    const ids = (batches: Array<Array<ReturnType<typeof op>>>) => batches.map(b => b.map(p => p.op.resourceBody.id))
    expect(ids(batchesOf([op('a', 1), op('b', 1), op('a', 2), op('b', 2), op('c', 1)]))).to.deep.equal([
      ['a-1', 'a-2'],
      ['b-1', 'b-2'],
      ['c-1'],
    ])
    const many = Array.from({length: 250}, (_, i) => op('a', i))
    expect(batchesOf(many).map(b => b.length)).to.deep.equal([100, 100, 50])
    // 200k characters bound at ≈ 1.2 MB (6 bytes a code unit): two such items never share a batch.
    const big = 'y'.repeat(200_000)
    const sized = batchesOf([op('a', 1), op('a', 2, big), op('a', 3, big), op('a', 4)])
    expect(ids(sized)).to.deep.equal([
      ['a-1', 'a-2'],
      ['a-3', 'a-4'],
    ])
    for (const batch of sized) expect(batch.reduce((n, p) => n + jsonBytesBound(p.op.resourceBody), 0)).to.be.at.most(1.75 * 2 ** 20)
    // An item bounding above the cap on its own (its real size was checked against the 2 MB item limit) goes alone.
    expect(ids(batchesOf([op('a', 1), op('a', 2, 'z'.repeat(320_000)), op('a', 3)]))).to.deep.equal([['a-1'], ['a-2'], ['a-3']])
  })

  it('finds the container a Cosmos request addresses', () => {
    expect(containerOfPath('/dbs/db-1/colls/LineSummary/docs')).to.equal('LineSummary')
    expect(containerOfPath('dbs/db-1/colls/Span')).to.equal('Span')
    expect(containerOfPath('')).to.equal(undefined)
  })
})

describe('azureml: sign-in and control plane', () => {
  it('takes created_by from the token claims without verifying', () => {
    expect(createdByFromToken(fakeJwt({oid: 'o', tid: 't', upn: 'u@x', name: 'N'}))).to.deep.equal({
      object_id: 'o',
      tenant_id: 't',
      name: 'N',
    })
    expect(createdByFromToken(fakeJwt({oid: 'o', tid: 't', appid: 'app'}))).to.deep.equal({object_id: 'o', tenant_id: 't', name: 'app'})
    expect(createdByFromToken('not-a-jwt').object_id).to.equal('unknown')
  })

  it('uses ARM unless PF_ARM_ENDPOINT says otherwise; managed identity only when asked', () => {
    expect(armEndpoint({})).to.equal('https://management.azure.com')
    expect(armEndpoint({PF_ARM_ENDPOINT: 'http://127.0.0.1:9/'})).to.equal('http://127.0.0.1:9')
    expect(credentialModeOf(configReader({}))).to.equal('default')
    expect(credentialModeOf(configReader({azureml: {credential: 'managed_identity'}}))).to.equal('managed_identity')
  })

  it('derives the service base URL and workspace kind', () => {
    expect(serviceBaseUrlOf('https://eastus.api.azureml.ms/discovery', 'eastus')).to.equal('https://eastus.api.azureml.ms')
    expect(serviceBaseUrlOf(undefined, 'westus2')).to.equal('https://westus2.api.azureml.ms')
    expect(workspaceKindOf('Default')).to.equal('workspace')
    expect(workspaceKindOf('Project')).to.equal('project')
    expect(workspaceKindOf('hub')).to.equal('hub')
  })

  it('accepts a resource token as an object or as JSON inside a JSON string (single quotes too)', () => {
    const token = {
      accountEndpoint: 'https://a',
      databaseName: 'd',
      containerName: 'Span',
      resourceUrl: 'dbs/d/colls/Span',
      resourceToken: 'type=resource&sig=x',
    }
    expect(parseContainerToken(token)).to.deep.equal(token)
    expect(parseContainerToken(JSON.stringify(token))).to.deep.equal(token)
    expect(parseContainerToken(JSON.stringify(token).replace(/"/g, "'"))).to.deep.equal(token)
    expect(() => parseContainerToken({accountEndpoint: 'x'})).to.throw(/lacks databaseName/)
  })

  it('validates azureml.credential values', () => {
    const key = azuremlProvider.configKeys!.find(k => k.key === 'azureml.credential')!
    expect(key.parse!('managed_identity')).to.equal('managed_identity')
    expect(() => key.parse!('imds')).to.throw(/accepted: default, managed_identity/)
    expect(ControlPlane).to.be.a('function')
  })
})

describe('azureml: portal links', () => {
  const dest = (kind: 'workspace' | 'project') => ({
    scheme: 'azureml',
    value: 'azureml',
    key: 'k',
    workspace: {subscriptionId: 's', resourceGroup: 'r', workspaceName: 'w'},
    info: {kind, location: 'eastus', serviceBaseUrl: 'https://eastus.api.azureml.ms'},
    objectId: 'oid',
  })
  const wsid = '?wsid=/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w'

  it('links workspaces to ml.azure.com', async () => {
    expect(await azuremlProvider.links!(dest('workspace'), {collection: 'flow'})).to.deep.equal([
      `https://ml.azure.com/trace/collection/flow_oid/list${wsid}`,
    ])
    expect(await azuremlProvider.links!(dest('workspace'), {collection: 'flow', traceId: 't1'})).to.deep.equal([
      `https://ml.azure.com/trace/detail/t1${wsid}`,
      `https://ml.azure.com/trace/collection/flow_oid/list${wsid}`,
    ])
    expect(await azuremlProvider.links!(dest('workspace'), {collection: 'flow', run: 'run_1'})).to.deep.equal([
      `https://ml.azure.com/prompts/trace/run/run_1/details${wsid}`,
    ])
  })

  it('links projects to ai.azure.com', async () => {
    expect(await azuremlProvider.links!(dest('project'), {collection: 'flow', traceId: 't1'})).to.deep.equal([
      `https://ai.azure.com/projecttrace/detail/t1${wsid}`,
      `https://ai.azure.com/projecttrace/collection/flow_oid/list${wsid}`,
    ])
    expect(await azuremlProvider.links!(dest('project'), {collection: 'flow', run: 'run_1'})).to.deep.equal([
      `https://ai.azure.com/projectflows/trace/run/run_1/details${wsid}`,
    ])
  })
})
