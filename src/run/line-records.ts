import path from 'node:path'

import {type DataRow, readJsonLines} from './data.js'
import {RunFiles} from './folder.js'

const isPlainObject = (v: unknown): v is DataRow => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

/**
 * A line of outputs.jsonl / inputs.jsonl as prompt flow writes it: `line_number` plus the values; a flow output
 * that is not an object is written as `{"output": value}`.
 */
export const outputsRecord = (lineNumber: number, output: unknown): DataRow =>
  isPlainObject(output) ? {line_number: lineNumber, ...output} : {line_number: lineNumber, output: output ?? null}

export const inputsRecord = (lineNumber: number, inputs: Record<string, unknown>): DataRow => ({line_number: lineNumber, ...inputs})

export const withoutLineNumber = (row: DataRow): DataRow => {
  const {line_number: _, ...rest} = row
  return rest
}

/** The flow's output back from an outputs.jsonl row (`{"output": v}` with a non-object v was a plain value). */
export const outputOfRecord = (row: DataRow): unknown => {
  const values = withoutLineNumber(row)
  const keys = Object.keys(values)
  return keys.length === 1 && keys[0] === 'output' && !isPlainObject(values.output) ? values.output : values
}

export interface RecordedLine {
  inputs?: DataRow
  outputs?: DataRow
}

/** The completed lines of an earlier run, by line number: its outputs.jsonl joined with its inputs.jsonl. */
export const readRecordedLines = async (runDir: string): Promise<Map<number, RecordedLine>> => {
  const lines = new Map<number, RecordedLine>()
  for await (const row of readJsonLines(path.join(runDir, RunFiles.outputs)))
    if (typeof row.line_number === 'number') lines.set(row.line_number, {outputs: withoutLineNumber(row)})
  for await (const row of readJsonLines(path.join(runDir, RunFiles.inputs))) {
    const line = typeof row.line_number === 'number' ? lines.get(row.line_number) : undefined
    if (line) line.inputs = withoutLineNumber(row)
  }
  return lines
}

/** The line numbers an earlier run completed (its outputs.jsonl), streamed. */
export const completedLineNumbers = async (runDir: string): Promise<Set<number>> => {
  const done = new Set<number>()
  for await (const row of readJsonLines(path.join(runDir, RunFiles.outputs)))
    if (typeof row.line_number === 'number') done.add(row.line_number)
  return done
}

/** Keys of the first row that has them (the columns `${run.outputs.x}` / `${run.inputs.x}` can name). */
export const columnsOf = (lines: Map<number, RecordedLine>, side: 'inputs' | 'outputs'): string[] => {
  const keys = new Set<string>()
  for (const line of lines.values()) for (const key of Object.keys(line[side] ?? {})) keys.add(key)
  return [...keys]
}
