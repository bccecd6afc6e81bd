import {chmodSync, existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {closest} from 'fastest-levenshtein'

import {ensurePrivateDir, pfHome} from '../paths.js'
import {ExitCode, PfError} from '../errors.js'
import {withFileLock} from '../util/file-lock.js'
import {parseYaml} from '../util/yaml.js'

/**
 * Connections: named endpoints + credentials that flows use for LLM calls (prompt flow's `open_ai` and
 * `azure_open_ai` types). Stored in `<pf home>/connections.json` (0600, atomic writes). A value may be
 * `${env:VAR}`: it is stored as the reference and resolved when a flow uses it, so the secret itself need never be
 * on disk. Secret fields are never printed, logged or put in spans.
 */

export type ConnectionType = 'open_ai' | 'azure_open_ai'

interface FieldSpec {
  name: string
  required: boolean
  secret: boolean
  default?: string
}

const schemas: Record<ConnectionType, FieldSpec[]> = {
  open_ai: [
    {name: 'api_key', required: true, secret: true},
    {name: 'base_url', required: false, secret: false},
    {name: 'organization', required: false, secret: false},
  ],
  azure_open_ai: [
    {name: 'api_key', required: true, secret: true},
    {name: 'api_base', required: true, secret: false},
    {name: 'api_version', required: false, secret: false, default: '2024-10-21'},
  ],
}

/** Keys a prompt flow connection file may carry that pf does not use. */
const ignoredKeys = new Set(['$schema', 'api_type', 'auth_mode', 'module', 'description'])

export interface Connection {
  name: string
  type: ConnectionType
  /** Field values as written (secrets included, `${env:VAR}` references unresolved). */
  values: Record<string, string>
  created_date: string
  last_modified_date: string
}

/** What `show`/`list` return: secrets masked, env references shown as written (they are not secrets). */
export interface ConnectionView {
  name: string
  type: ConnectionType
  [field: string]: string
}

export const maskedSecret = '******'
const envReference = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/
const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
/** Names that mean something to JavaScript objects; refused so no code path can ever confuse them with a connection. */
const reservedNames = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'])

/** Why `name` is not a usable connection name, or undefined when it is. */
export const connectionNameProblem = (name: string): string | undefined => {
  if (!namePattern.test(name))
    return `connection name "${name.slice(0, 130)}" may only use letters, digits, "_", "-" and ".", starting with a letter, digit or "_"`
  if (reservedNames.has(name)) return `"${name}" is a reserved name; choose another connection name`
  return undefined
}

/** connections.json in memory: a Map, so a name is never an object key (no prototype surprises). */
interface ConnectionFile {
  version: 1
  connections: Map<string, Connection>
}

export const connectionsFile = (env: NodeJS.ProcessEnv = process.env): string => path.join(pfHome(env), 'connections.json')

const readAll = (env?: NodeJS.ProcessEnv): ConnectionFile => {
  const file = connectionsFile(env)
  if (!existsSync(file)) return {version: 1, connections: new Map()}
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as {connections?: unknown}
    if (!data || !data.connections || typeof data.connections !== 'object' || Array.isArray(data.connections))
      throw new Error('no "connections" mapping')
    // A hand-edited file with a reserved or malformed name: that entry is skipped, never used.
    const entries = Object.entries(data.connections as Record<string, Connection>).filter(
      ([name]) => connectionNameProblem(name) === undefined,
    )
    return {version: 1, connections: new Map(entries)}
  } catch (error) {
    throw new PfError(
      'connections_unreadable',
      `Cannot read ${file}: ${(error as Error).message}; fix or remove the file.`,
      ExitCode.failure,
    )
  }
}

/** Atomic write (temp file + rename), user-only. */
const writeAll = (data: ConnectionFile, env?: NodeJS.ProcessEnv): void => {
  const file = connectionsFile(env)
  ensurePrivateDir(path.dirname(file))
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify({version: data.version, connections: Object.fromEntries(data.connections)}, null, 2) + '\n', {
    mode: 0o600,
  })
  chmodSync(temp, 0o600)
  renameSync(temp, file)
}

