import {ExitCode} from '../errors.js'

const exitCodes = {SIGINT: ExitCode.interrupted, SIGTERM: ExitCode.terminated, SIGHUP: ExitCode.hangup} as const
export type InterruptSignal = keyof typeof exitCodes

export interface Interrupt {
  /** Aborted (with the signal's name as reason) on the first SIGINT, SIGTERM or SIGHUP. */
  signal: AbortSignal
  /** The exit code for the signal received: 130, 143 or 129 (undefined: none came). */
  exitCode(): number | undefined
  dispose(): void
}

/**
 * Ends long work gracefully on Ctrl-C and on SIGTERM/SIGHUP (what `timeout`, Docker, CI runners and a closed terminal
 * send): the first signal aborts so the work can stop starting new items and record what it has; a second one
 * leaves at once with the signal's exit code.
 */
export const onInterrupt = (notice: (signal: InterruptSignal) => void): Interrupt => {
  const controller = new AbortController()
  let received: InterruptSignal | undefined
  const handlers = Object.keys(exitCodes).map(name => {
    const signal = name as InterruptSignal
    const handler = () => {
      if (received) process.exit(exitCodes[received])
      received = signal
      notice(signal)
      controller.abort(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return {
    signal: controller.signal,
    exitCode: () => received && exitCodes[received],
    dispose: () => handlers.forEach(([signal, handler]) => process.off(signal, handler)),
  }
}
