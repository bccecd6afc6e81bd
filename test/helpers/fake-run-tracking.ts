/**
 * The run-tracking routes of the fake Azure control plane (spec promptflow-cloud-2 §3): artifact register,
 * BulkRuns create/get, metric batchsync, dataversion createUnregisteredOutput, run history PATCH and rundata.
 * Every request is recorded with its parsed body, so tests check bodies field by field; faults (an HTTP status or
 * a dropped connection) can be queued per route.
 */
import type http from 'node:http'

export interface TrackingRequest {
  method: string
  /** artifact | flow | metric | data | history */
  service: string
  /** The path after `/workspaces/{ws}`, e.g. `/BulkRuns/create`. */
  route: string
  workspace: string
  body: any
}

export interface Fault {
  /** Matches `METHOD route`, e.g. /^POST \/BulkRuns\/create$/. */
  match: RegExp
  /** An HTTP status to answer, `reset` to drop the connection without an answer, `hang` to never answer. */
  answer: number | 'reset' | 'hang'
  /** How many matching requests get it (default 1). */
  times?: number
  /** Matching requests let through before the fault starts (default 0). */
  after?: number
  /** Set when the fault first struck. */
  struck?: boolean
}

export interface TrackedRun {
  create?: any
  metrics: Array<{name: string; value: number}>
  outputs: Array<{name: string; assetId: string; body: any}>
  history?: any
  artifacts: any[]
}

const servicePattern =
  /^\/(artifact\/v2\.0|metric\/v2\.0|data\/v1\.0|history\/v1\.0|flow\/api)\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)(\/.*)$/i

export class FakeRunTracking {
  readonly requests: TrackingRequest[] = []
  readonly runs = new Map<string, TrackedRun>()
  /** Runs that exist in the workspace before the test (rundata answers 200). */
  readonly existing = new Set<string>()
  readonly faults: Fault[] = []
  private assetCounter = 0

  /** Whether this fake answers a path (the flow service's other routes stay with FakeAzure). */
  static claims(pathname: string): boolean {
    const m = servicePattern.exec(pathname)
    return Boolean(m && (m[1] !== 'flow/api' || /^\/BulkRuns(\/|$)/.test(m[5])))
  }

  run(name: string): TrackedRun {
    let run = this.runs.get(name)
    if (!run) this.runs.set(name, (run = {metrics: [], outputs: [], artifacts: []}))
    return run
  }

  /** Requests of one kind, e.g. ofRoute(/^POST \/BulkRuns\/create$/). */
  ofRoute(pattern: RegExp): TrackingRequest[] {
    return this.requests.filter(r => pattern.test(`${r.method} ${r.route}`))
  }

  inject(fault: Fault): void {
    this.faults.push({times: 1, ...fault})
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, known: (workspace: string) => boolean): void {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const m = servicePattern.exec(pathname)!
      const [, prefix, , , workspace, route] = m
      const text = Buffer.concat(chunks).toString('utf8')
      let body: any
      try {
        body = text ? JSON.parse(text) : undefined
      } catch {
        return this.json(res, 400, {error: {message: 'body is not JSON'}})
      }
      const method = req.method ?? ''
      const fault = this.faults.find(f => (f.times ?? 1) > 0 && f.match.test(`${method} ${route}`))
      if (fault && (fault.after ?? 0) > 0) fault.after! -= 1
      else if (fault) {
        fault.times = (fault.times ?? 1) - 1
        fault.struck = true
        if (fault.answer === 'hang') return
        if (fault.answer === 'reset') return void req.socket.destroy()
        return this.json(
          res,
          fault.answer,
          {error: {message: `injected ${fault.answer}`}},
          fault.answer === 429 ? {'retry-after': '0'} : {},
        )
      }
      const service = prefix.split('/')[0]
      this.requests.push({method, service, route, workspace, body})
      if (!known(workspace)) return this.json(res, 404, {error: {message: `workspace ${workspace} not found`}})
      this.route(res, method, service, route, body, pathname)
    })
  }

  private route(res: http.ServerResponse, method: string, service: string, route: string, body: any, pathname: string) {
    if (service === 'artifact' && method === 'POST' && route === '/artifacts/register') {
      const run = /^dcid\.(.+)$/.exec(body?.container ?? '')?.[1]
      if (!run || !body?.dataPath?.relativePath) return this.json(res, 400, {error: {message: 'bad artifact'}})
      this.run(run).artifacts.push(body)
      return this.json(res, 200, {artifactId: `ExperimentRun/${body.container}/${body.path}`})
    }
    if (service === 'flow' && method === 'POST' && route === '/BulkRuns/create') {
      if (!body?.runId) return this.json(res, 400, {error: {message: 'runId is required'}})
      this.run(body.runId).create = body
      return this.json(res, 200, body.runId)
    }
    const get = /^\/BulkRuns\/([^/]+)$/.exec(route)
    if (service === 'flow' && method === 'GET' && get) {
      const name = decodeURIComponent(get[1])
      if (!this.runs.get(name)?.create) return this.json(res, 404, {error: {message: 'run not found'}})
      const wsid = pathname.slice(pathname.indexOf('/subscriptions/'), pathname.indexOf('/BulkRuns'))
      return this.json(res, 200, {
        flowRunResourceId: `azureml://${wsid}/flows/${name}`,
        flowRunId: name,
        studioPortalTraceEndpoint: `https://ml.azure.com/prompts/trace/run/${name}/details?wsid=${wsid}&from=fake`,
      })
    }
    const metric = /^\/runs\/([^/]+)\/batchsync$/.exec(route)
    if (service === 'metric' && method === 'POST' && metric) {
      const values = body?.values
      if (!Array.isArray(values) || values.length !== 1) return this.json(res, 400, {error: {message: 'values'}})
      const v = values[0]
      this.run(decodeURIComponent(metric[1])).metrics.push({name: v.name, value: v.value?.[0]?.data?.[v.name]})
      return this.json(res, 200, {})
    }
    if (service === 'data' && method === 'POST' && route === '/dataversion/createUnregisteredOutput') {
      if (!body?.RunId || !body?.OutputName || !body?.Uri) return this.json(res, 400, {error: {message: 'bad output'}})
      const assetId = `azureml://locations/eastus/workspaces/ws/data/azureml_${body.RunId}_output_data_${body.OutputName}/versions/${++this.assetCounter}`
      this.run(body.RunId).outputs.push({name: body.OutputName, assetId, body})
      return this.json(res, 200, {latestVersion: {dataVersion: {assetId}}})
    }
    const history = /^\/runs\/([^/]+)$/.exec(route)
    if (service === 'history' && method === 'PATCH' && history) {
      const name = decodeURIComponent(history[1])
      if (!this.runs.get(name)?.create) return this.json(res, 404, {error: {message: 'run not found'}})
      this.run(name).history = body
      return this.json(res, 200, {runId: name})
    }
    if (service === 'history' && method === 'POST' && route === '/rundata') {
      const name = body?.runId
      return this.existing.has(name) || this.runs.get(name)?.create
        ? this.json(res, 200, {runMetadata: {runId: name}})
        : this.json(res, 404, {error: {message: 'not found'}})
    }
    return this.json(res, 404, {error: {message: `no route ${method} ${service} ${route}`}})
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, {'content-type': 'application/json', ...headers})
    res.end(JSON.stringify(body))
  }
}
