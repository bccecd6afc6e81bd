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

describe('outbox settling', () => {
  it('a delivered item leaves the outbox and is counted for its destination; retried and parked ones stay', () => {
    const store = TraceStore.open(tempDir('pf-settle-home-'))
    try {
      const spans = Array.from({length: 6}, () => makeSpan({parentId: 'ab'.repeat(8)}))
      store.recordSpans(spans, ['a', 'b'])
      const claimed = store.claimOutbox('a', 10, 60_000)
      const outcome = (i: number) => (i < 4 ? 'delivered' : i === 4 ? 'retry' : 'parked') as 'delivered' | 'retry' | 'parked'
      store.settleOutbox(
        'a',
        claimed.map((item, i) => ({traceId: item.traceId, spanId: item.spanId, outcome: outcome(i), retryAt: Date.now() + 60_000})),
      )
      // Settling an item that is gone (delivered twice, or its trace deleted meanwhile) counts nothing.
      store.settleOutbox('a', [{traceId: claimed[0].traceId, spanId: claimed[0].spanId, outcome: 'delivered'}])
      expect(store.outboxCounts()).to.deep.equal([
        {destination: 'a', pending: 1, parked: 1, delivered: 4},
        {destination: 'b', pending: 6, parked: 0, delivered: 0},
      ])
      const rows = store.db.prepare(`SELECT state, COUNT(*) AS n FROM outbox WHERE destination = 'a' GROUP BY state`).all()
      expect(rows).to.deep.equal([
        {state: 'parked', n: 1},
        {state: 'pending', n: 1},
      ])
      // A destination with nothing left waiting still shows what it was sent.
      const b = store.claimOutbox('b', 10, 60_000)
      store.settleOutbox(
        'b',
        b.map(item => ({traceId: item.traceId, spanId: item.spanId, outcome: 'delivered' as const})),
      )
      expect(store.outboxCounts('b')).to.deep.equal([{destination: 'b', pending: 0, parked: 0, delivered: 6}])
    } finally {
      store.close()
    }
  })

  it('a store from before migration 8 keeps its delivered counts, loses its delivered rows and the outbox_due index', () => {
    const home = tempDir('pf-migrate-home-')
    const store = TraceStore.open(home)
    const spans = Array.from({length: 5}, () => makeSpan({parentId: 'ab'.repeat(8)}))
    store.recordSpans(spans, ['a'])
    // Back to schema 7, with three rows delivered the old way.
    store.db.exec(`DROP TABLE outbox_delivered; CREATE INDEX outbox_due ON outbox (destination, state, next_attempt_at)`)
    const ids = spans.slice(0, 3).map(s => s.context.span_id)
    store.db.prepare(`UPDATE outbox SET state = 'delivered' WHERE span_id IN (?, ?, ?)`).run(...ids)
    store.db.pragma('user_version = 7')
    store.close()

    const migrated = TraceStore.open(home)
    try {
      expect(migrated.outboxCounts()).to.deep.equal([{destination: 'a', pending: 2, parked: 0, delivered: 3}])
      expect(migrated.db.prepare(`SELECT COUNT(*) FROM outbox WHERE state = 'delivered'`).pluck().get()).to.equal(0)
      const indexes = migrated.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'`).pluck().all()
      expect(indexes).to.include('outbox_claim_order').and.not.include('outbox_due')
    } finally {
      migrated.close()
    }
  })
})
