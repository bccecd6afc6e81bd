import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {
  evaluationPatch,
  finishedSummaryItem,
  isAggregationSpan,
  referenceSpan,
  runningSummaryItem,
  spanBlobs,
  spanItem,
} from '../../src/destinations/azureml/cosmos-items.js'
import {datastoreUri} from '../../src/destinations/azureml/datastore.js'
import {repoRoot} from '../helpers/cli.js'

/** Items written by hand in the reference's shapes (test/fixtures/azureml-items/golden.json), compared field by field. */
const golden = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'azureml-items', 'golden.json'), 'utf8'))
const ws = {subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-test', workspaceName: golden.workspace}
const base = datastoreUri(ws, 'workspaceblobstore')
const createdBy = golden.items.Span[0].created_by
const collectionOf = (span: any) => String(span.attributes.batch_run_id)

/** Field by field, so a failure names the field. */
const expectFields = (actual: Record<string, unknown>, expected: Record<string, unknown>, what: string) => {
  expect(Object.keys(actual).sort(), `${what}: fields`).to.deep.equal(Object.keys(expected).sort())
  for (const key of Object.keys(expected)) expect(actual[key], `${what}.${key}`).to.deep.equal(expected[key])
}

describe('azureml: items identical to the reference (golden fixtures)', () => {
  const names = ['A', 'B', 'C', 'D']
  names.forEach((name, i) => {
    it(`Span item and blobs of span ${name} (${golden.spans[name].name})`, () => {
      const span = golden.spans[name]
      const ref = referenceSpan(span, collectionOf(span))
      expectFields(spanItem(ref, collectionOf(span), createdBy, base) as any, golden.items.Span[i], `Span ${name}`)
      for (const blob of spanBlobs(collectionOf(span), ref)) expect(JSON.parse(blob.body), blob.path).to.deep.equal(golden.blobs[blob.path])
      expect(spanBlobs(collectionOf(span), ref)).to.have.length(1 + span.events.length)
    })
  })

  it('LineSummary: Running placeholder, finished line, evaluation entry; none for an aggregation span', () => {
    const {A, B, C, D} = golden.spans
    expectFields(runningSummaryItem(B, 'run_1', createdBy) as any, golden.placeholderAfterB, 'placeholder')
    const [aSummary, cSummary] = golden.items.LineSummary
    const {eval_1: entry} = aSummary.evaluations
    expectFields(finishedSummaryItem(A, 'run_1', createdBy) as any, {...aSummary, evaluations: {}}, 'LineSummary A')
    expectFields(finishedSummaryItem(C, 'eval_1', createdBy) as any, cSummary, 'LineSummary C')
    expect(evaluationPatch(C, 'eval_1', createdBy)).to.deep.equal([{op: 'add', path: '/evaluations/eval_1', value: entry}])
    expect(isAggregationSpan(D)).to.equal(true)
    expect([A, B, C].some(isAggregationSpan)).to.equal(false)
  })
})
