// Build step (after tsc): replaces tsc's output of each module below (plain re-exports of third-party SDKs) with
// one esbuild bundle of the code it re-exports. Why, for each: the comment at the top of its source.
import {rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const bundles = [
  {module: 'destinations/azureml/azure-sdk', external: []},
  {module: 'tracing/otel-sdk', external: ['@opentelemetry/api']},
]

for (const {module, external} of bundles) {
  const outfile = path.join(root, 'dist', `${module}.js`)
  await build({
    entryPoints: [path.join(root, 'src', `${module}.ts`)],
    outfile,
    allowOverwrite: true,
    bundle: true,
    external,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The packages' ES module builds where they ship one: esbuild drops what pf never imports from them (the
    // OpenTelemetry bundle: 385 KB with the CommonJS builds, half of it every semantic convention; 125 KB so).
    mainFields: ['module', 'main'],
    logLevel: 'warning',
    // The SDKs' CommonJS dependencies call require() for Node's built-in modules, which an ES module lacks.
    banner: {js: "import {createRequire as pfCreateRequire} from 'node:module';\nconst require = pfCreateRequire(import.meta.url);"},
  })
  // tsc's map describes the re-exports, not the bundle.
  rmSync(`${outfile}.map`, {force: true})
}