const isSecretField = (type: ConnectionType, field: string): boolean => schemas[type].some(f => f.name === field && f.secret)

export const toView = (c: Connection): ConnectionView => {
  const view: ConnectionView = {name: c.name, type: c.type}
  for (const [field, value] of Object.entries(c.values))
    view[field] = isSecretField(c.type, field) && !envReference.test(value) ? maskedSecret : value
  view.created_date = c.created_date
  view.last_modified_date = c.last_modified_date
  return view
}

const unknownName = (name: string, all: ConnectionFile): PfError => {
  const names = [...all.connections.keys()]
  const near = names.length > 0 ? closest(name, names) : undefined
  return new PfError(
    'connection_not_found',
    `No connection named "${name}"` +
      (near ? `; did you mean "${near}"?` : names.length === 0 ? '; create one with `pf connection create --file conn.yaml`.' : '.'),
  )
}

/** Validates a connection definition (the parsed YAML) into a connection; every problem names the file. */
export const parseConnection = (
  data: unknown,
  file: string,
  nameOverride?: string,
): Omit<Connection, 'created_date' | 'last_modified_date'> => {
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw new PfError('connection_invalid', `${file}: a connection file must be a YAML mapping (name, type, fields).`)
  const raw = data as Record<string, unknown>
  const name = nameOverride ?? raw.name
  if (typeof name !== 'string' || name.trim() === '')
    throw new PfError('connection_invalid', `${file}: "name" is missing; add "name: my_connection" or pass --name.`)
  const problem = connectionNameProblem(name)
  if (problem) throw new PfError('connection_invalid', `${file}: ${problem}.`)
  const type = raw.type
  const types = Object.keys(schemas)
  if (typeof type !== 'string' || !(type in schemas))
    throw new PfError(
      'connection_invalid',
      `${file}: unknown connection type ${JSON.stringify(type ?? null)}; use one of ${types.join(', ')}.`,
    )
  const schema = schemas[type as ConnectionType]
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'name' || key === 'type' || ignoredKeys.has(key)) continue
    const field = schema.find(f => f.name === key)
    if (!field) {
      const near = closest(
        key,
        schema.map(f => f.name),
      )
      throw new PfError(
        'connection_invalid',
        `${file}: unknown field "${key}" for type ${type}; did you mean "${near}"? Fields: ${schema.map(f => f.name).join(', ')}.`,
      )
    }
    if (value === null || value === undefined || value === '') continue
    // YAML reads an unquoted api_version like 2024-10-21 as a date.
    if (value instanceof Date) {
      values[key] = value.toISOString().slice(0, 10)
      continue
    }
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new PfError('connection_invalid', `${file}: "${key}" must be a string.`)
    values[key] = String(value)
  }
  for (const field of schema) {
    if (values[field.name] === undefined && field.default !== undefined) values[field.name] = field.default
    if (field.required && values[field.name] === undefined)
      throw new PfError(
        'connection_invalid',
        `${file}: type ${type} requires "${field.name}"` +
          (field.secret ? ' (e.g. "${env:OPENAI_API_KEY}" to keep it out of files).' : '.'),
      )
  }
  return {name, type: type as ConnectionType, values}
}

export interface CreateResult {
  connection: ConnectionView
  created: boolean
  path: string
}

