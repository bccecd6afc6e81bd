import {expect} from 'chai'

import {PfError} from '../../src/errors.js'
import type {LoadedFlow} from '../../src/flow/types.js'
import {applyMapping, buildMapping, mappingText, parseMappingFlags} from '../../src/run/mapping.js'

const flow = (inputs: LoadedFlow['inputs']): LoadedFlow => ({kind: 'flex', dir: '/f', file: '/f/flow.flex.yaml', name: 'f', inputs, invoke: async () => null})

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
    expect(mappingText(mapping)).to.deep.equal({context: '${data.doc.text}', answer: '${run.outputs.answer}', mode: 'strict', question: '${data.question}'})
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
    expect(errorOf(() => buildMapping(f, {question: '${data.a} and ${data.b}'}, {data: ['a', 'b']})).code).to.equal('invalid_column_mapping')
    expect(errorOf(() => buildMapping(f, {question: '${run.outputs.x}'}, {data: []})).message).to.contain('pass --run')
    expect(errorOf(() => parseMappingFlags(['=x'])).code).to.equal('invalid_column_mapping')
    expect(parseMappingFlags(['q=${data.a=b}'])).to.deep.equal({q: '${data.a=b}'})
  })
})
