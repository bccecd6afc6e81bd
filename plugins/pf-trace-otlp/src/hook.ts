import type {ConfigKeySpec, DestinationContext, ResolvedDestination, TraceDestinationProvider} from 'pf/destination'

import type {OtlpEncoding} from './exporter.js'
import {headersKey, parseHeadersSetting, resolveHeaders} from './headers.js'

const defaultPort = '4318'
const defaultPath = '/v1/traces'

const headersSpec: ConfigKeySpec = {
  key: headersKey,
  description: 'Headers sent to OTLP destinations: name=value,name2=${env:VARIABLE} (variables are read when spans are sent)',
  parse: parseHeadersSetting,
}

/** `otlp://host[:port][/path]` → the OTLP/HTTP URL spans are POSTed to. */
const endpointOf = (value: string, scheme: string): string => {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new Error(`"${value}" is not a URL; expected ${scheme}://host:port[/path]`)
  }
  if (url.protocol !== `${scheme}:`) throw new Error(`expected ${scheme}://host:port[/path]`)
  if (!url.hostname) throw new Error(`"${value}" has no host; expected ${scheme}://host:port[/path]`)
  if (url.username || url.password) throw new Error(`put credentials in ${headersKey} (e.g. authorization=\${env:OTLP_TOKEN}), not in the URL`)
  if (url.search || url.hash) throw new Error(`"${value}" may not have a query or fragment; expected ${scheme}://host:port[/path]`)
  const path = url.pathname && url.pathname !== '/' ? url.pathname : defaultPath
  return `http://${url.port ? url.host : `${url.host}:${defaultPort}`}${path}`
}

interface OtlpDestination extends ResolvedDestination {
  url: string
  encoding: OtlpEncoding
}

const provider = (scheme: string, encoding: OtlpEncoding, what: string): TraceDestinationProvider<OtlpDestination> => ({
  contractVersion: 1,
  scheme,
  description: `An OpenTelemetry collector over OTLP/HTTP (${what})`,
  examples: [`${scheme}://host:4318[/v1/traces]`],
  configKeys: [headersSpec],
  // The collector may be down when the destination is set: spans wait in pf's outbox, so only the form is checked.
  async validate(value: string) {
    endpointOf(value, scheme)
  },
  async resolve(value: string): Promise<OtlpDestination> {
    const url = endpointOf(value, scheme)
    // No header values here: pf stores resolved destinations (for `pf trace sync`).
    return {scheme, value, key: `${scheme}:${url}`, url, encoding}
  },
  async exporter({url, encoding}: OtlpDestination, ctx: DestinationContext) {
    const {createOtlpExporter} = await import('./exporter.js')
    return createOtlpExporter({url, encoding, headers: () => resolveHeaders(ctx.config.string(headersKey), ctx.env)})
  },
})

export const providers = [provider('otlp', 'protobuf', 'protobuf'), provider('otlp+json', 'json', 'JSON')]

/** pf's `trace-destination` hook: this plugin adds otlp:// and otlp+json:// destinations. */
export default async function traceDestination(): Promise<TraceDestinationProvider[]> {
  return providers
}
