import path from 'node:path'

import {describeLineError} from '../errors.js'
import type {LineError} from '../flow/executor.js'
import {userStack} from '../flow/test-flow.js'
import type {LoadedFlow} from '../flow/types.js'
import {type DataRow, readJsonLines} from './data.js'
import {RunFiles, type RunFolder, diskError} from './folder.js'
import {inputsRecord, outputOfRecord, outputsRecord, withoutLineNumber} from './line-records.js'
import type {Run, RunRecords} from './records.js'

/** One finished line, as `--stream` and the progress bar see it. */
export interface LineEvent {
  lineNumber: number
  status: 'Completed' | 'Failed'
  output?: unknown
  error?: LineError
  done: number
  failed: number
  total: number
}

export interface RunObserver {
  started?(run: Run): void
  line?(event: LineEvent): void
  /** Aborting cancels the run (Ctrl-C, SIGTERM, SIGHUP); a string reason (e.g. "SIGTERM") goes into the run's record. */
  signal?: AbortSignal
  /** A step of the run's upload to the workspace (its last step). */
  upload?(message: string): void
}

export interface LineOutcome {
  output?: unknown
  error?: LineError
  lineRunId?: string
  traceId?: string
}

/** A finished line waiting to be recorded. */
interface FinishedLine {
  lineNumber: number
  inputs: Record<string, unknown> | undefined
  outcome: LineOutcome
}

/**
 * Writes each finished line of a batch run to the run folder (outputs/inputs/errors.jsonl, logs), counts them,
 * keeps what aggregation needs and tells the observer. A line is written only once its spans are in the store
 * (`traced`), so a crash at any moment never leaves a line recorded as finished without its trace; lines share
 * the span batch writes, so this costs no transaction per line, and the lines one batch write lets through are
 * recorded together (one file write per file for all of them). A line is counted once its records are written.
 */
export class LineRecorder {
  done = 0
  failed = 0
  /** Line inputs and outputs for the aggregation nodes (a flow without aggregation keeps nothing). */
  readonly aggregationLines: Map<number, {inputs: Record<string, unknown>; output: unknown}> | undefined
  /** Set when the run has ended: a line abandoned at cancel that finishes later is dropped. */
  private ended = false
  private readonly writes = new Set<Promise<void>>()
  /** Lines whose spans are stored, recorded together by the one `recordStored` queued for them. */
  private storedLines: FinishedLine[] = []
  private writeError: Error | undefined
  private lastProgress = 0

  constructor(
    private readonly name: string,
    private readonly flow: LoadedFlow,
    private readonly total: number,
    private readonly folder: RunFolder,
    private readonly records: RunRecords,
    private readonly observer: RunObserver,
    /** Resolves when the spans ended so far are stored (undefined: tracing is off). */
    private readonly traced?: () => Promise<void>,
    /** Called once when a line cannot be written (e.g. disk full): the run should stop starting lines. */
    private readonly onWriteError?: () => void,
  ) {
    this.aggregationLines = flow.aggregate ? new Map() : undefined
  }

  /** Records a finished line (after its spans, see the class comment). Never throws; a write error ends the run at `settle`. */
  finish(lineNumber: number, inputs: Record<string, unknown> | undefined, outcome: LineOutcome): void {
    if (this.ended) return
    const line = {lineNumber, inputs, outcome}
    if (!this.traced || !outcome.traceId) return this.record([line])
    const write: Promise<void> = this.traced()
      .then(() => {
        // Every line waiting for the same span write is let through in this same turn: the first queues one record
        // of them all, which runs after the others have joined it.
        if (this.storedLines.push(line) === 1) queueMicrotask(() => this.recordStored())
      })
      .catch(error => this.failWrite(error))
      .finally(() => this.writes.delete(write))
    this.writes.add(write)
  }

  private recordStored(): void {
    const lines = this.storedLines
    this.storedLines = []
    if (lines.length > 0 && !this.writeError) this.record(lines)
  }

