import {randomUUID} from 'node:crypto'

import {PfError} from '../errors.js'

/**
 * Prompt templates of prompt flow's `prompt` and `llm` nodes: Jinja2 (see jinja2.ts, loaded on first use), chat
 * prompts split into messages at role lines, and the reference's role escaping, so that a flow input holding
 * "# system:" cannot add a message of its own.
 */

export interface CompiledTemplate {
  /** The template text (`prompt.template` of an llm node's span). */
  source: string
  render(values: Record<string, unknown>): string
  /** Names the template reads. */
  identifiers: Set<string>
}

/** Compiles a template at flow load, so a syntax error is a load-time error naming the file. */
export const compileTemplate = async (source: string, file: string, node: string): Promise<CompiledTemplate> => {
  const {compileJinja2} = await import('./jinja2.js')
  let template: Awaited<ReturnType<typeof compileJinja2>>
  try {
    template = await compileJinja2(source)
  } catch (error) {
    throw new PfError('flow_invalid', `Node "${node}": template ${file} does not compile: ${oneLine(error)}`)
  }
  return {
    source,
    identifiers: template.identifiers,
    render(values) {
      try {
        return template.render(values)
      } catch (error) {
        throw new PfError('template_render_failed', `Node "${node}": rendering ${file} failed: ${oneLine(error)}`, 1)
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
  tool_call_id?: string
  tool_calls?: unknown[]
}

export const chatRoles: ChatRole[] = ['system', 'user', 'assistant', 'function', 'tool']

/** A role line, as prompt flow's parse_chat splits them: `system:`, `# user:`, `#Assistant :` on a line of its own. */
const roleSeparator = () => new RegExp(`^\\s*#?\\s*(${chatRoles.join('|')})\\s*:\\s*\\n`, 'gim')
const nameAndContent = /\n*#{0,2}\s*name\s*:\s*\n+\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?([\s\S]*)/
const toolCallIdAndContent = /\n*#{0,2}\s*tool_call_id\s*:\s*\n+\s*(\S+)\s*\n*#{0,2}\s*content\s*:\s*\n?([\s\S]*)/
const toolCalls = /\n*#{0,2}\s*tool_calls\s*:\s*\n+\s*(\[[\s\S]*?\])/

/** Maps uuid → the role text it stands for in an escaped value. */
export type EscapeMapping = Map<string, string>

const unescape = (text: string, mapping: EscapeMapping): string => {
  let out = text
  for (const [uuid, role] of mapping) out = out.split(uuid).join(role)
  return out
}

/**
 * Splits a rendered chat prompt into messages (prompt flow's parse_chat): text before the first role line must be
 * blank; `function` messages need `name:`/`content:` lines, `tool` messages `tool_call_id:`/`content:`; an assistant
 * message may carry `tool_calls:`. Escaped role text is restored in what is returned.
 */
export const parseChat = (text: string, escapes: EscapeMapping = new Map()): ChatMessage[] => {
  const chunks = text.split(roleSeparator())
  const messages: Array<Partial<ChatMessage> & {role: ChatRole}> = []
  // split() with one capture group alternates text, role, text, role, …
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]
    if (i % 2 === 1) {
      messages.push({role: chunk.toLowerCase() as ChatRole})
      continue
    }
    const last = messages.at(-1)
    if (!last) {
      if (chunk.trim() !== '')
        throw new PfError(
          'prompt_invalid',
          `A chat prompt must start with a role line ("# system:", "# user:" or "# assistant:", each on its own line); found ${JSON.stringify(unescape(chunk.trim(), escapes).slice(0, 40))} before the first role.`,
          1,
        )
      continue
    }
    if (last.role === 'tool') {
      const m = toolCallIdAndContent.exec(chunk)
      if (!m) throw new PfError('prompt_invalid', 'A "tool:" message needs "tool_call_id:" and "content:" lines.', 1)
      last.tool_call_id = m[1]
      last.content = m[2].trim()
      continue
    }
    if (last.role === 'assistant') {
      const m = toolCalls.exec(chunk)
      const calls = m ? parsePythonList(m[1]) : undefined
      if (calls) {
        last.tool_calls = calls
        continue
      }
    }
    const named = nameAndContent.exec(chunk)
    if (named) {
      last.name = named[1]
      last.content = named[2].trim()
    } else if (last.role === 'function') throw new PfError('prompt_invalid', 'A "function:" message needs "name:" and "content:" lines.', 1)
    else last.content = chunk.trim()
  }
  return messages.map(m => {
    const out: ChatMessage = {...m, content: unescape(m.content ?? '', escapes)} as ChatMessage
    if (out.name !== undefined) out.name = unescape(out.name, escapes)
    return out
  })
}

/** `tool_calls:` is written as a Python/JSON list literal; JSON (with Python's True/False/None) is accepted. */
const parsePythonList = (text: string): unknown[] | undefined => {
  try {
    const json = text
      .replace(/'/g, '"')
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null')
    const value = JSON.parse(json)
    return Array.isArray(value) ? value : undefined
  } catch {
    return undefined
  }
}

const roleInValue = () => new RegExp(`^\\s*#?\\s*(${chatRoles.join('|')})\\s*:\\s*\\n`, 'gim')

/** Adds a uuid for every role line text found in a value (strings, and inside lists and objects). */
export const collectRoles = (value: unknown, mapping: EscapeMapping): EscapeMapping => {
  if (typeof value === 'string') {
    const known = new Set(mapping.values())
    for (const m of value.matchAll(roleInValue())) {
      if (known.has(m[1])) continue
      known.add(m[1])
      mapping.set(randomUUID(), m[1])
    }
  } else if (Array.isArray(value)) for (const item of value) collectRoles(item, mapping)
  else if (value && typeof value === 'object') for (const item of Object.values(value)) collectRoles(item, mapping)
  return mapping
}

/** Replaces each role text by its uuid, so the value cannot form a role line when rendered. */
export const escapeRoles = (value: unknown, mapping: EscapeMapping): unknown => {
  if (mapping.size === 0) return value
  if (typeof value === 'string') {
    let out = value
    for (const [uuid, role] of mapping) out = out.split(role).join(uuid)
    return out
  }
  if (Array.isArray(value)) return value.map(v => escapeRoles(v, mapping))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeRoles(v, mapping)]))
  return value
}

/** A prompt node's output with what its escaped rendering was (prompt flow's PromptResult). */
export interface PromptResult {
  escaped: string
  mapping: EscapeMapping
}

/**
 * Renders a template with role escaping: values of `toEscape` (node inputs taken straight from flow inputs) and
 * prompt results from earlier prompt nodes render escaped. Returns the plain rendering and, if anything was
 * escaped, the escaped rendering and its mapping.
 */
export const renderEscaped = (
  template: CompiledTemplate,
  values: Record<string, unknown>,
  toEscape: string[],
  promptResults: Record<string, PromptResult> = {},
): {text: string; escaped?: PromptResult} => {
  const text = template.render(values)
  const mapping: EscapeMapping = new Map()
  for (const result of Object.values(promptResults)) for (const [k, v] of result.mapping) mapping.set(k, v)
  for (const name of toEscape) collectRoles(values[name], mapping)
  if (mapping.size === 0) return {text}
  const escapedValues: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(values))
    escapedValues[name] = promptResults[name] ? promptResults[name].escaped : toEscape.includes(name) ? escapeRoles(value, mapping) : value
  return {text, escaped: {escaped: template.render(escapedValues), mapping}}
}
