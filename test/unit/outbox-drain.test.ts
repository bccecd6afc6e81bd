import {expect} from 'chai'

import {TraceStore} from '../../src/store/store.js'
import {OutboxDrainer} from '../../src/tracing/outbox.js'
import type {ResolvedDestination} from '../../src/contract/destination.js'
import {tempDir} from '../helpers/cli.js'
import {makeSpan} from '../helpers/spans.js'

describe('outbox drainer', () => {
  it('leaves the event loop turns while a destination that is down answers at once (timers still run)', async () => {
    const store = TraceStore.open(tempDir('pf-drain-home-'))
    try {
      store.recordSpans(
        Array.from({length: 20}, () => makeSpan({parentId: 'ab'.repeat(8)})),
        ['dest'],
      )
      const destination = {key: 'dest', scheme: 'test', value: 'test://down'} as unknown as ResolvedDestination
      // Down: every batch is refused at once and may be retried at once, for the first 2,000 calls.
      let calls = 0
      const exporter = {
        export: async () => (++calls > 2000 ? {code: 'ok' as const} : {code: 'retryable' as const, reason: 'down', retryAfterMs: 0}),
      }
      const drainer = new OutboxDrainer(store, destination, () => exporter, {batchSize: 5})
      let callsWhenTimerRan = -1
      const timer = new Promise<void>(resolve =>
        setTimeout(() => {
          callsWhenTimerRan = calls
          resolve()
        }, 5),
      )
      drainer.kick()
      await timer
      const result = await drainer.drainUntil(Date.now() + 30_000)
      expect(result.pending).to.equal(0)
      // Without a turn of the event loop per batch the timer could only run once the 2,000 refusals were over.
      expect(callsWhenTimerRan).to.be.within(0, 500)
    } finally {
      store.close()
    }
  })
})