  /** Writes the lines' records (one write per file), then counts them; a write error ends the run at `settle`. */
  private record(lines: FinishedLine[]): void {
    try {
      this.folder.batch(() => {
        for (const line of lines) this.appendRecords(line)
      })
    } catch (error) {
      // Nothing of the batch was kept (see RunFolder.batch). Line by line, the lines that still fit (a full disk) are
      // recorded, as if each had been written alone; the first that does not fit ends the run.
      if (lines.length === 1) return this.failWrite(error)
      for (const line of lines) if (!this.writeError) this.record([line])
      return
    }
    for (const line of lines) this.count(line)
  }

  private failWrite(error: unknown): void {
    if (this.writeError) return
    this.writeError = diskError(error, 'the local trace store') as Error
    this.ended = true
    this.onWriteError?.()
  }

  /** Ends the run's line intake and waits for lines still being written; throws the first write error. */
  async settle(): Promise<void> {
    this.ended = true
    await Promise.all(this.writes)
    this.recordStored()
    this.recordProgress(true)
    if (this.writeError) throw this.writeError
  }

  /** Copies the lines an earlier run completed (streamed from its files, not rerun); returns their numbers. */
  async copyResumed(from: {run: {name: string; output_path: string}; completed: Set<number>}): Promise<Set<number>> {
    const reused = new Set<number>()
    const reusable = (row: DataRow) =>
      typeof row.line_number === 'number' && row.line_number < this.total && from.completed.has(row.line_number)
    for await (const row of readJsonLines(path.join(from.run.output_path, RunFiles.outputs))) {
      const lineNumber = row.line_number as number
      if (!reusable(row) || reused.has(lineNumber)) continue
      reused.add(lineNumber)
      this.folder.appendJson(RunFiles.outputs, row)
      this.folder.log(`Line ${lineNumber}: completed in run ${from.run.name}; reused.`)
      this.aggregationLines?.set(lineNumber, {inputs: {}, output: outputOfRecord(row)})
      this.done++
    }
    for await (const row of readJsonLines(path.join(from.run.output_path, RunFiles.inputs))) {
      if (!reusable(row)) continue
      this.folder.appendJson(RunFiles.inputs, row)
      const line = this.aggregationLines?.get(row.line_number as number)
      if (line) line.inputs = withoutLineNumber(row)
    }
    return reused
  }

  private appendRecords({lineNumber, inputs, outcome}: FinishedLine): void {
    const {folder} = this
    if (inputs) folder.appendJson(RunFiles.inputs, inputsRecord(lineNumber, inputs))
    if (outcome.error) {
      const stack = userStack(outcome.error, this.flow.dir)
      folder.appendJson(RunFiles.errors, {
        line_number: lineNumber,
        line_run_id: outcome.lineRunId,
        trace_id: outcome.traceId,
        error: {type: outcome.error.type, message: outcome.error.message, ...(stack ? {stack} : {})},
      })
      folder.log(`Line ${lineNumber}: failed: ${describeLineError(outcome.error)}`)
    } else {
      folder.appendJson(RunFiles.outputs, outputsRecord(lineNumber, outcome.output))
      folder.log(`Line ${lineNumber}: completed.`)
    }
  }

  private count({lineNumber, inputs, outcome}: FinishedLine): void {
    this.done++
    if (outcome.error) this.failed++
    else this.aggregationLines?.set(lineNumber, {inputs: inputs ?? {}, output: outcome.output})
    this.recordProgress()
    const event: LineEvent = {
      lineNumber,
      status: outcome.error ? 'Failed' : 'Completed',
      output: outcome.output,
      error: outcome.error,
      done: this.done,
      failed: this.failed,
      total: this.total,
    }
    this.observer.line?.(event)
  }

  private recordProgress(force = false): void {
    if (!force && Date.now() - this.lastProgress < 500) return
    this.lastProgress = Date.now()
    this.records.progress(this.name, this.done - this.failed, this.failed)
  }
}
