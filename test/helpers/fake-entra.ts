/**
 * A fake Microsoft Entra ID (login.microsoftonline.com) for sign-in with AZURE_TENANT_ID/AZURE_CLIENT_ID/
 * AZURE_CLIENT_SECRET: the OAuth 2.0 client-credentials flow MSAL speaks (instance discovery, OpenID configuration,
 * the token endpoint) over real HTTPS. pf reaches it as it would the real one, through an HTTPS proxy
 * (HTTPS_PROXY, honoured by the Azure SDK) that tunnels login.microsoftonline.com:443 here; its certificate names
 * login.microsoftonline.com and 127.0.0.1 and is trusted through NODE_EXTRA_CA_CERTS (`caFile`).
 */
import {writeFileSync} from 'node:fs'
import http, {type IncomingMessage, type ServerResponse} from 'node:http'
import https from 'node:https'
import {type AddressInfo, type Socket, connect} from 'node:net'
import path from 'node:path'

import {tempDir} from './cli.js'
import {selfSignedCertificate, testTls} from './cosmos.js'
import {userToken} from './fake-azure.js'

export const entraHost = 'login.microsoftonline.com'

const entraTls = () => selfSignedCertificate(entraHost, `DNS:${entraHost},IP:127.0.0.1`)

export class FakeEntra {
  /** Token requests seen: the client id and grant type (never the secret). */
  readonly tokenRequests: Array<{tenant: string; clientId: string; grantType: string; scope: string}> = []
  private server!: https.Server
  private proxy!: http.Server
  /** Tunnels (CONNECT sockets are not the proxy server's connections any more: closed by hand on stop). */
  private readonly tunnels = new Set<Socket>()
  port = 0
  proxyPort = 0
  /** Trusts this service and testTls() (Cosmos): pass as NODE_EXTRA_CA_CERTS. */
  caFile = ''

  constructor(
    readonly tenant: string,
    readonly clientId: string,
    private readonly clientSecret: string,
    /** The access token it issues (the fake control plane accepts userToken). */
    private readonly accessToken: string = userToken,
  ) {}

  get url(): string {
    return `https://${entraHost}`
  }

  /** For HTTPS_PROXY: tunnels login.microsoftonline.com:443 to the fake, refuses every other host. */
  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`
  }

  async start(): Promise<this> {
    const {cert, key} = entraTls()
    this.caFile = path.join(tempDir('pf-entra-ca-'), 'ca.pem')
    writeFileSync(this.caFile, testTls().cert + cert)
    this.server = https.createServer({cert, key}, (req, res) => this.handle(req, res))
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    this.proxy = http.createServer((_req, res) => res.writeHead(405).end())
    this.proxy.on('connect', (req, socket, head) => {
      if (req.url !== `${entraHost}:443`) return socket.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      const upstream = connect(this.port, '127.0.0.1', () => {
        this.tunnels.add(socket as Socket).add(upstream)
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(socket).pipe(upstream)
      })
      upstream.on('error', () => socket.destroy())
      socket.on('error', () => upstream.destroy())
    })
    await new Promise<void>(resolve => this.proxy.listen(0, '127.0.0.1', resolve))
    this.proxyPort = (this.proxy.address() as AddressInfo).port
    return this
  }

  async stop(): Promise<void> {
    for (const socket of this.tunnels) socket.destroy()
    this.server.closeAllConnections()
    this.proxy.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
    await new Promise(resolve => this.proxy.close(resolve))
  }

  private json(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body))
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url)
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      const host = entraHost
      if (url.pathname === '/common/discovery/instance')
        return this.json(res, 200, {
          tenant_discovery_endpoint: `${this.url}/${this.tenant}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{preferred_network: host, preferred_cache: host, aliases: [host]}],
        })
      const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname)
      if (openid)
        return this.json(res, 200, {
          token_endpoint: `${this.url}/${openid[1]}/oauth2/v2.0/token`,
          authorization_endpoint: `${this.url}/${openid[1]}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${this.url}/${openid[1]}/oauth2/v2.0/logout`,
          issuer: `${this.url}/${openid[1]}/v2.0`,
          jwks_uri: `${this.url}/${openid[1]}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'token'],
          scopes_supported: ['openid'],
        })
      const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname)
      if (token && req.method === 'POST') {
        const form = new URLSearchParams(body)
        this.tokenRequests.push({
          tenant: token[1],
          clientId: form.get('client_id') ?? '',
          grantType: form.get('grant_type') ?? '',
          scope: form.get('scope') ?? '',
        })
        if (token[1] !== this.tenant || form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret)
          return this.json(res, 401, {error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.'})
        return this.json(res, 200, {token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: this.accessToken})
      }
      return this.json(res, 404, {error: 'not_found', error_description: `no route ${req.method} ${url.pathname}`})
    })
  }
}
