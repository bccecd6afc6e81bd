/**
 * Run tracking (spec promptflow-cloud-2 §3): the blob paths of an uploaded run and the requests that make it a
 * run record in the workspace. Pure builders: no I/O, so each body can be checked field by field.
 */
import {datastoreUri} from './datastore.js'
import {type WorkspaceTriad, workspaceArmPath} from './workspace.js'

/** The datastores the reference writes a run to. */
export const DefaultDatastore = 'workspaceblobstore'
export const ArtifactDatastore = 'workspaceartifactstore'

export const artifactsRoot = (run: string) => `promptflow/PromptFlowArtifacts/${run}`
export const instanceResultsPath = (run: string) => `${artifactsRoot(run)}/instance_results.jsonl`
export const snapshotRoot = (run: string) => `runs/${run}`
export const executionLogPath = (run: string) => `ExperimentRun/dcid.${run}/logs/azureml/executionlogs.txt`

/** prompt flow's experiment name of a flow folder: lower case, non-word runs as one `_`, no leading digit. */
export const experimentNameOf = (flowFolderName: string): string => {
  let name = flowFolderName.toLowerCase().replace(/[\W_]/gu, ' ').replace(/ +/g, ' ').trim()
  if (/^\d/.test(name)) name = 'n' + name
  return name.replace(/ /g, '_')
}

export interface ServiceRequest {
  method: 'GET' | 'POST' | 'PATCH'
  url: string
  body?: unknown
}

/** Where a workspace's services are: its flow service base URL (discovery URL cut before `discovery`). */
export interface TrackingScope {
  workspace: WorkspaceTriad
  serviceBaseUrl: string
}

const servicePath = (scope: TrackingScope, service: string) => `${scope.serviceBaseUrl}/${service}${workspaceArmPath(scope.workspace)}`

/** Registers `instance_results.jsonl` as an artifact of the run (what the portal's table view reads). */
export const registerArtifactRequest = (scope: TrackingScope, run: string, datastore = DefaultDatastore): ServiceRequest => ({
  method: 'POST',
  url: `${servicePath(scope, 'artifact/v2.0')}/artifacts/register`,
  body: {
    origin: 'ExperimentRun',
    container: `dcid.${run}`,
    path: 'instance_results.jsonl',
    dataPath: {dataStoreName: datastore, relativePath: instanceResultsPath(run)},
  },
})

/** What `BulkRuns/create` needs to know about a finished local run. */
export interface BulkRunFacts {
  name: string
  displayName?: string | null
  status: string
  /** The run's creation time (ISO 8601). */
  createdOn: string
  endedOn?: string | null
  description?: string | null
  tags: Record<string, string>
  /** The base run of an evaluation run. */
  baseRun?: string | null
  /** The flow folder's name. */
  flowFolderName: string
  /** The flow file inside the snapshot (flow.dag.yaml, flow.flex.yaml, x.prompty). */
  flowFile: string
  tokens: {total: number; completion: number; prompt: number}
  /** `runType` and the like: user properties the reference passes on. */
  userProperties?: Record<string, string>
}

/** `BulkRuns/create` (CreateExistingBulkRunRequest): registers an uploaded local run; absent values are omitted. */
export const createBulkRunRequest = (scope: TrackingScope, run: BulkRunFacts): ServiceRequest => {
  const body: Record<string, unknown> = {
    runId: run.name,
    runStatus: run.status,
    startTimeUtc: run.createdOn,
    endTimeUtc: run.endedOn ?? undefined,
    runDisplayName: run.displayName || run.name,
    description: run.description ?? undefined,
    tags: run.tags,
    variantRunId: run.baseRun ?? undefined,
    properties: {
      '_azureml.evaluate_artifacts': '[{"path": "instance_results.jsonl", "type": "table"}]',
      'azureml.promptflow.total_tokens': String(run.tokens.total),
      'azureml.promptflow.completion_tokens': String(run.tokens.completion),
      'azureml.promptflow.prompt_tokens': String(run.tokens.prompt),
      ...run.userProperties,
    },
    runExperimentName: experimentNameOf(run.flowFolderName),
    runDisplayNameGenerationType: 'UserProvidedMacro',
    outputDataStore: DefaultDatastore,
    flowArtifactsRootPath: artifactsRoot(run.name),
    logFileRelativePath: executionLogPath(run.name),
    flowDefinitionDataStoreName: DefaultDatastore,
    flowDefinitionBlobPath: `${snapshotRoot(run.name)}/${run.flowFile}`,
  }
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key]
  return {method: 'POST', url: `${servicePath(scope, 'flow/api')}/BulkRuns/create`, body}
}

/** `BulkRuns/{run}`: the run as the flow service knows it (its `studioPortalTraceEndpoint`). */
export const getBulkRunRequest = (scope: TrackingScope, run: string): ServiceRequest => ({
  method: 'GET',
  url: `${servicePath(scope, 'flow/api')}/BulkRuns/${encodeURIComponent(run)}`,
})

/** One metric, one request (the reference's shape): a scalar at step 0. */
export const metricRequest = (scope: TrackingScope, run: string, name: string, value: number): ServiceRequest => ({
  method: 'POST',
  url: `${servicePath(scope, 'metric/v2.0')}/runs/${encodeURIComponent(run)}/batchsync`,
  body: {
    values: [
      {name, columns: {[name]: 'Double'}, properties: {uxMetricType: 'azureml.v1.scalar'}, value: [{data: {[name]: value}, step: 0}]},
    ],
  },
})

export type OutputAsset = 'debug_info' | 'flow_outputs'

/** An unregistered output asset of the run: `debug_info` = the artifacts folder, `flow_outputs` = its outputs. */
export const unregisteredOutputRequest = (scope: TrackingScope, run: string, output: OutputAsset): ServiceRequest => ({
  method: 'POST',
  url: `${servicePath(scope, 'data/v1.0')}/dataversion/createUnregisteredOutput`,
  body: {
    RunId: run,
    OutputName: output,
    Type: 'UriFolder',
    Uri: datastoreUri(
      scope.workspace,
      DefaultDatastore,
      output === 'debug_info' ? artifactsRoot(run) : `${artifactsRoot(run)}/flow_outputs`,
    ),
  },
})

/** Links the two output assets to the run in run history. */
export const patchRunOutputsRequest = (scope: TrackingScope, run: string, assets: Record<OutputAsset, string>): ServiceRequest => ({
  method: 'PATCH',
  url: `${servicePath(scope, 'history/v1.0')}/runs/${encodeURIComponent(run)}`,
  body: {Outputs: Object.fromEntries(Object.entries(assets).map(([name, assetId]) => [name, {assetId, type: 'UriFolder'}]))},
})

/** Run history look-up: 200 = the run exists in the workspace, 404 = it does not. */
export const runDataRequest = (scope: TrackingScope, run: string): ServiceRequest => ({
  method: 'POST',
  url: `${servicePath(scope, 'history/v1.0')}/rundata`,
  body: {runId: run, selectRunMetadata: true, selectRunDefinition: true, selectJobSpecification: true},
})

/** The asset id in a createUnregisteredOutput answer. */
export const assetIdOf = (body: unknown): string | undefined => {
  const id = (body as {latestVersion?: {dataVersion?: {assetId?: unknown}}} | undefined)?.latestVersion?.dataVersion?.assetId
  return typeof id === 'string' && id !== '' ? id : undefined
}
