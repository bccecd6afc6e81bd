/**
 * `trace.otlp.headers`: `name=value,name2=${env:VAR}`. Stored as written (so pf.yaml holds the placeholder, not
 * the secret); placeholders are resolved from the environment each time a batch is sent.
 */

export const headersKey = 'trace.otlp.headers'

const placeholder = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g
// RFC 9110 token characters.
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * CR/LF would split a header (header injection); Node refuses characters above U+00FF only when the request is sent.
 * Checked on `pf config set`, on values read from pf.yaml and on values resolved from the environment.
 */
// Control characters are what this check is about.
/* eslint-disable no-control-regex */
const valueProblem = (value: string): string | undefined =>
  /[\r\n]/.test(value)
    ? 'contains a line break (CR/LF)'
    : /[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)
      ? 'contains a control character'
      : /[^\u0000-\u00ff]/.test(value)
        ? 'contains characters outside Latin-1'
        : undefined
/* eslint-enable no-control-regex */

interface HeaderEntry {
  name: string
  value: string
}

const splitEntries = (text: string): HeaderEntry[] =>
  text
    .split(',')
    .map(part => part.trim())
    .filter(Boolean)
    .map(part => {
      const eq = part.indexOf('=')
      const name = eq > 0 ? part.slice(0, eq).trim() : ''
      // The value is never echoed: it may be a literal secret.
      if (!headerName.test(name)) throw new Error(`"${eq > 0 ? name : part.slice(0, 40)}" is not NAME=VALUE with a valid header name`)
      return {name, value: part.slice(eq + 1).trim()}
    })

/** Checks the syntax on `pf config set`; returns the text to store. Environment variables are not read here. */
export const parseHeadersSetting = (text: string): string => {
  const entries = splitEntries(text)
  for (const {name, value} of entries) {
    const problem = valueProblem(value)
    if (problem) throw new Error(`the value of header ${name} ${problem}; header values are printable ASCII`)
    const rest = value.replace(placeholder, '')
    if (rest.includes('${')) throw new Error(`header ${name} has a malformed placeholder; write \${env:VARIABLE}`)
  }
  return entries.map(e => `${e.name}=${e.value}`).join(',')
}

/** The headers to send, with `${env:VAR}` resolved. Throws (naming the variable, never a value) when one is unset. */
export const resolveHeaders = (setting: unknown, env: NodeJS.ProcessEnv): Record<string, string> => {
  if (setting === undefined || setting === null || setting === '') return {}
  const headers: Record<string, string> = {}
  let entries: HeaderEntry[]
  try {
    entries = splitEntries(String(setting))
    for (const {name, value} of entries) {
      const problem = valueProblem(value)
      if (problem) throw new Error(`the value of header ${name} ${problem}`)
    }
  } catch (error) {
    throw new Error(`${headersKey}: ${(error as Error).message}`)
  }
  for (const {name, value} of entries) {
    headers[name] = value.replace(placeholder, (_, variable: string) => {
      const resolved = env[variable]
      if (resolved === undefined) throw new Error(`${headersKey}: environment variable ${variable} (header ${name}) is not set`)
      const problem = valueProblem(resolved)
      if (problem) throw new Error(`${headersKey}: environment variable ${variable} (header ${name}) ${problem}`)
      return resolved
    })
  }
  return headers
}
