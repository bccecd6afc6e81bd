import path from 'node:path'

import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {pfHome} from '../../paths.js'
import {loadConfig} from '../../config/service.js'
import {type StartResult, listenHost, startService} from '../../service/lifecycle.js'

export default class ServiceStart extends PfCommand {
  static summary = 'Start the local trace viewer and OTLP collector (reuses a running one).'
  static description = `Serves the trace viewer on a loopback address (service.host, default 127.0.0.1) in the background and records its port in <pf home>/service.json. Without --port it uses 23333, or any free port when that one is taken.
The same port takes OpenTelemetry traces (OTLP/HTTP, POST /v1/traces): set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT to the printed URL and any OpenTelemetry SDK (any language) sends its spans to pf.`
  static examples = ['<%= config.bin %> service start', '<%= config.bin %> service start --port 8080 --json']
  static flags = {
    port: Flags.integer({char: 'p', description: 'Port to listen on (0: any free port).', min: 0, max: 65535}),
  }

  async run(): Promise<StartResult> {
    const {flags} = await this.parse(ServiceStart)
    const {reader} = await loadConfig()
    const result = await startService({
      home: pfHome(),
      pfBin: path.join(this.config.root, 'bin', 'run.js'),
      host: listenHost(reader.get('service.host')),
      port: flags.port,
    })
    this.log(`${result.reused ? 'Already running' : 'Started'}: ${result.url} (pid ${result.pid})`)
    this.log(`OTLP collector: ${result.otlpEndpoint}; point OpenTelemetry SDKs at it with:`)
    this.log(`  export ${result.otlpEnv}`)
    return result
  }
}
