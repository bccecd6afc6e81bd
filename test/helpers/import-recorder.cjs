// Preloaded with `node --require` by tests: records every module the process loads (CommonJS through
// require.cache at exit, ESM through a resolve hook) into $PF_IMPORT_LOG, one path or URL per line.
const {appendFileSync} = require('node:fs')
const {register} = require('node:module')
const {pathToFileURL} = require('node:url')
const file = process.env.PF_IMPORT_LOG
register(pathToFileURL(__dirname + '/import-recorder-hooks.mjs'), {data: {file}})
process.on('exit', () => appendFileSync(file, Object.keys(require.cache).join('\n') + '\n'))
