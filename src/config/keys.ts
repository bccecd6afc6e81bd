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

export const coreKeys: ConfigKey[] = [
  {
    key: 'trace.destination',
    description: 'Where traces go: local (default), none, azureml, an azureml:// workspace id, or a plugin URL; comma-separate several',
    default: 'local',
    destination: true,
  },
  {
    key: 'connection.provider',
    description: 'Where connections live: local, or an azureml:// workspace id',
    default: 'local',
    parse(value) {
      const v = value.trim()
      if (v.toLowerCase() === 'local') return 'local'
      if (/^azureml:\/\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.machinelearningservices\/workspaces\/[^/]+$/i.test(v)) return v
      throw invalid('connection.provider', value, 'local, azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>')
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
    parse: nonEmpty('user_agent', 'a non-empty string'),
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
