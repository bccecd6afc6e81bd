import {expect} from 'chai'
import {closeSync, mkdtempSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import type {LoadedFlow} from '../../src/flow/types.js'
import {RunFiles, RunFolder} from '../../src/run/folder.js'
import {type LineEvent, LineRecorder} from '../../src/run/line-recorder.js'
import type {RunRecords} from '../../src/run/records.js'

const newFolder = () => RunFolder.create(path.join(mkdtempSync(path.join(os.tmpdir(), 'pf-run-records-')), 'run'))
const read = (folder: RunFolder, file: string) => readFileSync(path.join(folder.dir, file), 'utf8')
const lineNumbers = (folder: RunFolder, file: string) =>
  read(folder, file)
    .split('\n')
    .filter(Boolean)
    .map(row => JSON.parse(row).line_number)

describe('RunFolder.batch', () => {
  it('writes what the batch appended, file by file, in the order it was appended', () => {
    const folder = newFolder()
    folder.appendJson(RunFiles.outputs, {line_number: 0})
    folder.batch(() => {
      folder.log('Line 1: completed.')
      folder.appendJson(RunFiles.outputs, {line_number: 1})
      folder.appendJson(RunFiles.inputs, {line_number: 1})
      folder.appendJson(RunFiles.outputs, {line_number: 2})
      folder.log('Line 2: completed.')
    })
    expect(lineNumbers(folder, RunFiles.outputs)).to.deep.equal([0, 1, 2])
    expect(lineNumbers(folder, RunFiles.inputs)).to.deep.equal([1])
    expect(read(folder, RunFiles.logs)).to.match(/Line 1: completed\.\n.*Line 2: completed\.\n$/)
    folder.close()
  })

  it('writes nothing when the appends throw', () => {
    const folder = newFolder()
    expect(() =>
      folder.batch(() => {
        folder.appendJson(RunFiles.outputs, {line_number: 1})
        throw new Error('boom')
      }),
    ).to.throw('boom')
    expect(read(folder, RunFiles.outputs)).to.equal('')
    // Appends after a failed batch are written at once again.
    folder.appendJson(RunFiles.outputs, {line_number: 2})
    expect(lineNumbers(folder, RunFiles.outputs)).to.deep.equal([2])
    folder.close()
  })

  it('takes every file back to where the batch began when a write fails', () => {
    const folder = newFolder()
    folder.appendJson(RunFiles.inputs, {line_number: 0})
    folder.appendJson(RunFiles.outputs, {line_number: 0})
    // The log is written last (after inputs and outputs); its descriptor closed, its write fails.
    const files = (folder as unknown as {files: Map<string, {fd: number}>}).files
    closeSync(files.get(RunFiles.logs)!.fd)
    expect(() =>
      folder.batch(() => {
        folder.appendJson(RunFiles.inputs, {line_number: 1})
        folder.appendJson(RunFiles.outputs, {line_number: 1})
        folder.log('Line 1: completed.')
      }),
    ).to.throw()
    expect(lineNumbers(folder, RunFiles.inputs)).to.deep.equal([0])
    expect(lineNumbers(folder, RunFiles.outputs)).to.deep.equal([0])
    files.delete(RunFiles.logs)
    folder.close()
  })
})

describe('LineRecorder', () => {
  const flow = {dir: '/flow', aggregate: undefined} as unknown as LoadedFlow
  const records = {progress: () => {}} as unknown as RunRecords

  it('records the lines one span write lets through together, and counts a line once its records are written', async () => {
    const folder = newFolder()
    const batches: number[] = []
    const batch = folder.batch.bind(folder)
    folder.batch = appends => {
      const before = lineNumbers(folder, RunFiles.outputs).length
      batch(appends)
      batches.push(lineNumbers(folder, RunFiles.outputs).length - before)
    }
    let release!: () => void
    const stored = new Promise<void>(resolve => (release = resolve))
    const events: LineEvent[] = []
    const recorder = new LineRecorder('run', flow, 4, folder, records, {line: event => events.push(event)}, () => stored)
    for (const lineNumber of [0, 1, 2]) recorder.finish(lineNumber, {q: lineNumber}, {output: {a: lineNumber}, traceId: `t${lineNumber}`})
    await new Promise(resolve => setImmediate(resolve))
    // Nothing is written or counted before the spans are stored.
    expect(read(folder, RunFiles.outputs)).to.equal('')
    expect(events).to.have.length(0)
    release()
    await recorder.settle()
    expect(batches).to.deep.equal([3])
    expect(lineNumbers(folder, RunFiles.outputs)).to.deep.equal([0, 1, 2])
    expect(lineNumbers(folder, RunFiles.inputs)).to.deep.equal([0, 1, 2])
    expect(events.map(e => [e.lineNumber, e.done])).to.deep.equal([
      [0, 1],
      [1, 2],
      [2, 3],
    ])
    folder.close()
  })

  it('when a batch does not fit, records line by line the lines that do, then ends the run', async () => {
    const folder = newFolder()
    // A disk with room for two lines' records: a batch that would go past them fails whole (RunFolder.batch then
    // writes nothing, as when a write of it fails; that path is the test above).
    let room = 2
    let failures = 0
    let outputsInBatch = 0
    const appendJson = folder.appendJson.bind(folder)
    folder.appendJson = (file, value) => {
      if (file === RunFiles.outputs) outputsInBatch++
      appendJson(file, value)
    }
    const batch = folder.batch.bind(folder)
    folder.batch = appends => {
      outputsInBatch = 0
      batch(() => {
        appends()
        if (outputsInBatch > room) {
          failures++
          throw Object.assign(new Error('no space left on device'), {code: 'ENOSPC'})
        }
      })
      room -= outputsInBatch
    }
    let stoppedRun = 0
    const recorder = new LineRecorder(
      'run',
      flow,
      4,
      folder,
      records,
      {},
      () => Promise.resolve(),
      () => stoppedRun++,
    )
    for (const lineNumber of [0, 1, 2, 3])
      recorder.finish(lineNumber, {q: lineNumber}, {output: {a: lineNumber}, traceId: `t${lineNumber}`})
    const error = await recorder.settle().then(
      () => undefined,
      (e: Error) => e,
    )
    expect(failures).to.equal(2) // the batch of four, then line 2 alone
    expect(error?.message).to.match(/^Disk full/)
    expect(stoppedRun).to.equal(1)
    expect(lineNumbers(folder, RunFiles.outputs)).to.deep.equal([0, 1])
    expect(lineNumbers(folder, RunFiles.inputs)).to.deep.equal([0, 1])
    expect(recorder.done).to.equal(2)
    folder.close()
  })
})
