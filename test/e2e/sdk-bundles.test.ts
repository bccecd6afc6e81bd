import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {repoRoot, tempDir} from '../helpers/cli.js'

// The Azure and OpenTelemetry SDKs are dev dependencies: an installed pf runs them from the bundles the build
// writes (scripts/bundle-sdks.js). Here each bundle is loaded from a folder where no dev dependency can be found, as
// on a user's machine; tsc's plain re-exports, or a bundle that still imports an SDK package, fail to load.
const bundles: Array<{file: string; exports: string[]; packages: string[]}> = [
  {
    file: 'dist/destinations/azureml/azure-sdk.js',
    exports: ['AzureCliCredential', 'ContainerClient', 'CosmosClient', 'createDefaultHttpClient'],
    packages: [],
  },
  // `@opentelemetry/api` is a dependency of pf, and stays outside the bundle.
  {file: 'dist/tracing/otel-sdk.js', exports: ['NodeTracerProvider', 'resourceFromAttributes'], packages: ['@opentelemetry/api']},
]

describe('SDK bundles (built by npm run build)', () => {
  for (const {file, exports, packages} of bundles)
    it(`${file} loads with ${packages.length > 0 ? packages.join(', ') : 'no package'} installed`, () => {
      const dir = tempDir('pf-bundle-')
      writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}')
      const copy = path.join(dir, path.basename(file))
      copyFileSync(path.join(repoRoot, file), copy)
      for (const name of packages) {
        mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), {recursive: true})
        symlinkSync(path.join(repoRoot, 'node_modules', name), path.join(dir, 'node_modules', name))
      }
      const script = `const m = await import(${JSON.stringify(pathToFileURL(copy).href)}); console.log(JSON.stringify(Object.keys(m)))`
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {cwd: dir, encoding: 'utf8'})
      expect(result.status, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.include.members(exports)
    })
})
