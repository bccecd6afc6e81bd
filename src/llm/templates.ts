import {PfError} from '../errors.js'

/**
 * Jinja2 prompt templates (prompt flow's `prompt` and `llm` nodes), rendered with nunjucks (Jinja2-compatible,
 * loaded on first use) with prompt flow's settings: no autoescape, trim_blocks, trailing newline kept.
 */

export interface CompiledTemplate {
  render(values: Record<string, unknown>): string
}

/** Compiles a template at flow load, so a syntax error is a load-time error naming the file. */
export const compileTemplate = async (source: string, file: string, node: string): Promise<CompiledTemplate> => {
  const nunjucks = (await import('nunjucks')).default
  const env = new nunjucks.Environment(null, {autoescape: false, trimBlocks: true, throwOnUndefined: false})
  let template: InstanceType<typeof nunjucks.Template>
  try {
    template = new nunjucks.Template(source, env, file, true)
  } catch (error) {
    throw new PfError('flow_invalid', `Node "${node}": template ${file} does not compile: ${oneLine(error)}`)
  }
  return {
    render(values) {
      try {
        return template.render(values)
      } catch (error) {
        throw new Error(`Node "${node}": rendering ${file} failed: ${oneLine(error)}`)
      }
    },
  }
}

const oneLine = (error: unknown): string =>
  String((error as Error)?.message ?? error)
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
    .join(' ')

export type ChatRole = 'system' | 'user' | 'assistant' | 'function' | 'tool'

export interface ChatMessage {
  role: ChatRole
  content: string
  name?: string
}

export const chatRoles: ChatRole[] = ['system', 'user', 'assistant', 'function', 'tool']

/** A line that is only a role marker: `system:`, `# user:`, `#Assistant :` (prompt flow's parse_chat). */
const roleLine = new RegExp(`^[ \\t]*#?[ \\t]*(${chatRoles.join('|')})[ \\t]*:[ \\t]*$`, 'im')
const nameAndContent = /^\s*#{0,2}\s*name\s*:\s*\n*\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?([\s\S]*)$/

/**
 * Splits a rendered chat prompt into messages at role marker lines. Text before the first marker must be blank.
 * A `function` message needs `name:` and `content:` lines; other roles may have them.
 */
export const parseChat = (text: string): ChatMessage[] => {
  const splitter = new RegExp(roleLine.source, 'gim')
  const markers = [...text.matchAll(splitter)]
  const lead = text.slice(0, markers[0]?.index ?? text.length)
  if (lead.trim() !== '' || markers.length === 0)
    throw new PfError(
      'prompt_invalid',
      `A chat prompt must start with a role line ("# system:", "# user:" or "# assistant:", each on its own line); found ${JSON.stringify(lead.trim().slice(0, 40))} before the first role.`,
      1,
    )
  return markers.map((m, i) => {
    const role = m[1].toLowerCase() as ChatRole
    const start = m.index! + m[0].length
    const end = markers[i + 1]?.index ?? text.length
    const body = text.slice(start, end).replace(/^\r?\n/, '')
    const named = nameAndContent.exec(body)
    if (named) return {role, name: named[1], content: named[2].trim()}
    if (role === 'function') throw new PfError('prompt_invalid', 'A "function:" message needs "name:" and "content:" lines.', 1)
    return {role, content: body.trim()}
  })
}
