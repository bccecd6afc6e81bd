import {expect} from 'chai'

// @ts-expect-error -- the bench is plain JavaScript with no declarations
import {median, promptflowTime, quantile} from '../../bench/lib.js'

describe("bench: the figures' statistics", () => {
  it('interpolates quantiles between the two nearest ranks, whatever the order given', () => {
    const values = [40, 10, 30, 20]
    expect(quantile(values, 0)).to.equal(10)
    expect(quantile(values, 1)).to.equal(40)
    expect(quantile(values, 0.25)).to.equal(17.5)
    expect(quantile(values, 0.75)).to.equal(32.5)
    expect(values).to.deep.equal([40, 10, 30, 20])
  })

  it('takes the median as the 0.5-quantile: the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).to.equal(2)
    expect(median([4, 1, 3, 2])).to.equal(2.5)
    expect(median([-7])).to.equal(-7)
  })

  it("writes prompt flow's times with microseconds", () => {
    expect(promptflowTime(Date.UTC(2026, 10, 26, 5, 30, 30, 123) + 0.4567)).to.equal('2026-11-26T05:30:30.123456Z')
    expect(promptflowTime(Date.UTC(2026, 10, 26))).to.equal('2026-11-26T00:00:00.000000Z')
  })
})
