import {existsSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {type DataLine, openData} from '../../src/run/data.js'
import {RunFolder} from '../../src/run/folder.js'
import {tempDir} from '../helpers/cli.js'

const read = async (lines: AsyncIterable<DataLine>): Promise<DataLine[]> => {
  const out: DataLine[] = []
  for await (const line of lines) out.push(line)
  return out
}

describe('run data: what a run reads', () => {
  it('a small file runs the records its check read; a second reader, or a large file, reads the file again', async () => {
    const small = path.join(tempDir(), 'small.jsonl')
    writeFileSync(small, '{"q": "a"}\n\n{"q": "b"}\n')
    const data = await openData(small)
    expect(data.total).to.equal(2)
    // Edited after the check: the run still gets what was checked (kept from the first read) …
    writeFileSync(small, '{"q": "edited"}\n{"q": "b"}\n')
    expect(await read(data.lines())).to.deep.equal([
      {lineNumber: 0, row: {q: 'a'}},
      {lineNumber: 1, row: {q: 'b'}},
    ])
    // … and only once: another reader streams the file.
    expect((await read(data.lines()))[0].row).to.deep.equal({q: 'edited'})

    // Over 1 MiB nothing is kept: the first reader already streams.
    const large = path.join(tempDir(), 'large.jsonl')
    const row = JSON.stringify({q: 'x'.repeat(1000)})
    writeFileSync(large, Array.from({length: 1100}, () => row).join('\n') + '\n')
    const big = await openData(large)
    expect(big.total).to.equal(1100)
    writeFileSync(large, '{"q": "edited"}\n' + Array.from({length: 1099}, () => row).join('\n') + '\n')
    const lines = await read(big.lines())
    expect(lines).to.have.length(1100)
    expect(lines[0].row).to.deep.equal({q: 'edited'})
  })
})

describe('run folder', () => {
  it('a folder whose run could not be recorded is removed whole', () => {
    const dir = path.join(tempDir(), 'runs', 'run_1')
    const folder = RunFolder.create(dir)
    expect(existsSync(path.join(dir, 'outputs.jsonl'))).to.equal(true)
    folder.discard()
    expect(existsSync(dir)).to.equal(false)
  })
})
