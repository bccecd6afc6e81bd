import {createReadStream, existsSync, statSync} from 'node:fs'
import path from 'node:path'
import {createInterface} from 'node:readline'

import {PfError} from '../errors.js'

export type DataRow = Record<string, unknown>

export interface DataLine {
  /** 0-based index of the record in the file (prompt flow's line_number). */
  lineNumber: number
  row: DataRow
}

/** A validated data file: its columns (every key any record has, in first-seen order), its record count, and a reader. */
export interface DataSource {
  file: string
  format: 'jsonl' | 'csv'
  columns: string[]
  total: number
  /** Reads the records again as a stream; only what the consumer pulls is in memory. */
  lines(): AsyncIterable<DataLine>
}

const isRecord = (v: unknown): v is DataRow => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

/** Every non-blank line of a JSON Lines file with its 1-based physical line number. */
async function* jsonlRecords(file: string): AsyncGenerator<{physical: number; row: DataRow}> {
  const input = createReadStream(file, {encoding: 'utf8'})
  const reader = createInterface({input, crlfDelay: Infinity})
  let physical = 0
  try {
    for await (const text of reader) {
      physical++
      const line = physical === 1 ? text.replace(/^\uFEFF/, '') : text
      if (line.trim() === '') continue
      let row: unknown
      try {
        row = JSON.parse(line)
      } catch (error) {
        throw new PfError(
          'data_malformed',
          `${file}:${physical}: not a JSON object (${(error as Error).message}); every line of a .jsonl file must be one JSON object.`,
        )
      }
      if (!isRecord(row))
        throw new PfError(
          'data_malformed',
          `${file}:${physical}: a line must be a JSON object, got ${Array.isArray(row) ? 'an array' : JSON.stringify(row)}.`,
        )
      yield {physical, row}
    }
  } finally {
    reader.close()
    input.destroy()
  }
}

async function* csvRecords(file: string): AsyncGenerator<{physical: number; row: DataRow}> {
  const {parse} = await import('csv-parse')
  const input = createReadStream(file)
  const parser = input.pipe(parse({columns: true, bom: true, skip_empty_lines: true, info: true}))
  try {
    for await (const {record, info} of parser as AsyncIterable<{record: DataRow; info: {lines: number}}>)
      yield {physical: info.lines, row: record}
  } catch (error) {
    if (error instanceof PfError) throw error
    throw new PfError('data_malformed', `${file}: not valid CSV (${(error as Error).message}).`)
  } finally {
    input.destroy()
  }
}

const recordsOf = (file: string, format: DataSource['format']) => (format === 'jsonl' ? jsonlRecords(file) : csvRecords(file))

/** Data files up to this size keep their records in memory between the check and the run (a few MB of heap at most). */
const keptDataBytes = 1 << 20

/**
 * Opens a data file: checks every record once (a malformed line is an error before any line runs) and counts
 * them, streaming, so a large file never sits in memory.
 */
export const openData = async (dataPath: string): Promise<DataSource> => {
  const file = path.resolve(dataPath)
  const stat = existsSync(file) ? statSync(file) : undefined
  if (!stat?.isFile()) throw new PfError('data_not_found', `Data file ${file} does not exist; pass --data with a .jsonl or .csv file.`)
  const ext = path.extname(file).toLowerCase()
  const format = ext === '.jsonl' ? 'jsonl' : ext === '.csv' ? 'csv' : undefined
  if (!format)
    throw new PfError('data_unsupported', `Data file ${file} must be .jsonl (one JSON object per line) or .csv (with a header row).`)
  let total = 0
  // A JSON Lines record may have keys the first one lacks (prompt flow's data has optional columns).
  const seen = new Set<string>()
  // A small file's records are kept from this first read, so the run reads no file again before its first line.
  let kept: DataRow[] | undefined = stat.size <= keptDataBytes ? [] : undefined
  for await (const {row} of recordsOf(file, format)) {
    for (const key of Object.keys(row)) seen.add(key)
    kept?.push(row)
    total++
  }
  const columns = [...seen]
  if (total === 0)
    throw new PfError(
      'data_empty',
      `Data file ${file} has no ${format === 'csv' ? 'rows below its header' : 'lines'}; a run needs at least one.`,
    )
  return {
    file,
    format,
    columns,
    total,
    async *lines() {
      let lineNumber = 0
      if (kept) {
        // The kept rows serve the first reader only (a run reads its data once); another streams the file again.
        const rows = kept
        kept = undefined
        for (const row of rows) yield {lineNumber: lineNumber++, row}
        return
      }
      for await (const {row} of recordsOf(file, format)) yield {lineNumber: lineNumber++, row}
    },
  }
}

/**
 * Reads a JSON Lines file pf wrote (a run's outputs/inputs/errors). A missing file reads as empty; a torn last
 * line (a run killed mid-write) is skipped.
 */
export async function* readJsonLines(file: string): AsyncGenerator<DataRow> {
  if (!existsSync(file)) return
  const input = createReadStream(file, {encoding: 'utf8'})
  const reader = createInterface({input, crlfDelay: Infinity})
  try {
    for await (const line of reader) {
      if (line.trim() === '') continue
      let row: unknown
      try {
        row = JSON.parse(line)
      } catch {
        continue
      }
      if (isRecord(row)) yield row
    }
  } finally {
    reader.close()
    input.destroy()
  }
}
