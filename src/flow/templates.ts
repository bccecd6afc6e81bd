import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../errors.js'

/** `pf flow init --type`: flex (a TypeScript function), standard (a DAG flow), evaluation (a DAG flow with metrics). */
export const flowTypes = ['flex', 'standard', 'evaluation'] as const
export type FlowType = (typeof flowTypes)[number]

export interface InitOptions {
  type: FlowType
  /** Entry module file name (flex) or code node file (DAG), without or with `.ts`. */
  entry?: string
  /** Exported function name. */
  function?: string
  /** Replace files that already exist. */
  overwrite?: boolean
}

export interface InitResult {
  flow: string
  type: FlowType
  files: string[]
}

const identifier = /^[A-Za-z_$][\w$]*$/
const moduleName = /^[A-Za-z0-9_][\w.-]*$/

/** Writes a new flow folder from a template; refuses to replace an existing file unless `overwrite`. */
export const initFlow = (dir: string, options: InitOptions): InitResult => {
  const flowDir = path.resolve(dir)
  const module = (options.entry ?? (options.type === 'evaluation' ? 'grade' : 'flow')).replace(/\.ts$/, '')
  const fn = options.function ?? (options.type === 'evaluation' ? 'grade' : options.type === 'flex' ? 'answer' : 'clean')
  if (!moduleName.test(module) || module.includes('..'))
    throw new PfError('invalid_arguments', `--entry "${options.entry}" is not a file name in the flow folder; e.g. --entry flow.ts.`)
  if (!identifier.test(fn))
    throw new PfError('invalid_arguments', `--function "${fn}" is not a TypeScript function name; e.g. --function answer.`)
  const files = templates[options.type](module, fn)
  const existing = Object.keys(files).filter(f => existsSync(path.join(flowDir, f)))
  if (existing.length > 0 && !options.overwrite)
    throw new PfError(
      'invalid_path',
      `${flowDir} already has ${existing.join(', ')}; pass --yes to replace them, or choose another --flow folder.`,
    )
  mkdirSync(flowDir, {recursive: true})
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(flowDir, name), text)
  return {flow: flowDir, type: options.type, files: Object.keys(files)}
}

const templates: Record<FlowType, (module: string, fn: string) => Record<string, string>> = {
  flex: (module, fn) => ({
    'flow.flex.yaml': `# A flex flow: the entry is a TypeScript function, called with one object of inputs.
entry: ${module}:${fn}
inputs:
  question:
    type: string
sample:
  question: What does this flow do?
`,
    [`${module}.ts`]: `import {trace} from 'pf/sdk'

// Functions wrapped in trace() are spans under the flow's root span.
const normalize = trace(function normalize(text: string): string {
  return text.trim().replace(/\\s+/g, ' ')
})

export async function ${fn}({question}: {question: string}) {
  const cleaned = normalize(question)
  return {answer: \`You asked: \${cleaned}\`}
}
`,
    'data.jsonl': '{"question": "What is a flex flow?"}\n{"question": "  How are   spans recorded?  "}\n',
  }),
  standard: (module, fn) => ({
    'flow.dag.yaml': `# A DAG flow: a TypeScript node cleans the question, a prompt node renders a Jinja2 template with it.
# Add an llm node (type: llm, connection: <name>) to call a model; see the README.
inputs:
  question:
    type: string
    default: What is a DAG flow?
outputs:
  prompt:
    reference: \${build_prompt.output}
nodes:
  - name: ${fn}
    type: typescript
    source:
      type: code
      path: ${module}.ts
    function: ${fn}
    inputs:
      text: \${inputs.question}
  - name: build_prompt
    type: prompt
    source:
      type: code
      path: prompt.jinja2
    inputs:
      question: \${${fn}.output}
`,
    [`${module}.ts`]: `export function ${fn}({text}: {text: string}): string {
  return text.trim().replace(/\\s+/g, ' ')
}
`,
    'prompt.jinja2': `# system:
You answer questions briefly.

# user:
{{question}}
`,
    'data.jsonl': '{"question": "What is a DAG flow?"}\n{"question": "  Which nodes   run first?  "}\n',
  }),
  evaluation: (module, fn) => ({
    'flow.dag.yaml': `# An evaluation flow: grades each line; the aggregation node logs the accuracy metric over all lines.
# pf run create --flow . --data data.jsonl --run <base run> --column-mapping answer='\${run.outputs.answer}' expected='\${data.expected}'
inputs:
  answer:
    type: string
  expected:
    type: string
outputs:
  correct:
    reference: \${${fn}.output}
nodes:
  - name: ${fn}
    type: typescript
    source:
      type: code
      path: ${module}.ts
    function: ${fn}
    inputs:
      answer: \${inputs.answer}
      expected: \${inputs.expected}
  - name: accuracy
    type: typescript
    source:
      type: code
      path: ${module}.ts
    function: accuracy
    aggregation: true
    inputs:
      grades: \${${fn}.output}
`,
    [`${module}.ts`]: `import {logMetric} from 'pf/sdk'

export function ${fn}({answer, expected}: {answer: string; expected: string}): boolean {
  return answer.trim().toLowerCase() === expected.trim().toLowerCase()
}

// An aggregation node gets every line's value as a list.
export function accuracy({grades}: {grades: boolean[]}) {
  const value = grades.filter(Boolean).length / grades.length
  logMetric('accuracy', value)
  return {accuracy: value}
}
`,
    'data.jsonl': '{"answer": "Paris", "expected": "paris"}\n{"answer": "Lyon", "expected": "Paris"}\n',
  }),
}
