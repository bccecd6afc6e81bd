import {expect} from 'chai'

import {TraceStore, claimDueSql} from '../../src/store/store.js'
import {tempDir} from '../helpers/cli.js'
import {makeSpan} from '../helpers/spans.js'

describe('outbox claims', () => {
  it('claim the oldest due items first, skipping claimed and backed-off ones, without sorting every pending row', () => {
    const store = TraceStore.open(tempDir('pf-claim-home-'))
    try {
      const batches = Array.from({length: 4}, () => Array.from({length: 50}, () => makeSpan({parentId: 'ab'.repeat(8)})))
      // Recorded one batch per millisecond at least: created_at orders the batches.
      for (const batch of batches) {
        const until = Date.now() + 2
        while (Date.now() < until);
        store.recordSpans(batch, ['dest'])
      }
      const first = store.claimOutbox('dest', 60, 60_000)
      expect(first.map(i => i.spanId).slice(0, 50)).to.have.members(batches[0].map(s => s.context.span_id))
      // The next claim skips what is claimed.
      const second = store.claimOutbox('dest', 60, 60_000)
      expect(second.map(i => i.spanId).filter(id => first.some(f => f.spanId === id))).to.deep.equal([])
      // Backed-off items wait; the rest comes in order.
      store.settleOutbox(
        'dest',
        first.map(i => ({traceId: i.traceId, spanId: i.spanId, outcome: 'retry' as const, retryAt: Date.now() + 60_000})),
      )
      const third = store.claimOutbox('dest', 200, 60_000)
      const claimedBefore = new Set([...first, ...second].map(i => i.spanId))
      const rest = batches.flat().filter(s => !claimedBefore.has(s.context.span_id))
      expect(third.map(i => i.spanId)).to.have.members(rest.map(s => s.context.span_id))
      expect(third.slice(-50).map(i => i.spanId)).to.have.members(batches[3].map(s => s.context.span_id))

      const plan = (store.db.prepare('EXPLAIN QUERY PLAN ' + claimDueSql).all('dest', 0, 0, 100) as Array<{detail: string}>).map(
        r => r.detail,
      )
      expect(plan.join('\n')).to.contain('outbox_claim_order')
      expect(
        plan.filter(line => line.includes('TEMP B-TREE')),
        plan.join('\n'),
      ).to.deep.equal([])
    } finally {
      store.close()
    }
  })
})
