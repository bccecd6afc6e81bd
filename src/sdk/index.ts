/**
 * What user code imports: `import {trace, startTrace, logMetric} from 'pf/sdk'`.
 * Inside `pf flow test` / `pf run create` tracing is already on; `startTrace()` turns it on in a plain script.
 */
export {trace, type TraceOptions} from './trace.js'
export {startTrace, type StartTraceOptions, type TraceHandle} from './start-trace.js'
export {logMetric} from './metrics.js'
