import {expect} from 'chai'

import {runConcurrently} from '../../src/run/executor.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

describe('runConcurrently', () => {
  it('keeps at most `workers` items in flight and pulls the stream only when a slot is free', async () => {
    let pulled = 0
    let done = 0
    let inFlight = 0
    let maxInFlight = 0
    let maxAhead = 0
    async function* items() {
      for (let i = 0; i < 50; i++) {
        pulled++
        maxAhead = Math.max(maxAhead, pulled - done)
        yield i
      }
    }
    const seen: number[] = []
    const result = await runConcurrently(items(), 4, async i => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await sleep(1 + (i % 3))
      seen.push(i)
      inFlight--
      done++
    })
    expect(result).to.deep.equal({canceled: false, abandoned: 0})
    expect(seen.sort((a, b) => a - b)).to.deep.equal(Array.from({length: 50}, (_, i) => i))
    expect(maxInFlight).to.equal(4)
    expect(maxAhead).to.be.at.most(4)
  })

  it('on abort starts nothing new, waits for lines in flight within the grace, and reports the abandoned ones', async () => {
    const controller = new AbortController()
    const started: number[] = []
    const finished: number[] = []
    async function* items() {
      for (let i = 0; ; i++) yield i
    }
    const run = runConcurrently(
      items(),
      2,
      async i => {
        started.push(i)
        // Line 3 never finishes in time (its timer does not hold the test process open after the run).
        await (i === 3 ? new Promise(resolve => setTimeout(resolve, 10_000).unref()) : sleep(20))
        finished.push(i)
      },
      {signal: controller.signal, graceMs: 100},
    )
    await sleep(50)
    controller.abort()
    const t0 = Date.now()
    const result = await run
    expect(Date.now() - t0).to.be.below(1000)
    expect(result.canceled).to.equal(true)
    const startedAtAbort = started.length
    await sleep(60)
    expect(started.length).to.equal(startedAtAbort)
    expect(result.abandoned).to.equal(started.length - finished.length)
  })
})