/** `pf connection create`: adds or replaces a connection from a YAML file (`overrides`: `--set field=value`, over the file). */
export const createConnection = async (
  file: string,
  nameOverride?: string,
  env?: NodeJS.ProcessEnv,
  overrides: Record<string, string> = {},
): Promise<CreateResult> => {
  const source = path.resolve(file)
  let text: string
  try {
    text = readFileSync(source, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new PfError(
      'connection_file_not_found',
      code === 'ENOENT'
        ? `${source} does not exist; pass --file with a connection YAML file.`
        : `Cannot read ${source}: ${(error as Error).message}`,
    )
  }
  const data = await parseYaml(text, source, 'connection_invalid')
  const withOverrides =
    data && typeof data === 'object' && !Array.isArray(data) ? {...(data as Record<string, unknown>), ...overrides} : data
  const parsed = parseConnection(withOverrides, source, nameOverride)
  // Read-modify-write under the file's lock: concurrent `pf connection create` runs all persist.
  return withFileLock(connectionsFile(env), () => {
    const all = readAll(env)
    const now = new Date().toISOString()
    const existing = all.connections.get(parsed.name)
    const connection: Connection = {...parsed, created_date: existing?.created_date ?? now, last_modified_date: now}
    all.connections.set(parsed.name, connection)
    writeAll(all, env)
    return {connection: toView(connection), created: !existing, path: connectionsFile(env)}
  })
}

/** `pf connection update`: changes fields of a stored connection (validated like a file; nothing written on error). */
export const updateConnection = (name: string, changes: Record<string, string>, env?: NodeJS.ProcessEnv): Promise<CreateResult> => {
  if (Object.keys(changes).length === 0)
    throw new PfError('invalid_arguments', 'Nothing to update; pass --set FIELD=VALUE, e.g. --set api_key=${env:OPENAI_API_KEY}.')
  if ('name' in changes || 'type' in changes)
    throw new PfError(
      'invalid_arguments',
      `--set cannot change a connection's name or type; create a new connection with \`pf connection create\`.`,
    )
  return withFileLock(connectionsFile(env), () => {
    const all = readAll(env)
    const existing = all.connections.get(name)
    if (!existing) throw unknownName(name, all)
    const parsed = parseConnection({name, type: existing.type, ...existing.values, ...changes}, `connection "${name}"`)
    const connection: Connection = {...parsed, created_date: existing.created_date, last_modified_date: new Date().toISOString()}
    all.connections.set(name, connection)
    writeAll(all, env)
    return {connection: toView(connection), created: false, path: connectionsFile(env)}
  })
}

export const listConnections = (env?: NodeJS.ProcessEnv): ConnectionView[] =>
  [...readAll(env).connections.values()].sort((a, b) => a.name.localeCompare(b.name)).map(toView)

export const showConnection = (name: string, env?: NodeJS.ProcessEnv): ConnectionView => {
  const all = readAll(env)
  const c = all.connections.get(name)
  if (!c) throw unknownName(name, all)
  return toView(c)
}

export const deleteConnection = (name: string, env?: NodeJS.ProcessEnv): Promise<{name: string; deleted: true}> =>
  withFileLock(connectionsFile(env), () => {
    const all = readAll(env)
    if (!all.connections.delete(name)) throw unknownName(name, all)
    writeAll(all, env)
    return {name, deleted: true as const}
  })

/** A connection with `${env:VAR}` values resolved, for making calls. Never print or trace it. */
export interface ResolvedConnection {
  name: string
  type: ConnectionType
  values: Record<string, string>
}

/** Resolves a connection for use (at call time, so env changes are seen); an unset variable is an error naming it. */
export const resolveConnection = (name: string, env: NodeJS.ProcessEnv = process.env): ResolvedConnection => {
  const all = readAll(env)
  const c = all.connections.get(name)
  if (!c) throw unknownName(name, all)
  const values: Record<string, string> = {}
  for (const [field, value] of Object.entries(c.values)) {
    const ref = envReference.exec(value)
    if (!ref) {
      values[field] = value
      continue
    }
    const resolved = env[ref[1]]
    if (resolved === undefined || resolved === '')
      throw new PfError(
        'connection_env_unset',
        `Connection "${name}": ${field} is \${env:${ref[1]}} but ${ref[1]} is not set; set it in the environment.`,
      )
    values[field] = resolved
  }
  return {name: c.name, type: c.type, values}
}
