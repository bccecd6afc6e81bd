import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {ExitCode, PfError, isPfError} from './errors.js'
import {nearest} from './suggest.js'
import {isHeldOpenByExport} from './util/process.js'
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
   * oclif prints `--json` results after `finally`, so this is the first moment the command's output is complete.
   * When exports that never answered hold their sockets open (see endIfHeldOpen), the process ends here, not a
   * timer later: their spans wait in the outbox and the next pf command takes this process's claim back at once.
   */
  protected async _run<T>(): Promise<T> {
    const result = await super._run<T>()
    if (isHeldOpenByExport()) {
      await Promise.all([process.stdout, process.stderr].map(stream => new Promise(resolve => stream.write('', resolve))))
      process.exit()
    }
    return result
  }

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

  /**
   * The name a command acts on, from its NAME argument or from `--name`/`-n` (the reference's spelling, so its
   * scripts run): exactly one of the two.
   */
  protected nameFrom(positional: string | undefined, flag: string | undefined, what: string): string {
    const usage = `pf ${this.id?.replaceAll(':', ' ')}`
    if (positional !== undefined && flag !== undefined && positional !== flag)
      throw new PfError(
        'invalid_arguments',
        `${usage} got two ${what} names (${positional} and --name ${flag}); pass one. Example: ${usage} --name ${flag}`,
      )
    const name = positional ?? flag
    if (name === undefined || name.trim() === '')
      throw new PfError('invalid_arguments', `${usage} needs a ${what} name: ${usage} NAME or ${usage} --name NAME.`)
    return name
  }

  protected async catch(error: Error): Promise<void> {
    const err = error as Error & {oclif?: {exit?: number}}
    if (err.oclif?.exit === 0) return // `this.exit(0)`
    // oclif's own parse errors (unknown flag, missing arg, bad value) are user input errors: say them in full.
    const known = isPfError(error) ? error : err.oclif?.exit === 2 || isParseError(err) ? this.describeParseError(err) : undefined
    const code = known ? known.code : 'internal_error'
    const exitCode = known ? known.exitCode : (err.oclif?.exit ?? ExitCode.failure)
    const message = known ? known.message : firstLine(err.message)
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify({error: {code, message, ...known?.details}}, null, 2) + '\n')
    } else {
      process.stderr.write(`Error: ${message}\n`)
      if (known?.humanDetail) process.stderr.write(known.humanDetail + '\n')
    }
    if (this.debugEnabled && err.stack) process.stderr.write(err.stack + '\n')
    else if (!known) process.stderr.write('Run again with --debug for details.\n')
    // An ExitError makes oclif exit with our code without printing anything more.
    throw new Errors.ExitError(exitCode)
  }

  /**
   * Turns one of oclif's parse errors ("Missing 1 required arg:", "Parsing --port", "The following error occurred:")
   * into one line that names the flag or argument, says what is wrong, and shows an example of the command.
   */
  private describeParseError(err: Error & {args?: ArgLike[] | string[]; flags?: string[]}): PfError {
    const command = this.ctor as typeof PfCommand & {args?: Record<string, ArgLike>; flags?: Record<string, FlagLike>}
    const flags: Record<string, FlagLike> = {...(command.flags ?? {}), ...(command.baseFlags ?? {}), json: {name: 'json'} as FlagLike}
    const usage = `pf ${(this.id ?? '').replaceAll(':', ' ')}`.trim()
    const text = plain(err.message)
    let what: string
    let about: string | undefined // the flag the example should show
    let suggestion: string | undefined
    if (err.constructor.name === 'RequiredArgsError') {
      const missing = ((err.args ?? []) as ArgLike[]).map(
        a => `${a.name.toUpperCase()}${a.description ? ` (${trimDot(a.description)})` : ''}`,
      )
      what = `${usage} needs the argument${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`
    } else if (err.constructor.name === 'NonExistentFlagsError') {
      const names = Object.entries(flags).flatMap(([name, f]) => [
        `--${name}`,
        ...(f.char ? [`-${f.char}`] : []),
        ...(f.aliases ?? []).map(a => `--${a}`),
      ])
      const unknown = (err.flags ?? []).map(f => f.split('=')[0])
      suggestion = nearest(unknown[0], names)
      what = `${usage} has no flag ${unknown.join(', ')}${suggestion ? `; did you mean ${suggestion}?` : ` (its flags: ${names.filter(n => n.startsWith('--')).join(', ')})`}`
      about = suggestion?.replace(/^-+/, '')
    } else if (err.constructor.name === 'UnexpectedArgsError') {
      const takes = Object.keys(command.args ?? {}).map(a => a.toUpperCase())
      what = `Unexpected argument${(err.args ?? []).length === 1 ? '' : 's'} ${((err.args ?? []) as string[]).join(' ')}: ${usage} takes ${takes.length === 0 ? 'no arguments' : takes.join(' ')}`
    } else if (/^Parsing --/.test(text)) {
      // "Parsing --port \n\tExpected an integer but received: abc\nSee more help with --help"
      const flag = /^Parsing --(\S+)/.exec(text)![1]
      const reason = text
        .split('\n')
        .slice(1)
        .map(l => l.trim())
        .filter(l => l && !l.startsWith('See more help'))
        .join(' ')
      what = `Invalid value for --${flag}: ${lowerFirst(trimDot(reason))}`
      about = flag
    } else if (/^Expected --\S+=/.test(text)) {
      // "Expected --format=xml to be one of: jsonl, otlp-json"
      about = /^Expected --([^=]+)=/.exec(text)![1]
      what = `Invalid value for --${about}: ${lowerFirst(firstLine(text).replace(/^Expected --[^=]+=/, ''))}`.replace(
        /: (\S+) to be one of/,
        ': "$1" is not one of',
      )
    } else {
      // Validation failures: one reason per line after "The following error(s) occurred:".
      const reasons = text
        .split('\n')
        .slice(1)
        .map(l => l.trim())
        .filter(l => l && !l.startsWith('See more help'))
      const sentences = reasons.map(reason => {
        const required = /^Missing required flag (\S+)$/.exec(reason)
        if (required) {
          about ??= required[1]
          return `${usage} needs --${required[1]}${describeFlag(flags[required[1]])}`
        }
        about ??= /--([\w-]+)/.exec(reason)?.[1]
        return reason.replace(/^--(\S+?)(=\S+)? cannot also be provided when using --(\S+)$/, '--$1 cannot be used together with --$3')
      })
      what = sentences.length > 0 ? sentences.join('; ') : firstLine(text)
    }
    const example = exampleFor(command.examples, this.config.bin, about)
    const message = `${what.endsWith('?') ? what : `${trimDot(what)}.`}${example ? ` Example: ${example}` : ''}`
    return new PfError('invalid_arguments', message, ExitCode.usage, {...(suggestion ? {suggestion} : {}), ...(example ? {example} : {})})
  }
}

