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

/** What the openai package's error classes mean, said to a user (the class name alone says little). */
const apiErrorMeanings: Record<string, string> = {
  APIConnectionError: 'could not reach the model API',
  APIConnectionTimeoutError: 'the model API did not answer in time',
  AuthenticationError: 'the model API refused the key (401)',
  PermissionDeniedError: 'the model API refused access (403)',
  NotFoundError: 'the model API does not know this model or deployment (404)',
  RateLimitError: 'the model API is rate-limiting (429)',
  BadRequestError: 'the model API rejected the request (400)',
  UnprocessableEntityError: 'the model API rejected the request (422)',
  InternalServerError: 'the model API failed (5xx)',
}

/**
 * One line for an error a flow line ended with: pf's own errors (PfError) and plain Errors by their message, the
 * model API's errors by what they mean, other classes (the user's TypeError, a custom error) as `Type: message`.
 */
export const describeLineError = (error: {type: string; message: string}): string => {
  if (error.type === 'PfError' || error.type === 'Error') return error.message
  const meaning = apiErrorMeanings[error.type]
  if (meaning) return `${meaning}: ${error.message}`
  return `${error.type}: ${error.message}`
}
