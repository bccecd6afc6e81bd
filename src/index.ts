export type * from './tracing/destination.js'
export {PfError, ExitCode} from './errors.js'
