import {expect} from 'chai'

import {masked, maskSecrets} from '../../src/tracing/masking.js'
import {toJsonAttribute} from '../../src/tracing/span-io.js'

const bearer = 'Bearer abcdefghijklmnop1234'
const openaiKey = 'sk-' + 'a'.repeat(24)

describe('span attribute JSON: secrets masked while serializing', () => {
  it('masks values under secret-looking names at any depth, and secret-looking strings anywhere', () => {
    const value = {
      model: 'gpt-4o',
      api_key: openaiKey,
      headers: {Authorization: bearer, 'x-request-id': 'r1'},
      messages: [{role: 'user', content: `use ${openaiKey} please`}, bearer],
      nested: {deeper: {accessToken: {any: 'object'}, max_tokens: 100}},
      empty: {password: '', token: null},
    }
    expect(JSON.parse(toJsonAttribute(value))).to.deep.equal({
      model: 'gpt-4o',
      api_key: masked,
      headers: {Authorization: masked, 'x-request-id': 'r1'},
      messages: [{role: 'user', content: `use ${masked} please`}, `Bearer ${masked}`],
      nested: {deeper: {accessToken: masked, max_tokens: 100}},
      empty: {password: '', token: null},
    })
  })

  it('writes what the masked copy wrote for errors, functions, dates and top-level values', () => {
    const values: unknown[] = [
      new Error(`failed with ${openaiKey}`),
      {callback: function named() {}, arrow: () => 1},
      function topLevel() {},
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      undefined,
      null,
      'plain',
      bearer,
      [1, undefined, 'two'],
      {skipped: undefined, kept: 0},
      new Map([['a', 1]]),
    ]
    for (const value of values) expect(toJsonAttribute(value), String(value)).to.equal(JSON.stringify(maskSecrets(value) ?? null))
    // Boxed values are written as their primitive (the masked copy wrote a String's characters one by one).
    expect(JSON.parse(toJsonAttribute({boxed: new String(bearer), count: new Number(3)}))).to.deep.equal({
      boxed: `Bearer ${masked}`,
      count: 3,
    })
    // A value referenced twice is written twice (the masked copy wrote the second as a cycle).
    const shared = {a: 1}
    expect(JSON.parse(toJsonAttribute({first: shared, second: shared}))).to.deep.equal({first: {a: 1}, second: {a: 1}})
    expect(JSON.parse(toJsonAttribute(new Error(`failed with ${openaiKey}`)))).to.deep.equal({
      type: 'Error',
      message: `failed with ${masked}`,
    })
  })

  it('names a cycle instead of failing, and keeps secrets masked there too', () => {
    const value: Record<string, unknown> = {token: 'secret-value', text: bearer}
    value.self = value
    expect(JSON.parse(toJsonAttribute(value))).to.deep.equal({token: masked, text: `Bearer ${masked}`, self: '[circular]'})
  })

  it('masks what an object gives through toJSON', () => {
    const value = {custom: {toJSON: () => ({apiKey: openaiKey, note: bearer})}}
    expect(JSON.parse(toJsonAttribute(value))).to.deep.equal({custom: {apiKey: masked, note: `Bearer ${masked}`}})
  })
})
