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

const compressionKey = 'trace.otlp.compression'
const compressionSpec: ConfigKeySpec = {
  key: compressionKey,
  description: 'Request bodies to OTLP destinations: gzip or none (default: gzip for https destinations, none for http)',
  parse(value: string) {
    const v = value.trim().toLowerCase()
    if (v === 'gzip' || v === 'none') return v
    throw new Error(`Invalid value "${value}" for ${compressionKey}; accepted: gzip, none.`)
  },
}

/** `otlp://host[:port][/path]` → the OTLP/HTTP URL spans are POSTed to (`https://` for the `+https` schemes). */
const endpointOf = (value: string, scheme: string, tls: boolean): string => {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new Error(`"${value}" is not a URL; expected ${scheme}://host:port[/path]`)
  }
  if (url.protocol !== `${scheme}:`) throw new Error(`expected ${scheme}://host:port[/path]`)
  if (!url.hostname) throw new Error(`"${value}" has no host; expected ${scheme}://host:port[/path]`)
  if (url.username || url.password)
    throw new Error(`put credentials in ${headersKey} (e.g. authorization=\${env:OTLP_TOKEN}), not in the URL`)
  if (url.search || url.hash) throw new Error(`"${value}" may not have a query or fragment; expected ${scheme}://host:port[/path]`)
  const path = url.pathname && url.pathname !== '/' ? url.pathname : defaultPath
  // Hosted backends listen on https's own port; a local collector on OTLP/HTTP's 4318.
  const port = url.port || (tls ? '' : defaultPort)
  return `${tls ? 'https' : 'http'}://${url.hostname}${port ? `:${port}` : ''}${path}`
}

interface OtlpDestination extends ResolvedDestination {
  url: string
  encoding: OtlpEncoding
}

const provider = (scheme: string, encoding: OtlpEncoding, tls: boolean): TraceDestinationProvider<OtlpDestination> => ({
  contractVersion: 1,
  scheme,
  description: `An OpenTelemetry collector or backend over OTLP/HTTP (${encoding === 'json' ? 'JSON' : 'protobuf'}${tls ? ', TLS' : ''})`,
  examples: [tls ? `${scheme}://host[:port][/v1/traces]` : `${scheme}://host:4318[/v1/traces]`],
  configKeys: [headersSpec, compressionSpec],
  // The collector may be down when the destination is set: spans wait in pf's outbox, so only the form is checked.
  async validate(value: string) {
    endpointOf(value, scheme, tls)
  },
  async resolve(value: string): Promise<OtlpDestination> {
    const url = endpointOf(value, scheme, tls)
    // No header values here: pf stores resolved destinations (for `pf trace sync`).
    return {scheme, value, key: `${scheme}:${url}`, url, encoding}
  },
  async exporter({url, encoding}: OtlpDestination, ctx: DestinationContext) {
    const {createOtlpExporter} = await import('./exporter.js')
    const compression = ctx.config.string(compressionKey) ?? (url.startsWith('https:') ? 'gzip' : 'none')
    return createOtlpExporter({
      url,
      encoding,
      gzip: compression === 'gzip',
      env: ctx.env,
      headers: () => resolveHeaders(ctx.config.string(headersKey), ctx.env),
    })
  },
})

/** otlp:// and otlp+json:// speak plain HTTP (a local collector); the +https forms TLS (hosted backends). */
export const providers = [
  provider('otlp', 'protobuf', false),
  provider('otlp+json', 'json', false),
  provider('otlp+https', 'protobuf', true),
  provider('otlp+json+https', 'json', true),
]

/** pf's `trace-destination` hook: this plugin adds otlp://, otlp+json://, otlp+https:// and otlp+json+https:// destinations. */
export default async function traceDestination(): Promise<TraceDestinationProvider[]> {
  return providers
}
