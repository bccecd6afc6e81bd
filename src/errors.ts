/** Exit codes pf uses; documented in the README. */
export const ExitCode = {
  ok: 0,
  /** The work itself failed: a flow line threw, a service answered with an error. */
  failure: 1,
  /** The user's input is wrong: a flag, a key, a value, a file. Nothing was changed. */
  usage: 2,
  /** The work succeeded but delivery (spans, a run upload) is still pending and the user asked to wait for it. */
  pending: 3,
  /** Interrupted (Ctrl-C, SIGINT). */
  interrupted: 130,
  /** Ended by SIGTERM (`timeout`, Docker, CI). */
  terminated: 143,
  /** Ended by SIGHUP (the terminal closed). */
  hangup: 129,
} as const

/**
 * An error meant for the user: one line saying what is wrong and what to do.
 * `code` is stable and machine-readable (it is what `--json` prints).
 */
export class PfError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly exitCode: number = ExitCode.usage,
    /** Extra fields for the `--json` error object (e.g. the trace id of a failed line). */
    public readonly details?: Record<string, unknown>,
    /** Lines printed after the error line for humans (e.g. the user code's stack of a failed flow). */
    public readonly humanDetail?: string,
  ) {
    super(message)
    this.name = 'PfError'
  }
}

export const isPfError = (error: unknown): error is PfError =>
  error instanceof Error && (error as PfError).name === 'PfError' && typeof (error as PfError).code === 'string'
