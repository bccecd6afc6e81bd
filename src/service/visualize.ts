import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {loadConfig} from '../config/service.js'
import {pfHome, pfPackageRoot} from '../paths.js'
import {TraceReader} from '../store/reader.js'
import {PfError} from '../errors.js'
import {type Comparison, compareRuns, maxCompareRuns} from './compare.js'
import {listenHost, startService, viewerBaseUrl} from './lifecycle.js'
import {webRoot} from './server.js'
import {openBrowser} from './trace-ui.js'

export interface VisualizeOptions {
  /** `--names a,b[,c]` as given. */
  names: string
  /** Write a self-contained HTML file here instead of opening the viewer. */
  htmlPath?: string
  open: boolean
}

export interface VisualizeResult {
  runs: string[]
  /** The viewer's comparison page (viewer mode). */
  url?: string
  /** The HTML file written (--html-path). */
  htmlPath?: string
  opened: boolean
}

/** `a,b,c` → distinct run names; a bad list is bad input (exit 2). */
export const parseNames = (text: string): string[] => {
  const names = text
    .split(',')
    .map(n => n.trim())
    .filter(Boolean)
  if (names.length === 0) throw new PfError('invalid_arguments', '--names needs at least one run name: --names run_a,run_b.')
  if (names.length > maxCompareRuns)
    throw new PfError('invalid_arguments', `Visualize at most ${maxCompareRuns} runs at once; got ${names.length}.`)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i)
  if (duplicate !== undefined) throw new PfError('invalid_arguments', `Run "${duplicate}" is named twice in --names.`)
  return names
}

const readComparison = async (names: string[]): Promise<Comparison> => {
  const reader = TraceReader.open(pfHome())
  try {
    return await compareRuns(reader.db, names)
  } catch (error) {
    if ((error as {code?: string}).code === 'run_not_found')
      throw new PfError('run_not_found', `${(error as Error).message.replace(/\.$/, '')}; \`pf run list\` shows the runs.`)
    throw error
  } finally {
    reader.close()
  }
}

/** Text safe inside a <script> element: no `</script`, no `<!--` can end or change it. */
const scriptSafe = (text: string): string => text.replaceAll('<', '\\u003c')

/**
 * The comparison page as one file that works offline (opened from disk): the viewer's stylesheet and scripts
 * inlined, the comparison data embedded as JSON. The page script renders the embedded data instead of calling
 * the API.
 */
export const comparisonHtml = (comparison: Comparison): string => {
  const css = readFileSync(path.join(webRoot, 'style.css'), 'utf8')
  const scripts = ['charts.js', 'app.js'].map(f => readFileSync(path.join(webRoot, f), 'utf8'))
  for (const code of scripts)
    if (/<\/script|<!--/i.test(code)) throw new Error('a viewer script contains "</script" or "<!--"; it cannot be inlined')
  const data = scriptSafe(JSON.stringify({...comparison, generatedAt: new Date().toISOString()}))
  const title = `pf run visualize: ${comparison.runs.map(r => r.name).join(', ')}`.replaceAll(/[<>&"]/g, c => `&#${c.charCodeAt(0)};`)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${title}</title>
<style>
${css}
</style>
</head>
<body>
<header class="top"><span class="brand">pf run visualize</span><nav id="crumbs" aria-label="Breadcrumb"></nav><span id="live" class="live"></span></header>
<main id="view" tabindex="-1"><p class="muted">Loading…</p></main>
<script type="application/json" id="pf-data">${data}</script>
<script>
${scripts[0]}
</script>
<script type="module">
${scripts[1]}
</script>
</body>
</html>
`
}

/**
 * `pf run visualize`: the runs side by side. By default in the viewer (started when needed), at
 * `#view=compare&runs=…`; with `htmlPath`, a self-contained HTML file (user-only, like the store it comes from).
 */
export const visualizeRuns = async (options: VisualizeOptions): Promise<VisualizeResult> => {
  const names = parseNames(options.names)
  const comparison = await readComparison(names)
  if (options.htmlPath) {
    const file = path.resolve(options.htmlPath)
    const tmp = `${file}.${process.pid}.tmp`
    try {
      writeFileSync(tmp, comparisonHtml(comparison), {mode: 0o600})
      renameSync(tmp, file)
    } catch (error) {
      throw new PfError(
        'invalid_html_path',
        `Cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; choose a writable --html-path.`,
      )
    }
    return {runs: names, htmlPath: file, opened: options.open ? openBrowser(file) : false}
  }
  const {reader} = await loadConfig()
  const host = listenHost(reader.get('service.host'))
  const service = await startService({home: pfHome(), pfBin: path.join(pfPackageRoot(), 'bin', 'run.js'), host})
  const url = `${viewerBaseUrl({host: service.host!, port: service.port!})}#view=compare&runs=${names.map(encodeURIComponent).join(',')}`
  return {runs: names, url, opened: options.open ? openBrowser(url) : false}
}
