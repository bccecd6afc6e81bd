import {expect} from 'chai'
import {cpSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {loadDagFlow} from '../../src/flow/dag.js'
import {repoRoot, tempDir} from '../helpers/cli.js'

const fixture = path.join(repoRoot, 'test', 'fixtures', 'flows', 'dag-basic')

/** A copy of dag-basic with its flow.dag.yaml replaced. */
const flowWith = (yaml: string, files: Record<string, string> = {}): {dir: string; file: string} => {
  const dir = path.join(tempDir('pf-dag-'), 'flow')
  mkdirSync(dir)
  cpSync(fixture, dir, {recursive: true})
  const file = path.join(dir, 'flow.dag.yaml')
  writeFileSync(file, yaml)
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return {dir, file}
}

const loadError = async (yaml: string, files?: Record<string, string>): Promise<{code: string; message: string}> => {
  const {dir, file} = flowWith(yaml, files)
  try {
    await loadDagFlow(dir, file)
  } catch (error) {
    return error as {code: string; message: string}
  }
  throw new Error('expected a load error')
}

const code = (name: string, inputs: string, extra = '') => `  - name: ${name}
    type: typescript
    source: {type: code, path: normalize.ts}
${extra}    inputs:
${inputs}
`

describe('DAG flow loading', () => {
  it('loads dag-basic: nodes, inputs, aggregation', async () => {
    const flow = await loadDagFlow(fixture, path.join(fixture, 'flow.dag.yaml'))
    expect(flow.kind).to.equal('dag')
    expect(flow.name).to.equal('dag-basic')
    expect(flow.nodes).to.deep.equal(['normalize', 'count_words', 'build_prompt', 'answer', 'average_words'])
    expect(Object.keys(flow.inputs)).to.deep.equal(['question', 'style', 'delay_ms'])
    expect(flow.aggregate).to.be.a('function')
  })

  it('runs code and prompt nodes alone and aggregates lines', async () => {
    const flow = await loadDagFlow(fixture, path.join(fixture, 'flow.dag.yaml'))
    expect(await flow.invoke({question: '  a   b  '}, {node: 'normalize'})).to.equal('a b')
    expect(await flow.invoke({text: 'x y z', delay_ms: 0}, {node: 'count_words'})).to.deep.equal({words: 3, chars: 5})
    expect(await flow.invoke({normalize: 'Why?'}, {node: 'build_prompt'})).to.equal('Answer in a brief way.\nQuestion: Why?\n')
    const agg = await flow.aggregate!([
      {inputs: {question: 'a b'}, output: {words: 2}},
      {inputs: {question: 'a b c d'}, output: {words: 4}},
    ]).catch((e: {code?: string}) => e)
    // Lines not produced by this flow object have no node outputs; count_words.output.words is not a flow output.
    expect((agg as {code?: string}).code).to.equal('aggregation_failed')
  })

  it('aggregation nodes run once over all lines (inputs become lists)', async () => {
    const {dir, file} = flowWith(`inputs:
  question: {type: string}
outputs:
  words:
    reference: \${count.output.words}
nodes:
  - name: count
    type: typescript
    source: {type: code, path: stats.ts}
    function: countWords
    inputs:
      text: \${inputs.question}
      delay_ms: 0
  - name: avg
    type: typescript
    source: {type: code, path: stats.ts}
    function: average
    aggregation: true
    inputs:
      counts: \${count.output.words}
`)
    const flow = await loadDagFlow(dir, file)
    const lines = []
    for (const question of ['a b', 'a b c d']) lines.push({inputs: {question}, output: await flow.invoke({question})})
    expect(lines.map(l => l.output)).to.deep.equal([{words: 2}, {words: 4}])
    expect(await flow.aggregate!(lines)).to.deep.equal({avg: {average_words: 3, lines: 2}})
  })

  it('rejects a cycle, naming the node', async () => {
    const err = await loadError(`inputs: {q: string}
nodes:
${code('a', '      text: ${b.output}')}${code('b', '      text: ${a.output}')}`)
    expect(err.code).to.equal('flow_invalid')
    expect(err.message).to.match(/node "a" is in a cycle: a -> b -> a/)
  })

  it('rejects a reference to an unknown node or input, naming the node', async () => {
    const node = await loadError(`inputs: {q: string}
nodes:
${code('a', '      text: ${missing.output}')}`)
    expect(node.message).to.contain('node "a" input "text" references unknown node "missing"')
    const input = await loadError(`inputs: {question: string}
nodes:
${code('a', '      text: ${inputs.questoin}')}`)
    expect(input.message).to.contain('node "a" input "text" references unknown flow input "questoin"; did you mean "question"?')
    const output = await loadError(`inputs: {q: string}
outputs:
  x:
    reference: \${nope.output}
nodes:
${code('a', '      text: ${inputs.q}')}`)
    expect(output.message).to.contain('output "x" references unknown node "nope"')
    const malformed = await loadError(`inputs: {q: string}
nodes:
${code('a', '      text: ${q}')}`)
    expect(malformed.message).to.contain('has reference ${q}')
  })

  it('rejects a missing node source, file or function', async () => {
    const noSource = await loadError(`nodes:
  - name: a
    type: typescript
`)
    expect(noSource.message).to.contain('node "a" has no source')
    const noFile = await loadError(`nodes:
  - name: a
    type: typescript
    source: {type: code, path: nothere.ts}
`)
    expect(noFile.message).to.contain('node "a" source nothere.ts not found')
    const noFunction = await loadError(`nodes:
  - name: a
    type: typescript
    source: {type: code, path: stats.ts}
    function: median
`)
    expect(noFunction.message).to.contain('node "a": stats.ts does not export a function "median"; it exports: average, countWords')
    const ambiguous = await loadError(`nodes:
  - name: a
    type: typescript
    source: {type: code, path: stats.ts}
`)
    expect(ambiguous.message).to.contain('several exported functions (average, countWords); name one with "function:"')
    const python = await loadError(`nodes:
  - name: a
    type: python
    source: {type: code, path: a.py}
`)
    expect(python.message).to.contain('node "a" is the Python tool a.py; pf runs it as a.ts (or .js) next to it')
    const noModel = await loadError(`nodes:
  - name: a
    type: llm
    source: {type: code, path: chat.jinja2}
`)
    expect(noModel.message).to.contain('node "a" needs a model')
    const badTemplate = await loadError(
      `nodes:
  - name: a
    type: prompt
    source: {type: code, path: bad.jinja2}
`,
      {'bad.jinja2': 'Hello {% if x %}'},
    )
    expect(badTemplate.message).to.match(/Node "a": template .*bad\.jinja2 does not compile/)
  })

  it('reports malformed YAML with file and line', async () => {
    const err = await loadError('inputs:\n  q: string\nnodes:\n  - name: a\n   type: bad indent\n')
    expect(err.code).to.equal('flow_invalid')
    expect(err.message).to.match(/flow\.dag\.yaml:5:\d+: not valid YAML/)
  })

  it('rejects duplicate node names and line nodes reading aggregation nodes', async () => {
    const dup = await loadError(`inputs: {q: string}
nodes:
${code('a', '      text: ${inputs.q}')}${code('a', '      text: ${inputs.q}')}`)
    expect(dup.message).to.contain('two nodes are named "a"')
    const agg = await loadError(`inputs: {q: string}
nodes:
${code('a', '      text: ${inputs.q}', '    aggregation: true\n')}${code('b', '      text: ${a.output}')}`)
    expect(agg.message).to.contain('node "b" input "text" references aggregation node "a"')
  })

  it('rejects bad variants, activate, additional_includes, environment and environment_variables, naming the field', async () => {
    const node = code('a', '      text: ${inputs.q}')
    const cases: Array<[string, string]> = [
      [
        `inputs: {q: string}\nnodes:\n  - name: v\n    use_variants: true\n`,
        'node "v" has "use_variants: true" but node_variants has no entry "v"',
      ],
      [
        `inputs: {q: string}\nnodes:\n  - name: v\n    use_variants: true\nnode_variants:\n  v:\n    variants: {}\n`,
        'node_variants.v needs "default_variant_id"',
      ],
      [
        `inputs: {q: string}\nnodes:\n  - name: v\n    use_variants: true\nnode_variants:\n  v:\n    default_variant_id: v0\n    variants: {v1: {node: {type: prompt}}}\n`,
        'node_variants.v has no variant "v0" with a "node"; its variants are: v1',
      ],
      [`inputs: {q: string}\nnodes:\n${node}node_variants: [1]\n`, '"node_variants" must be a mapping'],
      [
        `inputs: {q: string}\nnodes:\n${code('b', '      text: ${inputs.q}', '    activate: {when: yes}\n')}`,
        'node "b": "activate" needs "when" (a reference) and "is"',
      ],
      [`inputs: {q: string}\nnodes:\n${node}additional_includes: ../x\n`, '"additional_includes" must be a list of file or folder paths'],
      [`inputs: {q: string}\nnodes:\n${node}additional_includes: [../nope.txt]\n`, 'additional_includes entry ../nope.txt not found'],
      [`inputs: {q: string}\nnodes:\n${node}environment: requirements.txt\n`, '"environment" must be a mapping'],
      [`inputs: {q: string}\nnodes:\n${node}environment_variables: [A]\n`, '"environment_variables" must be a mapping'],
      [`inputs: {q: string}\nnodes:\n${code('b', '      text: ${a.output.x[y]}')}`, 'has reference ${a.output.x[y]}'],
    ]
    for (const [yaml, message] of cases) expect((await loadError(yaml)).message, yaml).to.contain(message)
  })

  it('accepts $schema and environment, warns about unknown top-level keys by name', async () => {
    const {dir, file} = flowWith(`$schema: https://azuremlschemas.azureedge.net/promptflow/latest/Flow.schema.json
environment: {python_requirements_txt: requirements.txt}
inputs: {q: string}
nodez: []
nodes:
${code('a', '      text: ${inputs.q}')}`)
    const flow = await loadDagFlow(dir, file)
    expect(flow.warnings).to.deep.equal([`${file}: unknown top-level key "nodez" ignored.`])
  })

  it('an output that cannot be stored as JSON, or a property of a non-object, is an error naming the node', async () => {
    const flowOf = (nodeFn: string, output: string) =>
      flowWith(
        `inputs:
  q: string
outputs:
  out:
    reference: ${output}
nodes:
  - name: odd
    type: typescript
    source: {type: code, path: odd.ts}
    function: ${nodeFn}
    inputs:
      q: \${inputs.q}
`,
        {
          'odd.ts':
            'export const big = () => ({n: 10n})\nexport const text = () => "plain"\nexport const cycle = () => { const o: any = {}; o.self = o; return o }\n',
        },
      )
    const failure = async (nodeFn: string, output: string): Promise<string | undefined> => {
      const {dir, file} = flowOf(nodeFn, output)
      const flow = await loadDagFlow(dir, file)
      return flow.invoke({q: 'x'}).then(
        () => undefined,
        e => (e as Error).message,
      )
    }
    expect(await failure('big', '${odd.output}')).to.match(/^Node "odd" returned a value that cannot be stored as JSON \(.*BigInt/)
    expect(await failure('cycle', '${odd.output}')).to.match(/^Node "odd" returned a value that cannot be stored as JSON \(.*circular/)
    expect(await failure('text', '${odd.output.deep.x}')).to.equal(
      '${odd.output.deep.x}: node "odd" output has no property "deep" (its output is string).',
    )
    expect(await failure('text', '${odd.output}')).to.equal(undefined)
  })
})
