import {PfError} from '../errors.js'
import type {LoadedFlow} from './types.js'

export const loadDagFlow = async (_dir: string, file: string): Promise<LoadedFlow> => {
  throw new PfError('not_available', `${file}: DAG flows are not supported by this build yet.`)
}
