import path from 'node:path'

import {ConfigService} from '../config/service.js'
import {ExitCode, PfError, describeLineError} from '../errors.js'
import {startViewerForLinks} from '../service/lifecycle.js'
import type {TraceLinks} from '../tracing/links.js'
import type {RegistryLoader} from '../tracing/registry.js'
import {type ExportReport, TracingSession, collectionForFlow, exportWaitMs} from '../tracing/session.js'
import {redirectConsole} from './console.js'
import {type LineError, runLine} from './executor.js'
import {resolveInputs} from './inputs.js'
import {loadFlow} from './load.js'

export interface FlowTestOptions {
  flow: string
  inputs: Record<string, unknown>
  init?: Record<string, unknown>
  node?: string
  /** `${node.variant_id}` (DAG flows). */
  variant?: string
  environmentVariables?: Record<string, unknown>
  /** Seconds to wait for remote destinations at the end (default: trace.export_wait). */
  exportWaitSeconds?: number
  cwd?: string
}

export interface FlowTestResult {
  flow: string
  status: 'Completed' | 'Failed'
  inputs: Record<string, unknown>
  output?: unknown
  error?: LineError
  traceId?: string
  lineRunId: string
  collection: string
  links?: TraceLinks
  export: ExportReport[]
}

/** Keeps the frames of a user error that point into the flow's own code (pf's and packages' frames are noise to them). */
export const userStack = (error: LineError, flowDir: string): string | undefined => {
  const frames = (error.stack ?? '').split('\n').filter(l => /^\s+at /.test(l) && l.includes(flowDir) && !/[/\\]node_modules[/\\]/.test(l))
  return frames.length > 0 ? frames.join('\n') : undefined
}

/** What `pf flow test` (one line, or a chat) works with: the loaded flow and its tracing session. */
export const openFlowSession = async (registry: RegistryLoader, options: FlowTestOptions) => {
  const cwd = options.cwd ?? process.cwd()
  const {reader: config} = await new ConfigService(registry, cwd).load()
  await TracingSession.preload(config)
  const flow = await loadFlow(path.resolve(cwd, options.flow), {
    init: options.init,
    variant: options.variant,
    environmentVariables: options.environmentVariables,
  })
  const collection = collectionForFlow(flow.dir)
  const startSession = () => TracingSession.start({registry, config, collection, cwd, flowDir: flow.dir})
  return {flow, collection, config, startSession}
}

/** `pf flow test`: one line of a flow, traced to the configured destinations. */
export const testFlow = async (registry: RegistryLoader, options: FlowTestOptions): Promise<FlowTestResult> => {
  const {flow, collection, config, startSession} = await openFlowSession(registry, options)
  if (options.node && flow.kind !== 'dag')
    throw new PfError('invalid_arguments', '--node runs one node of a DAG flow; this is a flex flow.')
  if (options.node && !flow.nodes?.includes(options.node))
    throw new PfError('invalid_arguments', `No node "${options.node}" in ${flow.file}; nodes are: ${(flow.nodes ?? []).join(', ')}.`)
  // A single node takes its own inputs (or the flow inputs / node outputs it references), not the flow's.
  const inputs = options.node ? options.inputs : resolveInputs(flow, options.inputs)
  const session = await startSession()

  const restoreConsole = redirectConsole(text => process.stderr.write(text))
  let line: Awaited<ReturnType<typeof runLine>>
  try {
    line = await runLine(flow, inputs, {node: options.node})
  } finally {
    restoreConsole()
  }

  const exportReports = session ? await session.finish(exportWaitMs(config, options.exportWaitSeconds), {exitIfHeld: true}) : []
  const links =
    session && line.traceId ? await session.links({collection, traceId: line.traceId}, () => startViewerForLinks(config)) : undefined
  const result: FlowTestResult = {
    flow: flow.dir,
    status: line.status,
    inputs,
    output: line.output,
    error: line.error,
    traceId: line.traceId,
    lineRunId: line.lineRunId,
    collection,
    links,
    export: exportReports,
  }
  if (line.status === 'Failed') {
    const {error, ...rest} = result
    throw new PfError(
      'flow_failed',
      `Flow failed: ${describeLineError(line.error!)}`,
      ExitCode.failure,
      rest,
      userStack(line.error!, flow.dir),
    )
  }
  return result
}
