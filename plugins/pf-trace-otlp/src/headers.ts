/**
 * `trace.otlp.headers`: `name=value,name2=${env:VAR}`. Stored as written (so pf.yaml holds the placeholder, not
 * the secret); placeholders are resolved from the environment each time a batch is sent.
 */

export const headersKey = 'trace.otlp.headers'

const placeholder = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g
// RFC 9110 token characters.
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

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
  } catch (error) {
    throw new Error(`${headersKey}: ${(error as Error).message}`)
  }
  for (const {name, value} of entries) {
    headers[name] = value.replace(placeholder, (_, variable: string) => {
      const resolved = env[variable]
      if (resolved === undefined) throw new Error(`${headersKey}: environment variable ${variable} (header ${name}) is not set`)
      return resolved
    })
  }
  return headers
}
