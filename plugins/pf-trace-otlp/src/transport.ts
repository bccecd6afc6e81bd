import {readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'
import {promisify} from 'node:util'
import zlib from 'node:zlib'

export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export interface PostOptions {
  headers: Record<string, string>
  gzip: boolean
  timeoutMs: number
  env: NodeJS.ProcessEnv
}

const gzip = promisify(zlib.gzip)

/** Where distributions keep the system's CA bundle (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS, SUSE). */
const systemBundles = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
  '/etc/ssl/ca-bundle.pem',
]

const readPem = (file: string | undefined): string[] => {
  if (!file) return []
  try {
    return [readFileSync(file, 'utf8')]
  } catch {
    return []
  }
}

/** The system's CAs: Node's own list of them where it has one (Node ≥ 22.15), else the distribution's bundle file. */
const systemCas = (env: NodeJS.ProcessEnv): string[] => {
  const getCACertificates = (tls as {getCACertificates?: (type: string) => string[]}).getCACertificates
  if (getCACertificates) {
    try {
      return getCACertificates('system')
    } catch {
      // No system store on this platform: fall back to the bundle files below.
    }
  }
  if (env.SSL_CERT_FILE) return readPem(env.SSL_CERT_FILE)
  for (const file of systemBundles) {
    const pem = readPem(file)
    if (pem.length > 0) return pem
  }
  return []
}

let agent: {key: string; agent: https.Agent} | undefined

/**
 * The https agent: trusts Node's bundled CAs, the system's (corporate roots installed the OS way) and the
 * NODE_EXTRA_CA_CERTS file. Giving `ca` replaces Node's default list, so all three are listed; kept per process.
 */
const httpsAgent = (env: NodeJS.ProcessEnv): https.Agent => {
  const key = `${env.NODE_EXTRA_CA_CERTS ?? ''}|${env.SSL_CERT_FILE ?? ''}`
  if (agent?.key !== key) {
    const ca = [...tls.rootCertificates, ...systemCas(env), ...readPem(env.NODE_EXTRA_CA_CERTS)]
    agent = {key, agent: new https.Agent({keepAlive: true, ca})}
  }
  return agent.agent
}

/** One POST (http or https), optionally gzip; resolves with the answer, rejects on network errors and timeouts. */
export const postBody = async (url: string, body: Uint8Array, options: PostOptions): Promise<HttpAnswer> => {
  const payload = options.gzip ? await gzip(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const headers: Record<string, string | number> = {...options.headers, 'content-length': payload.length}
  if (options.gzip) headers['content-encoding'] = 'gzip'
  const secure = url.startsWith('https:')
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      url,
      {method: 'POST', headers, signal: AbortSignal.timeout(options.timeoutMs), ...(secure ? {agent: httpsAgent(options.env)} : {})},
      response => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks)}))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(payload)
  })
}
