import type {TraceDestinationProvider} from '../../contract/destination.js'
import {PfError} from '../../errors.js'

/** The built-in local store destination (SQLite under the pf home). On unless trace.destination is `none`. */
export const localProvider: TraceDestinationProvider = {
  scheme: 'local',
  description: 'The local trace store (SQLite under the pf home)',
  examples: ['local'],
  local: true,
  async validate(value: string) {
    if (value.trim().toLowerCase() !== 'local') throw new PfError('invalid_value', `"${value}" is not a local destination; use "local".`)
  },
  async resolve(value: string) {
    return {scheme: 'local', value, key: 'local'}
  },
  exporter() {
    throw new PfError('not_available', 'The local store is written directly, not through an exporter.', 1)
  },
}
