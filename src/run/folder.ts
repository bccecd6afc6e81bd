import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'

import {PfError} from '../errors.js'

export const RunFiles = {
  outputs: 'outputs.jsonl',
  inputs: 'inputs.jsonl',
  errors: 'errors.jsonl',
  meta: 'meta.json',
  logs: 'logs.txt',
} as const

/** The files a line's records go to, in the order a batch writes them (see `RunFolder.batch`). */
const batchOrder = [RunFiles.inputs, RunFiles.outputs, RunFiles.errors, RunFiles.logs]

/** A run's folder: `<runs folder>/<name>` (the runs folder: run.output_path, else `<pf home>/.runs`, as in the reference). */
export const runFolderPath = (runsFolder: string, name: string): string => path.join(runsFolder, name)

/** A run file held open for appending, and its size: what a record cut short is truncated back to. */
interface OpenFile {
  fd: number
  size: number
}

/**
 * A run's output folder (user-only). Every line is appended with a synchronous write once it is recorded (lines
 * recorded together share a write, see `batch`), so a crash leaves exactly the lines that were recorded; files are
 * never rewritten except meta.json (atomically).
 */
export class RunFolder {
  /** This process is a run file's only writer: its size is read once, at open, not before every record. */
  private readonly files = new Map<string, OpenFile>()
  private closed = false
  /** Appends held by `batch`, each file's text to be written at once. */
  private held: Map<string, string> | undefined

  private constructor(readonly dir: string) {}

  /** Creates the folder; an existing one is an error (a run name is used once). */
  static create(dir: string): RunFolder {
    if (existsSync(dir)) throw new PfError('run_exists', `Run folder ${dir} already exists; choose another --name.`)
    mkdirSync(path.dirname(dir), {recursive: true, mode: 0o700})
    mkdirSync(dir, {mode: 0o700})
    const folder = new RunFolder(dir)
    for (const file of [RunFiles.outputs, RunFiles.inputs, RunFiles.errors, RunFiles.logs]) folder.openFile(file)
    return folder
  }

  private openFile(file: string): OpenFile {
    let opened = this.files.get(file)
    if (opened === undefined) {
      const fd = openSync(path.join(this.dir, file), 'a', 0o600)
      opened = {fd, size: fstatSync(fd).size}
      this.files.set(file, opened)
    }
    return opened
  }

  /**
   * Runs `appends`, then writes each file's share of them at once: the records of lines that end together cost one
   * write per file, not three per line (50k lines of a trivial flow: 3.6 s instead of 3.8 s, docs/benchmarks.md).
   * The files are written in `batchOrder` (a line's inputs before its output, its output before its log). If
   * `appends` throws, nothing is written; if a write fails (a full disk), every file goes back to where the batch
   * began.
   */
  batch(appends: () => void): void {
    const held = new Map<string, string>()
    this.held = held
    try {
      appends()
    } finally {
      this.held = undefined
    }
    const written: Array<{opened: OpenFile; sizeBefore: number}> = []
    try {
      for (const file of batchOrder) {
        const text = held.get(file)
        if (text === undefined) continue
        const opened = this.openFile(file)
        const sizeBefore = opened.size
        this.append(file, text)
        written.push({opened, sizeBefore})
      }
    } catch (error) {
      for (const {opened, sizeBefore} of written) truncateTo(opened, sizeBefore)
      throw error
    }
  }

  private append(file: string, text: string): void {
    if (this.closed) return
    if (this.held) {
      // Only the files of a line's records can be held: anything else would never be written.
      if (!(batchOrder as string[]).includes(file)) throw new Error(`RunFolder.batch cannot hold ${file}`)
      this.held.set(file, (this.held.get(file) ?? '') + text)
      return
    }
    const opened = this.openFile(file)
    const bytes = Buffer.byteLength(text)
    try {
      // A nearly full disk takes part of a write without an error; only the next one fails.
      if (writeSync(opened.fd, text) < bytes) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
      opened.size += bytes
    } catch (error) {
      // A record cut short (disk full) would leave a line no reader can parse: the file goes back to its last whole line.
      truncateTo(opened, opened.size)
      throw diskError(error, path.join(this.dir, file))
    }
  }

  appendJson(file: string, value: unknown): void {
    this.append(file, JSON.stringify(value) + '\n')
  }

  log(message: string): void {
    this.append(RunFiles.logs, `${new Date().toISOString()} ${message}\n`)
  }

  writeMeta(meta: unknown): void {
    if (this.closed) return
    const file = path.join(this.dir, RunFiles.meta)
    writeFileSync(file + '.tmp', JSON.stringify(meta, null, 2) + '\n', {mode: 0o600})
    renameSync(file + '.tmp', file)
  }

  /** Closes and removes a folder no line was written to (its run could not be recorded). */
  discard(): void {
    this.close()
    rmSync(this.dir, {recursive: true, force: true})
  }

  /** After close, late writes (an abandoned line finishing) are dropped. */
  close(): void {
    this.closed = true
    for (const {fd} of this.files.values()) closeSync(fd)
    this.files.clear()
  }
}

/** Cuts an open run file back to `size` (best effort: the write error that led here is what the user needs). */
const truncateTo = (opened: OpenFile, size: number): void => {
  try {
    ftruncateSync(opened.fd, size)
    opened.size = size
  } catch {
    // Nothing more to do.
  }
}

/** ENOSPC/EDQUOT (and SQLite's SQLITE_FULL) as one line a user can act on; other errors unchanged. */
export const diskError = (error: unknown, file: string): unknown => {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL')
    return new PfError(
      'disk_full',
      `Disk full: cannot write ${file}; free some space, then \`pf run create --resume-from <run>\` reruns the lines that did not finish.`,
      1,
    )
  return error
}

export const readMeta = (dir: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(readFileSync(path.join(dir, RunFiles.meta), 'utf8'))
  } catch {
    return undefined
  }
}