interface ArgLike {
  name: string
  description?: string
}
interface FlagLike {
  char?: string
  aliases?: string[]
  description?: string
  options?: readonly string[]
}

const isParseError = (err: Error): boolean => /Parse|Args|Flag/.test(err.constructor.name) && err.constructor.name !== 'Error'

// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/\u001B\[[0-9;]*m/g, '')
const trimDot = (text: string): string => text.trim().replace(/\.$/, '')
const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1)

const describeFlag = (flag: FlagLike | undefined): string => {
  if (!flag) return ''
  const parts = [flag.description ? trimDot(flag.description) : undefined, flag.options ? `one of ${flag.options.join(', ')}` : undefined]
  const said = parts.filter(Boolean).join('; ')
  return said ? ` (${said})` : ''
}

/** The command's first example that uses `flag` (else its first example), with the bin name filled in. */
const exampleFor = (examples: unknown, bin: string, flag?: string): string | undefined => {
  const list = (Array.isArray(examples) ? examples : [])
    .map(e => (typeof e === 'string' ? e : ((e as {command?: string}).command ?? '')))
    .map(e => e.replaceAll('<%= config.bin %>', bin).split('  #')[0].trim())
    .filter(Boolean)
  return (flag ? list.find(e => new RegExp(`--${flag}\\b`).test(e)) : undefined) ?? list[0]
}

/** `--name`/`-n` beside a positional NAME (see PfCommand.nameFrom). */
export const nameFlag = (what: string) =>
  Flags.string({char: 'n', description: `${what} name (same as the NAME argument; the reference's spelling).`})

export type PfFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof PfCommand)['baseFlags'] & T['flags']>

const firstLine = (message: string): string => {
  // oclif parse errors carry a multi-line "See more help" tail; users get the first sentence.
  const line = message.split('\n').find(l => l.trim().length > 0) ?? message
  return line.trim()
}

export {PfError}
