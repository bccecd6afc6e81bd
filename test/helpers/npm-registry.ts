/**
 * A tiny npm registry on 127.0.0.1 for `pf plugins install <name>` tests: it serves the packuments and tarballs
 * of the packages it is given (packed with `npm pack`) and 404s everything else. No test reaches a public registry.
 */
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

/** `npm pack` of a folder into `dest`; returns the tarball path. Scripts are not run (fixtures have none). */
export const npmPack = (dir: string, dest: string): string => {
  const out = execFileSync('npm', ['pack', dir, '--pack-destination', dest, '--ignore-scripts', '--silent'], {encoding: 'utf8'})
  return path.join(dest, out.trim().split('\n').at(-1)!)
}

/** Environment that sends pf's npm to `registry` with a private cache, no retries, and a dead proxy. */
export const npmEnv = (registry: string, cache: string): NodeJS.ProcessEnv => ({
  PF_NPM_REGISTRY: registry,
  npm_config_cache: cache,
  npm_config_fetch_retries: '0',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  // Even a wrongly resolved spec (e.g. a path read as a GitHub slug) cannot leave the machine.
  npm_config_proxy: deadRegistry,
  npm_config_https_proxy: deadRegistry,
  npm_config_noproxy: '127.0.0.1',
})

/** A registry address where nothing listens: any registry request fails at once. */
export const deadRegistry = 'http://127.0.0.1:9'

export class FakeRegistry {
  readonly requests: string[] = []
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(tarballs: string[]): Promise<FakeRegistry> {
    const packages = new Map<string, {pjson: Record<string, any>; data: Buffer; file: string}>()
    for (const tarball of tarballs) {
      const data = readFileSync(tarball)
      const {readLocalManifest} = await import('../../src/plugins/install-checks.js')
      const pjson = readLocalManifest(tarball)!
      packages.set(pjson.name!, {pjson, data, file: path.basename(tarball)})
    }
    let base = ''
    const server = createServer((req, res) => {
      registry.requests.push(req.url ?? '')
      const [, name, dash, file] = decodeURIComponent(req.url ?? '').split('/')
      const pkg = packages.get(name)
      if (!pkg) {
        res.writeHead(404, {'content-type': 'application/json'})
        res.end('{"error":"Not found"}')
        return
      }
      if (dash === '-' && file === pkg.file) {
        res.writeHead(200, {'content-type': 'application/octet-stream'})
        res.end(pkg.data)
        return
      }
      const version = pkg.pjson.version
      const dist = {
        tarball: `${base}/${name}/-/${pkg.file}`,
        shasum: createHash('sha1').update(pkg.data).digest('hex'),
        integrity: `sha512-${createHash('sha512').update(pkg.data).digest('base64')}`,
      }
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(
        JSON.stringify({name, 'dist-tags': {latest: version}, versions: {[version]: {...pkg.pjson, _id: `${name}@${version}`, dist}}}),
      )
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const registry = new FakeRegistry(server, base)
    return registry
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
