import {expect} from 'chai'

import {Attr} from '../../src/contract/attributes.js'
import {masked} from '../../src/tracing/masking.js'
import {TokenRollup, maskAttributes} from '../../src/tracing/span-record.js'

const usage = (prompt: number, completion: number) => ({
  [Attr.usagePrompt]: prompt,
  [Attr.usageCompletion]: completion,
  [Attr.usageTotal]: prompt + completion,
})

describe('span record: the attributes pf stores', () => {
  it("rolls token counts up to the parent as children finish first, and writes them under prompt flow's names", () => {
    const tokens = new TokenRollup()
    const first = tokens.cumulative('c1', 'root', usage(5, 6))
    const second = tokens.cumulative('c2', 'root', usage(1, 2))
    const root = tokens.cumulative('root', null, {})
    expect([first, second, root]).to.deep.equal([
      {prompt: 5, completion: 6, total: 11},
      {prompt: 1, completion: 2, total: 3},
      {prompt: 6, completion: 8, total: 14},
    ])
    // A span without usage below nothing has no counts (not zeros).
    expect(tokens.cumulative('lonely', null, {})).to.equal(undefined)
    const stored = maskAttributes({name: 'x'}, root)
    expect(stored).to.deep.equal({
      name: 'x',
      [Attr.cumulativeCompletion]: 8,
      [Attr.cumulativePrompt]: 6,
      [Attr.cumulativeTotal]: 14,
    })
  })

  it("masks secret-named and secret-looking strings in the copy, and leaves the span's own attributes as they were", () => {
    const raw = {api_key: 'abc', note: 'Bearer abcdefghijklmnop1234', [Attr.usageTotal]: 3, max_tokens: 10}
    const stored = maskAttributes(raw, {prompt: 1, completion: 2, total: 3})
    expect(stored.api_key).to.equal(masked)
    expect(stored.note).to.equal(`Bearer ${masked}`)
    expect(stored.max_tokens).to.equal(10)
    expect(stored[Attr.cumulativeTotal]).to.equal(3)
    expect(raw.api_key).to.equal('abc')
  })
})
