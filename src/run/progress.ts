import type {SingleBar} from 'cli-progress'

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
  let bar: SingleBar | undefined
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
  let uploading = false
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
          const result = event.error
            ? {line_number: event.lineNumber, status: event.status, error: describeLineError(event.error)}
            : {line_number: event.lineNumber, status: event.status, output: event.output}
          options.stream(JSON.stringify(result) + '\n')
        }
      },
      // The upload to the workspace is the run's last step: the bar ends and a status line follows it.
      upload(message: string) {
        if (bar) {
          bar.stop()
          bar = undefined
        }
        if (options.stream) options.stream(JSON.stringify({upload: message}) + '\n')
        else if (options.bar) {
          process.stderr.write(`\r\x1b[KUpload to the workspace: ${message}`)
          uploading = true
        }
      },
    },
    stop() {
      bar?.stop()
      if (uploading) process.stderr.write('\n')
    },
  }
}
