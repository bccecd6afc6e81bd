import {describeLineError} from '../errors.js'
import type {LineEvent, RunObserver} from './create.js'

export interface ReporterOptions {
  /** Show a progress bar (stderr is a TTY and output is not --json). */
  bar: boolean
  /** Write each line's result as it ends. */
  stream?: (text: string) => void
}

/** Progress for `pf run create`: a cli-progress bar on a TTY (done/failed/rate/ETA), `--stream` lines. */
export const createReporter = async (options: ReporterOptions): Promise<{observer: Omit<RunObserver, 'signal'>; stop(): void}> => {
  let bar: import('cli-progress').SingleBar | undefined
  if (options.bar) {
    const {default: cliProgress} = await import('cli-progress')
    bar = new cliProgress.SingleBar(
      {
        format: '{bar} {value}/{total} lines | {failed} failed | {rate}/s | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
  }
  let started = Date.now()
  return {
    observer: {
      started(run) {
        started = Date.now()
        bar?.start(run.total_lines ?? 0, run.completed_lines, {failed: 0, rate: '0.0'})
      },
      line(event: LineEvent) {
        const seconds = (Date.now() - started) / 1000
        bar?.update(event.done, {failed: event.failed, rate: seconds > 0 ? (event.done / seconds).toFixed(1) : '0.0'})
        if (options.stream) {
          const result = event.error ? {line_number: event.lineNumber, status: event.status, error: describeLineError(event.error)} : {line_number: event.lineNumber, status: event.status, output: event.output}
          options.stream(JSON.stringify(result) + '\n')
        }
      },
    },
    stop() {
      bar?.stop()
    },
  }
}
