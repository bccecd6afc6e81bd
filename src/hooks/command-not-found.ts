import {Errors, type Hook} from '@oclif/core'

import {ExitCode} from '../errors.js'
import {nearest} from '../suggest.js'

/**
 * `pf flow tset` → "Did you mean `pf flow test`?", exit 2, `{"error":{…}}` under --json.
 * (@oclif/plugin-not-found exits 127, names the command as `flow:tset` and only offers the suggestion as an
 * interactive prompt, so a script sees no suggestion; this hook is its non-interactive equivalent.)
 */
const hook: Hook<'command_not_found'> = async function ({argv = [], config, id}) {
  const visible = config.commands.filter(c => !c.hidden).flatMap(c => [c.id, ...c.aliases])
  const spaced = (commandId: string) => commandId.replaceAll(':', ' ')
  const words = [...id.split(':'), ...argv.filter(a => !a.startsWith('-')).slice(0, 1)]
  // `pf flw test` arrives as id "flw" with argv ["test"]: try the words with and without the next one.
  const tries = [id, words.join(':')].map(t => ({typed: t, match: nearest(t, visible)}))
  const best = tries.find(t => t.match && t.match.split(':').length === t.typed.split(':').length) ?? tries.find(t => t.match)
  const typed = `${config.bin} ${spaced(id)}`
  const topic = config.findTopic(id.split(':')[0]) ? ` ${id.split(':')[0]}` : ''
  const suggestion = best?.match ? `${config.bin} ${spaced(best.match)}` : undefined
  const message = `\`${typed}\` is not a ${config.bin} command.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''} Run \`${config.bin}${topic} --help\` for the list of commands.`
  if (argv.includes('--json'))
    process.stdout.write(JSON.stringify({error: {code: 'command_not_found', message, ...(suggestion ? {suggestion} : {})}}, null, 2) + '\n')
  else process.stderr.write(`Error: ${message}\n`)
  throw new Errors.ExitError(ExitCode.usage)
}

export default hook
