import {closeSync, existsSync, openSync, readSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'

import {PfError} from '../errors.js'
import {readJsonLines} from './data.js'
import {RunFiles} from './folder.js'
import {withoutLineNumber} from './line-records.js'
import {type ListOptions, type Run, RunRecords} from './records.js'

const withRecords = <T>(fn: (records: RunRecords) => T): T => {
  const records = RunRecords.open()
  try {
    return fn(records)
  } finally {
    records.close()
  }
}

export const listRuns = (options: ListOptions): Run[] => withRecords(r => r.list(options))

export const showRun = (name: string): Run => withRecords(r => r.get(name))

export const showMetrics = (name: string): Record<string, unknown> => withRecords(r => r.get(name).metrics)

export const archiveRun = (name: string): Run => withRecords(r => r.setArchived(name, true))

export const restoreRun = (name: string): Run => withRecords(r => r.setArchived(name, false))

export interface LineDetail {
  line_number: number
  status: 'Completed' | 'Failed'
  inputs: Record<string, unknown>
  outputs?: Record<string, unknown>
  error?: {type: string; message: string}
}

/** Each line's inputs with its outputs (or error), in line order: the run folder's files joined by line_number. */
export const showDetails = async (name: string, maxResults?: number): Promise<LineDetail[]> => {
  const run = showRun(name)
  const lines = new Map<number, LineDetail>()
  for await (const row of readJsonLines(path.join(run.output_path, RunFiles.inputs)))
    if (typeof row.line_number === 'number')
      lines.set(row.line_number, {line_number: row.line_number, status: 'Completed', inputs: withoutLineNumber(row)})
  const line = (n: number) => lines.get(n) ?? lines.set(n, {line_number: n, status: 'Completed', inputs: {}}).get(n)!
  for await (const row of readJsonLines(path.join(run.output_path, RunFiles.outputs)))
    if (typeof row.line_number === 'number') line(row.line_number).outputs = withoutLineNumber(row)
  for await (const row of readJsonLines(path.join(run.output_path, RunFiles.errors))) {
    if (typeof row.line_number !== 'number') continue
    const detail = line(row.line_number)
    const error = row.error as {type: string; message: string}
    Object.assign(detail, {status: 'Failed', error: {type: error?.type, message: error?.message}})
  }
  const sorted = [...lines.values()].sort((a, b) => a.line_number - b.line_number)
  return maxResults === undefined ? sorted : sorted.slice(0, maxResults)
}

export interface RunChanges {
  displayName?: string
  description?: string
  tags: Record<string, string>
}

/** Parses `--set display_name=… --set description=… --set tags.k=v`. */
export const parseRunChanges = (pairs: string[]): RunChanges => {
  if (pairs.length === 0)
    throw new PfError('invalid_arguments', 'Nothing to update; pass --set display_name=… or --set tags.<key>=<value>.')
  const changes: RunChanges = {tags: {}}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const key = eq > 0 ? pair.slice(0, eq).trim() : ''
    const value = pair.slice(eq + 1)
    if (key === 'display_name') changes.displayName = value
    else if (key === 'description') changes.description = value
    else if (/^tags\.[^.]+$/.test(key)) changes.tags[key.slice(5)] = value
    else throw new PfError('invalid_arguments', `--set "${pair}": set display_name=…, description=… or tags.<key>=<value>.`)
  }
  return changes
}

export const updateRun = (name: string, changes: RunChanges): Run =>
  withRecords(r =>
    r.update(name, {
      displayName: changes.displayName,
      tags: changes.tags,
      properties: changes.description === undefined ? undefined : {description: changes.description},
    }),
  )

/** Deletes the run record and its output folder (its spans stay in the trace store). */
export const deleteRun = (name: string): Run =>
  withRecords(r => {
    const run = r.get(name)
    if (run.status === 'Running' && processAlive(run.properties.pid))
      throw new PfError('run_running', `Run ${name} is still running (process ${run.properties.pid}); stop it first.`)
    rmSync(run.output_path, {recursive: true, force: true})
    r.delete(name)
    return run
  })

const processAlive = (pid: unknown): boolean => {
  if (typeof pid !== 'number') return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A run is live while it says Running and the process running it exists (a crashed run stops being followed). */
export const isLive = (run: Run): boolean => run.status === 'Running' && processAlive(run.properties.pid)

/**
 * `pf run stream`: writes the run's log, and while the run is live keeps writing what is appended, until it
 * ends. Returns the run as it ended.
 */
export const streamRun = async (name: string, write: (text: string) => void, pollMs = 200): Promise<Run> => {
  const records = RunRecords.open()
  try {
    let run = records.get(name)
    const file = path.join(run.output_path, RunFiles.logs)
    let offset = 0
    const drain = () => {
      if (!existsSync(file)) return
      const size = statSync(file).size
      if (size <= offset) return
      const fd = openSync(file, 'r')
      try {
        const buffer = Buffer.alloc(size - offset)
        const read = readSync(fd, buffer, 0, buffer.length, offset)
        // Write whole lines only; a half-written line waits for the next poll.
        const text = buffer.subarray(0, read).toString('utf8')
        const end = text.lastIndexOf('\n') + 1
        if (end > 0) {
          write(text.slice(0, end))
          offset += Buffer.byteLength(text.slice(0, end))
        }
      } finally {
        closeSync(fd)
      }
    }
    drain()
    while (isLive(run)) {
      await new Promise(resolve => setTimeout(resolve, pollMs))
      drain()
      run = records.get(name)
    }
    drain()
    return run
  } finally {
    records.close()
  }
}
