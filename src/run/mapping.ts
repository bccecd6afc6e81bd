import {closest} from 'fastest-levenshtein'

import {PfError} from '../errors.js'
import type {LoadedFlow} from '../flow/types.js'
import type {DataRow} from './data.js'

/** Where one flow input comes from: a data column, the base run's outputs/inputs, or a constant. */
export type MappingSource =
  | {kind: 'data' | 'run.outputs' | 'run.inputs'; column: string; path: string[]; text: string; implicit?: boolean}
  | {kind: 'literal'; value: unknown}

export type ColumnMapping = Record<string, MappingSource>

/** The columns a mapping can refer to: the data file's, and the base run's outputs/inputs when there is one. */
export interface MappingColumns {
  dataFile?: string
  data: string[]
  baseRun?: {name: string; outputs: string[]; inputs: string[]}
}

const reference = /^\$\{([^}]*)\}$/

/** Parses `--column-mapping NAME=VALUE` pairs (VALUE: `${data.col}`, `${run.outputs.x}`, `${run.inputs.x}` or a constant). */
export const parseMappingFlags = (pairs: string[] | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0 || pair.slice(0, eq).trim() === '')
      throw new PfError(
        'invalid_column_mapping',
        `--column-mapping "${pair}" is not NAME=VALUE; e.g. --column-mapping question='\${data.question}'.`,
      )
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1)
  }
  return out
}

const parseSource = (input: string, value: unknown): MappingSource => {
  if (typeof value !== 'string') return {kind: 'literal', value}
  const match = reference.exec(value.trim())
  if (!match) {
    if (value.includes('${'))
      throw new PfError(
        'invalid_column_mapping',
        `Column mapping ${input}=${value} is not one reference; write \${data.<column>}, \${run.outputs.<name>} or \${run.inputs.<name>}.`,
      )
    return {kind: 'literal', value}
  }
  const parts = match[1].trim().split('.')
  const [head, ...rest] = parts
  let kind: 'data' | 'run.outputs' | 'run.inputs' | undefined
  let tail: string[] = []
  if (head === 'data') [kind, tail] = ['data', rest]
  else if (head === 'run' && (rest[0] === 'outputs' || rest[0] === 'inputs')) [kind, tail] = [`run.${rest[0]}`, rest.slice(1)]
  if (!kind || tail.length === 0 || tail.some(p => p === ''))
    throw new PfError(
      'invalid_column_mapping',
      `Column mapping ${input}=${value}: use \${data.<column>}, \${run.outputs.<name>} or \${run.inputs.<name>}.`,
    )
  return {kind, column: tail[0], path: tail.slice(1), text: value.trim()}
}

const unknownColumn = (input: string, source: Extract<MappingSource, {column: string}>, columns: MappingColumns): PfError => {
  const [known, where] =
    source.kind === 'data'
      ? [columns.data, `the data file${columns.dataFile ? ` ${columns.dataFile}` : ''}`]
      : source.kind === 'run.outputs'
        ? [columns.baseRun!.outputs, `the outputs of run ${columns.baseRun!.name}`]
        : [columns.baseRun!.inputs, `the inputs of run ${columns.baseRun!.name}`]
  const near = known.length > 0 ? closest(source.column, known) : undefined
  return new PfError(
    'unknown_column',
    `Column mapping ${input}=${source.text} refers to column "${source.column}", which ${where} does not have` +
      `${near ? ` (did you mean "${near}"?)` : ''}; its columns are: ${known.join(', ') || '(none)'}.`,
    2,
    {column: source.column},
  )
}

/**
 * The mapping a run uses: the given entries, and for every other flow input the data column of the same name
 * (an input with a default may have none). Every reference is checked against the columns before the run starts.
 */
export const buildMapping = (flow: LoadedFlow, given: Record<string, unknown>, columns: MappingColumns): ColumnMapping => {
  const declared = Object.keys(flow.inputs)
  const mapping: ColumnMapping = {}
  for (const [input, value] of Object.entries(given)) {
    if (declared.length > 0 && !declared.includes(input)) {
      const near = closest(input, declared)
      throw new PfError(
        'invalid_column_mapping',
        `Column mapping names "${input}", which is not an input of the flow${near ? ` (did you mean "${near}"?)` : ''}; its inputs are: ${declared.join(', ')}.`,
      )
    }
    const source = parseSource(input, value)
    if (source.kind !== 'literal') {
      if (source.kind !== 'data' && !columns.baseRun)
        throw new PfError(
          'invalid_column_mapping',
          `Column mapping ${input}=${source.text} refers to a base run; pass --run <base run name>.`,
        )
      const known =
        source.kind === 'data' ? columns.data : source.kind === 'run.outputs' ? columns.baseRun!.outputs : columns.baseRun!.inputs
      if (!known.includes(source.column)) throw unknownColumn(input, source, columns)
    }
    mapping[input] = source
  }
  if (declared.length === 0) {
    // No declared inputs: the flow takes the whole data row (plus any mapped values).
    for (const column of columns.data) mapping[column] ??= {kind: 'data', column, path: [], text: `\${data.${column}}`, implicit: true}
    return mapping
  }
  for (const input of declared) {
    if (input in mapping) continue
    if (columns.data.includes(input)) mapping[input] = {kind: 'data', column: input, path: [], text: `\${data.${input}}`, implicit: true}
    else if (flow.inputs[input].default === undefined && flow.sample?.[input] === undefined)
      throw new PfError(
        'unknown_column',
        `Flow input "${input}" has no default and the data file${columns.dataFile ? ` ${columns.dataFile}` : ''} has no column "${input}"` +
          `; add --column-mapping ${input}='\${data.<column>}'. Columns: ${columns.data.join(', ')}.`,
        2,
        {column: input},
      )
  }
  return mapping
}

const dig = (value: unknown, path: string[]): unknown => {
  let node = value
  for (const key of path) {
    if (!node || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}

/**
 * The raw inputs of one line (coerced to the declared types later, by resolveInputs). A line that lacks a column
 * the mapping names explicitly fails (that line only); a column taken by name may be absent (the input's default).
 */
export const applyMapping = (
  mapping: ColumnMapping,
  row: DataRow,
  base?: {inputs: DataRow; outputs: DataRow},
  lineNumber?: number,
): Record<string, unknown> => {
  const inputs: Record<string, unknown> = {}
  for (const [input, source] of Object.entries(mapping)) {
    if (source.kind === 'literal') {
      inputs[input] = source.value
      continue
    }
    const from = source.kind === 'data' ? row : source.kind === 'run.outputs' ? base?.outputs : base?.inputs
    if (source.kind === 'data' && !source.implicit && !(source.column in row))
      throw new PfError(
        'missing_column',
        `Line ${lineNumber ?? '?'} has no column "${source.column}" (input "${input}" is mapped to ${source.text}); other lines have it.`,
        1,
      )
    if (!from || !(source.column in from)) continue
    const value = dig(from[source.column], source.path)
    if (value !== undefined) inputs[input] = value
  }
  return inputs
}

/** The mapping as prompt flow writes it (`{input: "${data.col}"}`), for records. */
export const mappingText = (mapping: ColumnMapping): Record<string, unknown> =>
  Object.fromEntries(Object.entries(mapping).map(([k, s]) => [k, s.kind === 'literal' ? s.value : s.text]))
