import {closest, distance} from 'fastest-levenshtein'

import {PfError} from '../errors.js'

/** A typed config key. `parse` turns the text given on the command line into the stored value or throws. */
export interface ConfigKey {
  key: string
  description: string
  default?: unknown
  /** Validated through the destination registry instead of `parse` (see config/service.ts). */
  destination?: boolean
  parse?(value: string): unknown
}

const invalid = (key: string, value: string, accepted: string) =>
  new PfError('invalid_value', `Invalid value "${value}" for ${key}; accepted: ${accepted}.`)

const nonEmpty = (key: string, what: string) => (value: string) => {
  if (value.trim() === '') throw invalid(key, value, what)
  return value.trim()
}

const loopbackHosts = /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i

/** Whether `host` is a loopback address (the only kind the local viewer may bind, whatever the source). */
export const isLoopbackHost = (host: string): boolean => loopbackHosts.test(host.trim())

/**
 * HTTP header values: visible ASCII, space, tab and Latin-1. CR/LF would split a header (header injection) and
 * Node refuses anything above U+00FF at request time, far from where the value was set.
 */
export const headerValueProblem = (value: string): string | undefined => {
  if (/[\r\n]/.test(value)) return 'it contains a line break (CR/LF)'
  // Control characters are what this check is about.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return 'it contains a control character'
  // eslint-disable-next-line no-control-regex
  if (/[^\u0000-\u00ff]/.test(value)) return 'it contains characters outside Latin-1 (not allowed in HTTP headers)'
  return undefined
}

export const coreKeys: ConfigKey[] = [
  {
    key: 'trace.destination',
    description: 'Where traces go: local (default), none, azureml, an azureml:// workspace id, or a plugin URL; comma-separate several',
    default: 'local',
    destination: true,
  },
  {
    key: 'trace.export_wait',
    description: 'Seconds a traced command waits at its end for remote destinations before leaving the rest to `pf trace sync` (default 1)',
    default: 1,
    parse(value) {
      const v = value.trim()
      const seconds = Number(v)
      if (v === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 3600)
        throw invalid('trace.export_wait', value, 'a number of seconds from 0 to 3600')
      return seconds
    },
  },
  {
    key: 'connection.provider',
    description: 'Where connections live: local, or an azureml:// workspace id',
    default: 'local',
    parse(value) {
      const v = value.trim()
      if (v.toLowerCase() === 'local') return 'local'
      if (
        /^azureml:\/\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.machinelearningservices\/workspaces\/[^/]+$/i.test(
          v,
        )
      )
        return v
      throw invalid(
        'connection.provider',
        value,
        'local, azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>',
      )
    },
  },
  {
    key: 'run.output_path',
    description: 'Folder where batch run outputs are written (default: the pf home)',
    parse: nonEmpty('run.output_path', 'a folder path'),
  },
  {
    key: 'telemetry.enabled',
    description: 'Whether pf may send usage telemetry (true or false)',
    default: false,
    parse(value) {
      const v = value.trim().toLowerCase()
      if (v === 'true') return true
      if (v === 'false') return false
      throw invalid('telemetry.enabled', value, 'true, false')
    },
  },
  {
    key: 'service.host',
    description: 'Address the local trace service binds to (loopback only)',
    default: '127.0.0.1',
    parse(value) {
      const v = value.trim()
      if (!loopbackHosts.test(v)) throw invalid('service.host', value, 'a loopback address: 127.0.0.1, localhost, ::1')
      return v
    },
  },
  {
    key: 'user_agent',
    description: 'Extra text appended to the User-Agent of pf HTTP requests',
    parse(value) {
      const v = nonEmpty('user_agent', 'a non-empty string')(value)
      const problem = headerValueProblem(v)
      if (problem) throw new PfError('invalid_value', `Invalid value for user_agent: ${problem}; use printable ASCII text.`)
      return v
    },
  },
]

export const findCoreKey = (key: string): ConfigKey | undefined => coreKeys.find(k => k.key === key)

export const unknownKeyError = (key: string, known: string[]): PfError => {
  const suggestion = closest(key, known)
  const near = suggestion && distance(key, suggestion) <= Math.max(3, Math.floor(key.length / 3))
  return new PfError(
    'unknown_key',
    `Unknown config key "${key}".${near ? ` Did you mean "${suggestion}"?` : ''} Known keys: ${known.join(', ')}.`,
  )
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

/** Every dotted leaf key of a config mapping (`{trace: {destination: x}}` → `trace.destination`). */
export const leafKeys = (data: Record<string, unknown>, prefix = ''): string[] =>
  Object.entries(data).flatMap(([k, v]) => (isPlainObject(v) ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]))

/**
 * Checks the values a pf.yaml holds with the same parsers as `pf config set`: a hand-edited (or hostile, e.g. a
 * cloned repository's project file) value gets the same checks as a typed one. Keys that `keys` does not know are
 * left alone (a plugin's key is checked by `validateConfigData` with the plugin's keys, once plugins are loaded).
 * Throws one line naming the file and the key.
 */
export const validateConfigData = (data: Record<string, unknown>, file: string, keys: ConfigKey[] = coreKeys): void => {
  const fail = (key: string, problem: string) =>
    new PfError('config_invalid', `${file}: ${key}: ${problem} Fix the value in the file, or replace it with \`pf config set\`.`)
  for (const spec of keys) {
    const parts = spec.key.split('.')
    let node: unknown = data
    for (const [i, part] of parts.entries()) {
      if (node === undefined) break
      if (!isPlainObject(node)) throw fail(parts.slice(0, i).join('.'), 'must be a mapping of keys.')
      node = Object.hasOwn(node, part) ? node[part] : undefined
    }
    if (node === undefined || node === null) continue
    if (typeof node === 'object') throw fail(spec.key, `must be a single value, not a ${Array.isArray(node) ? 'list' : 'mapping'}.`)
    if (spec.destination) {
      if (typeof node !== 'string' || node.trim() === '')
        throw fail(spec.key, `must be text such as local, none, azureml or a destination URL (got ${JSON.stringify(node)}).`)
      continue
    }
    if (!spec.parse) continue
    if (typeof node !== 'string' && typeof node !== 'number' && typeof node !== 'boolean')
      throw fail(spec.key, `has an unsupported value of type ${typeof node}.`)
    try {
      spec.parse(String(node))
    } catch (error) {
      throw fail(spec.key, (error as Error).message.replace(/\.?$/, '.'))
    }
  }
}
