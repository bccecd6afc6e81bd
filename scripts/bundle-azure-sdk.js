// Build step (after tsc): replaces dist/destinations/azureml/azure-sdk.js, tsc's plain re-exports, with one esbuild
// bundle of the Azure SDK code it re-exports. Why: see src/destinations/azureml/azure-sdk.ts.
import {rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const outfile = path.join(root, 'dist/destinations/azureml/azure-sdk.js')

await build({
  entryPoints: [path.join(root, 'src/destinations/azureml/azure-sdk.ts')],
  outfile,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // The SDKs' CommonJS dependencies call require() for Node's built-in modules, which an ES module lacks.
  banner: {js: "import {createRequire as pfCreateRequire} from 'node:module';\nconst require = pfCreateRequire(import.meta.url);"},
})
// tsc's map describes the re-exports, not the bundle.
rmSync(`${outfile}.map`, {force: true})
