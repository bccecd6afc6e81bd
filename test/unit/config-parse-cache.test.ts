import {expect} from 'chai'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {readConfigFile} from '../../src/config/files.js'
import {parseCached} from '../../src/config/parse-cache.js'
import {tempDir} from '../helpers/cli.js'

describe('config: parsed pf.yaml kept by its text', () => {
  const homeBefore = process.env.PF_HOME_DIRECTORY
  let home: string
  beforeEach(() => {
    home = tempDir('pf-home-')
    process.env.PF_HOME_DIRECTORY = home
  })
  after(() => {
    process.env.PF_HOME_DIRECTORY = homeBefore
  })

  const counting = (value: unknown) => {
    const parse = async () => {
      parse.calls++
      return structuredClone(value)
    }
    parse.calls = 0
    return parse
  }
  const cacheFile = () => path.join(home, 'cache', 'config.json')

  it('parses a text once; the same text again comes from the cache (user-only), another text is parsed', async () => {
    const parse = counting({trace: {destination: 'local'}})
    expect(await parseCached('a: 1\n', parse)).to.deep.equal({trace: {destination: 'local'}})
    expect(await parseCached('a: 1\n', parse)).to.deep.equal({trace: {destination: 'local'}})
    expect(parse.calls).to.equal(1)
    expect(statSync(cacheFile()).mode & 0o777).to.equal(0o600)
    expect(statSync(path.dirname(cacheFile())).mode & 0o777).to.equal(0o700)
    await parseCached('a: 2\n', parse)
    expect(parse.calls).to.equal(2)
    await parseCached('a: 1\n', parse)
    expect(parse.calls, 'both texts kept').to.equal(2)
  })

  it('keeps both of two texts parsed at once in one process (the user pf.yaml and the project one)', async () => {
    const slow = (value: unknown) => async () => (await new Promise(resolve => setTimeout(resolve, 5)), value)
    await Promise.all([parseCached('a: 1\n', slow({a: 1})), parseCached('b: 2\n', slow({b: 2}))])
    const parse = counting({})
    expect(await parseCached('a: 1\n', parse)).to.deep.equal({a: 1})
    expect(await parseCached('b: 2\n', parse)).to.deep.equal({b: 2})
    expect(parse.calls).to.equal(0)
  })

  it('keeps only what JSON holds exactly (a YAML date is parsed again each time)', async () => {
    const parse = counting({when: new Date(0)})
    await parseCached('when: 1970-01-01\n', parse)
    const again = await parseCached('when: 1970-01-01\n', parse)
    expect(parse.calls).to.equal(2)
    expect(again).to.deep.equal({when: new Date(0)})
  })

  it('ignores a cache file it cannot read, and writes a good one', async () => {
    await parseCached('a: 1\n', counting({a: 1}))
    writeFileSync(cacheFile(), '{not json')
    const parse = counting({a: 1})
    expect(await parseCached('a: 1\n', parse)).to.deep.equal({a: 1})
    expect(parse.calls).to.equal(1)
    expect(JSON.parse(readFileSync(cacheFile(), 'utf8')).entries).to.have.length(1)
  })

  it('keeps the 8 texts parsed last', async () => {
    for (let i = 0; i < 10; i++) await parseCached(`a: ${i}\n`, counting({a: i}))
    const texts = (JSON.parse(readFileSync(cacheFile(), 'utf8')).entries as Array<[string, unknown]>).map(([text]) => text)
    expect(texts).to.deep.equal([9, 8, 7, 6, 5, 4, 3, 2].map(i => `a: ${i}\n`))
  })

  it('reads an edited pf.yaml as it is now, and still checks a cached value', async () => {
    const file = path.join(tempDir('pf-project-'), 'pf.yaml')
    writeFileSync(file, 'trace:\n  destination: local\n')
    expect(await readConfigFile(file)).to.deep.equal({trace: {destination: 'local'}})
    writeFileSync(file, 'trace:\n  destination: none\n')
    expect(await readConfigFile(file)).to.deep.equal({trace: {destination: 'none'}})
    // A text parsed (and cached) while it was only read for repair is still validated when read normally.
    writeFileSync(file, 'trace:\n  export_wait: soon\n')
    expect(await readConfigFile(file, {validate: false})).to.deep.equal({trace: {export_wait: 'soon'}})
    let error: unknown
    await readConfigFile(file).catch(caught => (error = caught))
    expect(error, 'validated from the cache too').to.be.instanceOf(Error)
  })
})
