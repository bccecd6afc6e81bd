import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {ExitCode, PfError, isPfError} from './errors.js'
import type {DestinationRegistry, RegistryLoader} from './tracing/registry.js'

/**
 * Every pf command extends this: `--json` everywhere, `--debug` for stack traces,
 * and one error format (`{"error":{"code","message"}}` under --json, one line otherwise).
 */
export abstract class PfCommand extends Command {
  static enableJsonFlag = true
  static baseFlags = {
    debug: Flags.boolean({description: 'Print stack traces and diagnostic detail on errors.', helpGroup: 'GLOBAL'}),
  }

  private destinations: Promise<DestinationRegistry> | undefined

  /**
   * The destination registry, built on first use from every plugin's `trace-destination` hook (a hook that hangs
   * or throws is reported by name and skipped). Services get this, never oclif's Config. The registry code is
   * imported on first use: `pf config get` of a core key never loads it.
   */
  protected get registry(): RegistryLoader {
    return () => (this.destinations ??= this.loadRegistry())
  }

  private async loadRegistry(): Promise<DestinationRegistry> {
    const {hookTimeoutMs, registryLoader} = await import('./tracing/registry.js')
    return registryLoader(async () => {
      // oclif's hook timer is unref'd: with nothing else pending, a hook that never answers would end the process.
      const keepAlive = setTimeout(() => {}, hookTimeoutMs + 1000)
      try {
        return await this.config.runHook('trace-destination', {}, hookTimeoutMs, true)
      } finally {
        clearTimeout(keepAlive)
      }
    })()
  }

  protected get debugEnabled(): boolean {
    return this.argv.includes('--debug') || process.env.PF_DEBUG === '1'
  }

  /** Writes a human line to stderr unless --json is set (keeps stdout parseable). */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(message + '\n')
  }

  /**
   * Asks a yes/no question on the terminal (stderr, so stdout stays parseable). Without a terminal it fails at
   * once with `confirmation_required` and `refusal` as the message: a script never hangs waiting on stdin.
   */
  protected async confirm(question: string, refusal: string): Promise<boolean> {
    if (!process.stdin.isTTY || !process.stderr.isTTY) throw new PfError('confirmation_required', refusal)
    const {createInterface} = await import('node:readline/promises')
    const rl = createInterface({input: process.stdin, output: process.stderr})
    try {
      return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim())
    } finally {
      rl.close()
    }
  }

  protected async catch(error: Error): Promise<any> {
    const err = error as Error & {oclif?: {exit?: number}}
    const known = isPfError(error)
    // oclif's own parse errors (unknown flag, missing arg) are user input errors too.
    const parseError = !known && err.oclif?.exit === 2
    const code = known ? error.code : parseError ? 'invalid_arguments' : 'internal_error'
    const exitCode = known ? error.exitCode : parseError ? ExitCode.usage : (err.oclif?.exit ?? ExitCode.failure)
    if (err.oclif?.exit === 0) return // `this.exit(0)`
    const message = firstLine(err.message)
    const more = known ? error.humanDetail : undefined
    if (this.jsonEnabled()) {
      const details = known ? error.details : undefined
      process.stdout.write(JSON.stringify({error: {code, message, ...details}}, null, 2) + '\n')
    } else {
      process.stderr.write(`Error: ${message}\n`)
      if (more) process.stderr.write(more + '\n')
    }
    if (this.debugEnabled && err.stack) process.stderr.write(err.stack + '\n')
    else if (!known && !parseError) process.stderr.write('Run again with --debug for details.\n')
    // An ExitError makes oclif exit with our code without printing anything more.
    throw new Errors.ExitError(exitCode)
  }
}

export type PfFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof PfCommand)['baseFlags'] & T['flags']>

const firstLine = (message: string): string => {
  // oclif parse errors carry a multi-line "See more help" tail; users get the first sentence.
  const line = message.split('\n').find(l => l.trim().length > 0) ?? message
  return line.trim()
}

export {PfError}
