import {expect} from 'chai'

import {TimeOrderedIdGenerator} from '../../src/tracing/trace-ids.js'

const timeOf = (traceId: string) => Number.parseInt(traceId.slice(0, 12), 16)

describe('trace ids of pf tracer (time first, then random)', () => {
  it('makes valid W3C ids: 32 / 16 lowercase hex digits, never all zeros', () => {
    const ids = new TimeOrderedIdGenerator()
    for (let i = 0; i < 2000; i++) {
      expect(ids.generateTraceId()).to.match(/^[0-9a-f]{32}$/)
      const spanId = ids.generateSpanId()
      expect(spanId).to.match(/^[0-9a-f]{16}$/)
      expect(spanId).to.not.equal('0'.repeat(16))
    }
  })

  it('starts a trace id with the milliseconds of its creation, so later traces sort after earlier ones', async () => {
    const ids = new TimeOrderedIdGenerator()
    const before = Date.now()
    const first = ids.generateTraceId()
    const after = Date.now()
    expect(timeOf(first)).to.be.within(before, after)
    await new Promise(resolve => setTimeout(resolve, 5))
    const later = ids.generateTraceId()
    expect(later > first).to.equal(true)
  })

  it('keeps the rest of a trace id and the whole span id random: no repeats in 50,000, every byte value seen', () => {
    const ids = new TimeOrderedIdGenerator()
    const traces = new Set<string>()
    const spans = new Set<string>()
    const lastBytes = new Set<string>()
    for (let i = 0; i < 50_000; i++) {
      const traceId = ids.generateTraceId()
      traces.add(traceId)
      lastBytes.add(traceId.slice(-2))
      spans.add(ids.generateSpanId())
    }
    expect(traces.size).to.equal(50_000)
    expect(spans.size).to.equal(50_000)
    expect(lastBytes.size).to.equal(256)
  })
})
