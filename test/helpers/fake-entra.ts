/**
 * A fake Microsoft Entra ID token service on https://127.0.0.1 (the OAuth 2.0 client-credentials flow MSAL speaks:
 * instance discovery, OpenID configuration, the token endpoint), for sign-in with AZURE_TENANT_ID/AZURE_CLIENT_ID/
 * AZURE_CLIENT_SECRET and AZURE_AUTHORITY_HOST pointing here. Real HTTPS (testTls), real @azure/identity in pf.
 */
import https from 'node:https'
import type {AddressInfo} from 'node:net'

import {testTls} from './cosmos.js'
import {userToken} from './fake-azure.js'

export class FakeEntra {
  /** Token requests seen: the client id and grant type (never the secret). */
  readonly tokenRequests: Array<{tenant: string; clientId: string; grantType: string; scope: string}> = []
  private server!: https.Server
  port = 0

  constructor(
    readonly tenant: string,
    readonly clientId: string,
    private readonly clientSecret: string,
    /** The access token it issues (the fake control plane accepts userToken). */
    private readonly accessToken: string = userToken,
  ) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    const {cert, key} = testTls()
    this.server = https.createServer({cert, key}, (req, res) => this.handle(req, res))
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
  }

  private json(res: import('node:http').ServerResponse, status: number, body: unknown) {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body))
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    const url = new URL(req.url ?? '/', this.url)
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      const host = `127.0.0.1:${this.port}`
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
        this.tokenRequests.push({tenant: token[1], clientId: form.get('client_id') ?? '', grantType: form.get('grant_type') ?? '', scope: form.get('scope') ?? ''})
        if (token[1] !== this.tenant || form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret)
          return this.json(res, 401, {error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.'})
        return this.json(res, 200, {token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: this.accessToken})
      }
      return this.json(res, 404, {error: 'not_found', error_description: `no route ${req.method} ${url.pathname}`})
    })
  }
}
