import {expect} from 'chai'

import type {PfError} from '../../src/errors.js'
import type {LoadedFlow} from '../../src/flow/types.js'
import {applyMapping, buildMapping, mappingText, parseMappingFlags} from '../../src/run/mapping.js'

const flow = (inputs: LoadedFlow['inputs']): LoadedFlow => ({
  kind: 'flex',
  dir: '/f',
  file: '/f/flow.flex.yaml',
  name: 'f',
  inputs,
  invoke: async () => null,
})

const errorOf = (fn: () => unknown): PfError => {
  try {
    fn()
  } catch (error) {
    return error as PfError
  }
  throw new Error('expected an error')
}

describe('column mapping', () => {
  it('maps given entries, defaults the rest by name, keeps constants, digs into nested values', () => {
    const mapping = buildMapping(
      flow({question: {type: 'string'}, context: {type: 'string'}, k: {type: 'int', default: 3}, answer: {type: 'string'}, mode: {}}),
      {context: '${data.doc.text}', answer: '${run.outputs.answer}', mode: 'strict'},
      {data: ['question', 'doc'], baseRun: {name: 'b', outputs: ['answer'], inputs: []}},
    )
    expect(mappingText(mapping)).to.deep.equal({
      context: '${data.doc.text}',
      answer: '${run.outputs.answer}',
      mode: 'strict',
      question: '${data.question}',
    })
    expect(applyMapping(mapping, {question: 'q', doc: {text: 't'}}, {inputs: {}, outputs: {answer: 'a'}})).to.deep.equal({
      context: 't',
      answer: 'a',
      mode: 'strict',
      question: 'q',
    })
  })

  it('names the missing column, suggests a near one, and rejects malformed references', () => {
    const f = flow({question: {type: 'string'}})
    const missing = errorOf(() => buildMapping(f, {question: '${data.questoin}'}, {dataFile: 'd.jsonl', data: ['question']}))
    expect(missing.code).to.equal('unknown_column')
    expect(missing.message).to.contain('"questoin"').and.contain('did you mean "question"')
    expect(errorOf(() => buildMapping(f, {}, {data: ['text']})).details).to.deep.equal({column: 'question'})
    expect(errorOf(() => buildMapping(f, {question: '${data.a} and ${data.b}'}, {data: ['a', 'b']})).code).to.equal(
      'invalid_column_mapping',
    )
    expect(errorOf(() => buildMapping(f, {question: '${run.outputs.x}'}, {data: []})).message).to.contain('pass --run')
    expect(errorOf(() => parseMappingFlags(['=x'])).code).to.equal('invalid_column_mapping')
    expect(parseMappingFlags(['q=${data.a=b}'])).to.deep.equal({q: '${data.a=b}'})
  })
})

describe('data columns and missing values', () => {
  it('columns are every key of any line; a line lacking an explicitly mapped column fails alone, naming its line', async () => {
    const {openData} = await import('../../src/run/data.js')
    const {writeFileSync} = await import('node:fs')
    const {tempDir} = await import('../helpers/cli.js')
    const file = `${tempDir()}/data.jsonl`
    // prompt flow's chat-with-pdf data: only some lines have "language".
    writeFileSync(file, '{"question": "q0"}\n{"question": "q1", "language": "fr"}\n{"question": "q2"}\n')
    const data = await openData(file)
    expect(data.columns).to.deep.equal(['question', 'language'])
    const inputs = flow({question: {type: 'string'}, language: {type: 'string', default: 'en'}})
    const byName = buildMapping(inputs, {}, {data: data.columns})
    expect(applyMapping(byName, {question: 'q1', language: 'fr'}, undefined, 1)).to.deep.equal({question: 'q1', language: 'fr'})
    // Taken by name: a line without it gets the input's default (no value here; resolveInputs applies it).
    expect(applyMapping(byName, {question: 'q0'}, undefined, 0)).to.deep.equal({question: 'q0'})
    const explicit = buildMapping(inputs, {language: '${data.language}'}, {data: data.columns})
    const error = errorOf(() => applyMapping(explicit, {question: 'q2'}, undefined, 2))
    expect(error.code).to.equal('missing_column')
    expect(error.message).to.equal('Line 2 has no column "language" (input "language" is mapped to ${data.language}); other lines have it.')
  })
})
