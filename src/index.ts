export type * from './contract/destination.js'
export {PfError, ExitCode} from './errors.js'
