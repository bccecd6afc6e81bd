// The pf trace viewer: a hash-routed page over the local JSON API (docs/viewer-api.md). No framework; every
// value from a trace is put into the page as text (never as HTML).
const api = '/v1.0/api'
const view = document.getElementById('view')
const crumbs = document.getElementById('crumbs')

/** Creates an element: h('a', {href: '#'}, 'text', child…). `on*` attributes become listeners. */
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else if (key === 'class') el.className = value
    // Through CSSOM: the page's CSP allows no inline style attributes.
    else if (key === 'style') el.style.cssText = value
    else el.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child))
  return el
}

const getJson = async path => {
  const res = await fetch(api + path)
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`)
  return body
}

/** Microseconds since the epoch of a stored time (`…:SS.ffffffZ`). */
const micros = t => Date.parse(t.slice(0, 23) + 'Z') * 1000 + Number(t.slice(23, 26) || 0)
const fmtTime = t => (t ? new Date(Date.parse(t.slice(0, 23) + 'Z')).toLocaleString() : '')
const fmtDuration = us => (us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`)
const fmtLatency = seconds => fmtDuration(seconds * 1e6)
const short = (value, n = 120) => {
  if (value === null || value === undefined) return ''
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > n ? text.slice(0, n) + '…' : text
}
/** Span attributes hold JSON as text; show the structure when it parses. */
const parseMaybe = value => {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}
const pretty = value => h('pre', {class: 'json'}, typeof value === 'string' ? value : JSON.stringify(value, null, 2))
const badge = status => h('span', {class: `badge ${status}`}, status)

const hashParams = () => new URLSearchParams(location.hash.replace(/^#/, ''))
const toHash = params => '#' + [...params].filter(([, v]) => v !== '' && v !== undefined && v !== null).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')

const setCrumbs = (...items) => {
  crumbs.replaceChildren(...items.flatMap((item, i) => [i > 0 ? ' / ' : '', typeof item === 'string' ? item : h('a', {href: item.href}, item.text)]))
}

/** Each navigation gets a number; a slower earlier render that finishes late must not overwrite a newer view. */
let navigation = 0
const paint = (nav, ...nodes) => {
  if (nav === navigation) view.replaceChildren(...nodes.flat())
}

/** Keyboard: rows are focusable; Enter opens; ↑/↓ move between rows. */
const rowKeys = (event, open) => {
  if (event.key === 'Enter' || (event.key === ' ' && event.target.matches('[role="treeitem"]'))) {
    event.preventDefault()
    open()
  } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    const sibling = event.key === 'ArrowDown' ? event.currentTarget.nextElementSibling : event.currentTarget.previousElementSibling
    if (sibling?.tabIndex >= 0) {
      event.preventDefault()
      sibling.focus()
    }
  }
}

// ---------------------------------------------------------------- trace list

const listKeys = ['collection', 'run', 'status', 'from', 'to', 'q']
/** Cursors of the pages before the current one, for "Newer". Keyed by the filter so a new filter starts over. */
let pageStack = {key: '', cursors: []}

const renderList = async params => {
  const nav = navigation
  const filter = new URLSearchParams()
  for (const key of listKeys) if (params.get(key)) filter.set(key, params.get(key))
  const key = filter.toString()
  if (pageStack.key !== key) pageStack = {key, cursors: []}
  const cursor = params.get('cursor') ?? ''
  const query = new URLSearchParams(filter)
  if (cursor) query.set('cursor', cursor)
  query.set('limit', '50')

  setCrumbs(params.get('collection') ? `collection ${params.get('collection')}` : params.get('run') ? `run ${params.get('run')}` : 'all traces')
  const [page, collections, runs] = await Promise.all([getJson('/traces?' + query), getJson('/collections'), getJson('/runs')])

  const select = (name, label, options) =>
    h('label', {}, label, h('select', {name}, h('option', {value: ''}, 'all'), options.map(o => h('option', {value: o, selected: params.get(name) === o}, o))))
  const toLocalInput = t => (t ? new Date(Date.parse(t) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '')
  const form = h(
    'form',
    {class: 'filters panel', role: 'search', onsubmit: event => {
      event.preventDefault()
      const data = new FormData(form)
      const next = new URLSearchParams({view: 'list'})
      for (const k of listKeys) {
        let v = String(data.get(k) ?? '').trim()
        if (v && (k === 'from' || k === 'to')) v = new Date(v).toISOString()
        if (v) next.set(k, v)
      }
      location.hash = toHash(next)
    }},
    select('collection', 'Collection', collections.collections.map(c => c.collection)),
    select('run', 'Run', runs.runs.map(r => r.name)),
    select('status', 'Status', ['Ok', 'Error', 'Unset']),
    h('label', {}, 'From', h('input', {type: 'datetime-local', name: 'from', value: toLocalInput(params.get('from'))})),
    h('label', {}, 'To', h('input', {type: 'datetime-local', name: 'to', value: toLocalInput(params.get('to'))})),
    h('label', {}, 'Search name, inputs, outputs', h('input', {type: 'search', name: 'q', value: params.get('q') ?? '', placeholder: 'text…', size: 28})),
    h('button', {class: 'primary', type: 'submit'}, 'Apply'),
    h('button', {type: 'button', onclick: () => (location.hash = '#view=list')}, 'Clear'),
  )

  const openTrace = t => {
    const next = new URLSearchParams(filter)
    if (!next.has('collection') && !next.has('run')) next.set('view', 'list')
    next.set('uiTraceId', t.traceId)
    location.hash = toHash(next)
  }
  const rows = page.traces.map(t =>
    h(
      'tr',
      {class: 'row', tabindex: 0, 'data-trace-id': t.traceId, onclick: () => openTrace(t), onkeydown: e => rowKeys(e, () => openTrace(t))},
      h('td', {}, t.name, t.kind ? h('span', {class: `chip ${t.kind}`}, t.kind) : ''),
      h('td', {}, badge(t.status)),
      h('td', {}, fmtTime(t.startTime)),
      h('td', {class: 'num'}, fmtLatency(t.latency)),
      h('td', {class: 'num'}, t.tokens ? t.tokens.total : ''),
      h('td', {}, t.run ? h('span', {}, t.run, t.lineNumber !== null ? ` #${t.lineNumber}` : '') : t.collection),
      h('td', {class: 'clip', title: short(t.inputs, 2000)}, short(t.inputs)),
      h('td', {class: 'clip', title: short(t.outputs ?? t.error, 2000)}, short(t.outputs ?? t.error)),
    ),
  )
  const table = h(
    'table',
    {'aria-label': 'Traces'},
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Start', 'Latency', 'Tokens', 'Collection / run', 'Inputs', 'Output'].map(c => h('th', {}, c)))),
    h('tbody', {}, rows),
  )
  const goPage = nextCursor => {
    const next = hashParams()
    if (nextCursor) next.set('cursor', nextCursor)
    else next.delete('cursor')
    location.hash = toHash(next)
  }
  const pager = h(
    'div',
    {class: 'pager'},
    h('button', {type: 'button', disabled: !cursor, onclick: () => goPage(pageStack.cursors.pop())}, '← Newer'),
    h('button', {type: 'button', disabled: !page.nextCursor, onclick: () => {
      pageStack.cursors.push(cursor)
      goPage(page.nextCursor)
    }}, 'Older →'),
    h('span', {class: 'muted'}, `${page.traces.length} trace(s) on this page`),
  )
  paint(
    nav,
    h('h1', {}, 'Traces'),
    form,
    page.traces.length === 0 ? h('p', {class: 'notice'}, 'No traces match. Run a flow with `pf flow test` to record one.') : table,
    pager,
  )
}

// ---------------------------------------------------------------- trace page

const tokenCounts = attrs => {
  const own = ['prompt', 'completion', 'total'].map(k => attrs[`llm.usage.${k}_tokens`])
  const cumulative = ['prompt', 'completion', 'total'].map(k => attrs[`__computed__.cumulative_token_count.${k}`])
  return {own: own.some(v => v !== undefined) ? own : null, cumulative: cumulative.some(v => v !== undefined) ? cumulative : null}
}

/** Chat messages of an LLM span: inputs.messages, then the output's choices (OpenAI shapes). */
const chatMessages = span => {
  const inputs = parseMaybe(span.attributes.inputs)
  const output = parseMaybe(span.attributes.output)
  const messages = Array.isArray(inputs?.messages) ? [...inputs.messages] : []
  if (Array.isArray(output?.choices)) {
    for (const c of output.choices) if (c?.message) messages.push(c.message)
  } else if (typeof output === 'string' && messages.length > 0) messages.push({role: 'assistant', content: output})
  return messages
}
const messageText = content =>
  typeof content === 'string' ? content : Array.isArray(content) ? content.map(p => (typeof p === 'string' ? p : p?.text ?? JSON.stringify(p))).join('\n') : JSON.stringify(content)

const renderSpanDetail = (span, container) => {
  const attrs = span.attributes
  const type = attrs.span_type ?? ''
  const duration = micros(span.end_time) - micros(span.start_time)
  const {own, cumulative} = tokenCounts(attrs)
  const shown = new Set(['inputs', 'output'])
  const sections = [
    h('h2', {}, span.name, type ? h('span', {class: `chip ${type}`}, type) : '', ' ', badge(span.status.status_code)),
    h('dl', {class: 'kv'},
      h('dt', {}, 'Duration'), h('dd', {}, fmtDuration(duration)),
      h('dt', {}, 'Start'), h('dd', {}, span.start_time),
      h('dt', {}, 'End'), h('dd', {}, span.end_time),
      h('dt', {}, 'Span id'), h('dd', {}, span.context.span_id),
      h('dt', {}, 'Parent'), h('dd', {}, span.parent_id ?? '—'),
    ),
  ]
  if (own || cumulative) {
    const block = (label, values) => h('div', {class: 'tokens', 'aria-label': label}, ['Prompt', 'Completion', 'Total'].map((n, i) => h('div', {}, h('b', {}, values[i] ?? 0), `${n}`)))
    sections.push(h('section', {class: 'token-counts'}, h('h2', {}, 'Tokens'), own ? block('This call', own) : '', cumulative && !own ? block('Including children', cumulative) : '', cumulative && own ? h('p', {class: 'muted'}, `Including children: ${cumulative[2] ?? 0} total`) : ''))
  }
  const exceptions = span.events.filter(e => e.name === 'exception')
  if (span.status.status_code === 'Error' || exceptions.length > 0) {
    sections.push(
      h('section', {class: 'error-box', role: 'alert'}, h('b', {}, 'Error: '), errorMessage(span, exceptions[0]),
        userFrames(exceptions[0]) ? h('details', {}, h('summary', {}, 'Where'), h('pre', {}, userFrames(exceptions[0]))) : ''),
    )
  }
  const messages = type === 'LLM' ? chatMessages(span) : []
  if (messages.length > 0) {
    sections.push(h('h2', {}, 'Chat'), h('div', {class: 'chat'}, messages.map(m => h('div', {class: `msg ${m.role ?? ''}`}, h('div', {class: 'role'}, m.role ?? 'message'), h('div', {class: 'content'}, messageText(m.content ?? (m.tool_calls ? JSON.stringify(m.tool_calls, null, 2) : '')))))))
  }
  sections.push(h('section', {class: 'span-inputs'}, h('h2', {}, 'Inputs'), attrs.inputs === undefined ? h('p', {class: 'muted'}, 'none recorded') : pretty(parseMaybe(attrs.inputs))))
  sections.push(h('section', {class: 'span-output'}, h('h2', {}, 'Output'), attrs.output === undefined ? h('p', {class: 'muted'}, 'none recorded') : pretty(parseMaybe(attrs.output))))
  const rest = Object.entries(attrs).filter(([k]) => !shown.has(k))
  sections.push(h('h2', {}, 'Attributes'), h('dl', {class: 'kv span-attributes'}, rest.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])))
  const resource = span.resource?.attributes ?? {}
  sections.push(h('h2', {}, 'Resource'), h('dl', {class: 'kv'}, Object.entries(resource).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])))
  sections.push(
    h('h2', {}, `Events (${span.events.length})`),
    span.events.length === 0 ? h('p', {class: 'muted'}, 'none') : h('div', {class: 'span-events'}, span.events.map(e => h('div', {class: 'event'}, h('b', {}, e.name), h('span', {class: 'muted'}, ' ' + e.timestamp), pretty(Object.fromEntries(Object.entries(e.attributes).map(([k, v]) => [k, parseMaybe(v)])))))),
  )
  container.replaceChildren(...sections)
}

/** Depth-first order of the span tree, children by start time; orphans (parent not stored) become roots. */
const spanTree = spans => {
  const ids = new Set(spans.map(s => s.context.span_id))
  const children = new Map()
  for (const s of spans) {
    const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : null
    if (!children.has(parent)) children.set(parent, [])
    children.get(parent).push(s)
  }
  const out = []
  const walk = (parent, depth) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => micros(a.start_time) - micros(b.start_time))) {
      out.push({span: s, depth})
      walk(s.context.span_id, depth + 1)
    }
  }
  walk(null, 0)
  return out
}

const renderTrace = async (traceId, params) => {
  const nav = navigation
  const detail = await getJson('/traces/' + encodeURIComponent(traceId))
  const {trace, spans} = detail
  const back = new URLSearchParams(params)
  back.delete('uiTraceId')
  const backLabel = params.get('run') ? `run ${params.get('run')}` : params.get('collection') ? `collection ${params.get('collection')}` : 'all traces'
  setCrumbs({href: toHash(back) === '#' ? '#view=list' : toHash(back), text: backLabel}, `trace ${traceId.slice(0, 8)}…`)

  const rows = spanTree(spans)
  const t0 = Math.min(...spans.map(s => micros(s.start_time)))
  const t1 = Math.max(...spans.map(s => micros(s.end_time)))
  const total = Math.max(t1 - t0, 1)
  const detailPane = h('div', {class: 'detail panel', 'aria-live': 'polite'})
  const treeRows = rows.map(({span, depth}) => {
    const start = micros(span.start_time) - t0
    const duration = micros(span.end_time) - micros(span.start_time)
    const type = span.attributes.span_type ?? ''
    const tokens = span.attributes['llm.usage.total_tokens'] ?? span.attributes['__computed__.cumulative_token_count.total']
    const select = () => {
      for (const r of treeEl.children) r.setAttribute('aria-selected', String(r === row))
      renderSpanDetail(span, detailPane)
    }
    const row = h(
      'div',
      {class: 'span-row', role: 'treeitem', tabindex: 0, 'aria-level': depth + 1, 'aria-selected': 'false', 'data-span-id': span.context.span_id, onclick: select, onkeydown: e => rowKeys(e, select)},
      h('div', {class: 'span-name', style: `padding-left:${depth * 16}px`, title: span.name}, span.status.status_code === 'Error' ? h('span', {class: 'err'}, '! ') : '', span.name, type ? h('span', {class: `chip ${type}`}, type) : '', tokens !== undefined ? h('span', {class: 'chip', title: 'total tokens'}, `${tokens} tok`) : ''),
      h('div', {class: 'lane'}, h('div', {class: `bar ${type} ${span.status.status_code}`, style: `left:${(start / total) * 100}%;width:${(duration / total) * 100}%`}), h('span', {class: 'dur'}, fmtDuration(duration))),
    )
    return row
  })
  const treeEl = h('div', {class: 'tree panel', role: 'tree', 'aria-label': 'Spans'}, treeRows)

  const root = trace ?? {name: spans[0]?.name, status: spans[0]?.status.status_code, latency: total / 1e6, tokens: null, startTime: spans[0]?.start_time}
  paint(
    nav,
    h('h1', {}, root.name, ' ', badge(root.status)),
    h('div', {class: 'meta'},
      h('span', {}, 'Trace ', h('b', {}, traceId)),
      h('span', {}, 'Start ', h('b', {}, fmtTime(root.startTime))),
      h('span', {}, 'Latency ', h('b', {}, fmtLatency(root.latency))),
      h('span', {}, 'Spans ', h('b', {}, spans.length)),
      root.tokens ? h('span', {class: 'trace-tokens'}, 'Tokens ', h('b', {}, `${root.tokens.total}`), ` (prompt ${root.tokens.prompt}, completion ${root.tokens.completion})`) : '',
      trace?.run ? h('span', {}, 'Run ', h('a', {href: toHash(new URLSearchParams({run: trace.run}))}, trace.run), trace.lineNumber !== null ? ` line ${trace.lineNumber}` : '') : '',
      h('a', {href: `${api}/traces/${encodeURIComponent(traceId)}?download=1`, download: `trace-${traceId}.json`, class: 'export'}, 'Export JSON'),
    ),
    h('div', {class: 'trace'}, treeEl, detailPane),
  )
  const first = treeEl.firstElementChild
  if (first && nav === navigation) {
    first.click()
    first.focus()
  }
}

// ---------------------------------------------------------------- run page

const renderRun = async name => {
  const nav = navigation
  const detail = await getJson('/runs/' + encodeURIComponent(name))
  const {run, lineCounts} = detail
  setCrumbs({href: '#view=list', text: 'all traces'}, `run ${name}`)
  const linesBody = h('tbody', {})
  const openLine = line => (location.hash = toHash(new URLSearchParams({run: name, uiTraceId: line.traceId})))
  const addLines = (lines, outputs) => {
    for (const line of lines) {
      const output = line.outputs ?? outputs[String(line.lineNumber)] ?? line.error?.message ?? line.error
      linesBody.append(
        h('tr', {class: 'row', tabindex: 0, 'data-trace-id': line.traceId, onclick: () => openLine(line), onkeydown: e => rowKeys(e, () => openLine(line))},
          h('td', {class: 'num'}, line.lineNumber ?? ''),
          h('td', {}, badge(line.status)),
          h('td', {class: 'num'}, fmtLatency(line.latency)),
          h('td', {class: 'num'}, line.tokens ? line.tokens.total : ''),
          h('td', {class: 'clip', title: short(line.inputs, 2000)}, short(line.inputs)),
          h('td', {class: 'clip', title: short(output, 2000)}, short(output)),
          h('td', {}, h('a', {href: toHash(new URLSearchParams({run: name, uiTraceId: line.traceId})), onclick: e => e.stopPropagation()}, 'trace')),
        ),
      )
    }
  }
  addLines(detail.lines, detail.outputs)
  let after = detail.nextAfterLine
  const more = h('button', {type: 'button', hidden: after === null, onclick: async () => {
    const page = await getJson(`/runs/${encodeURIComponent(name)}?afterLine=${after}`)
    addLines(page.lines, page.outputs)
    after = page.nextAfterLine
    more.hidden = after === null
  }}, 'More lines')
  const kv = obj => h('dl', {class: 'kv'}, Object.entries(obj ?? {}).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]))
  paint(
    nav,
    h('h1', {}, run.display_name || run.name, ' ', badge(run.status)),
    h('div', {class: 'meta'},
      h('span', {}, 'Run ', h('b', {}, run.name)),
      h('span', {}, 'Flow ', h('b', {}, run.flow)),
      run.data ? h('span', {}, 'Data ', h('b', {}, run.data)) : '',
      h('span', {}, 'Created ', h('b', {}, fmtTime(run.created_at))),
      run.ended_at ? h('span', {}, 'Ended ', h('b', {}, fmtTime(run.ended_at))) : '',
      h('span', {class: 'line-counts'}, 'Lines ', h('b', {}, `${run.completed_lines} completed, ${run.failed_lines} failed${run.total_lines !== null ? ` of ${run.total_lines}` : ''}`)),
      h('a', {href: toHash(new URLSearchParams({view: 'list', run: name}))}, 'Search these traces'),
    ),
    run.error ? h('p', {class: 'error-box', role: 'alert'}, typeof run.error === 'string' ? run.error : (run.error.message ?? JSON.stringify(run.error))) : '',
    h('h2', {}, 'Metrics'),
    run.metrics && Object.keys(run.metrics).length > 0 ? h('div', {class: 'panel metrics'}, kv(run.metrics)) : h('p', {class: 'muted'}, 'No metrics.'),
    run.tags && Object.keys(run.tags).length > 0 ? [h('h2', {}, 'Tags'), h('div', {class: 'panel'}, kv(run.tags))] : '',
    h('h2', {}, `Lines (${Object.entries(lineCounts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none traced'})`),
    h('table', {'aria-label': 'Lines'}, h('thead', {}, h('tr', {}, ['Line', 'Status', 'Latency', 'Tokens', 'Inputs', 'Output', ''].map(c => h('th', {}, c)))), linesBody),
    h('div', {class: 'pager'}, more),
  )
}

// ---------------------------------------------------------------- router

const route = async () => {
  const nav = ++navigation
  const params = hashParams()
  view.setAttribute('aria-busy', 'true')
  try {
    const traceId = params.get('uiTraceId')
    if (traceId) await renderTrace(traceId, params)
    else if (params.get('run') && params.get('view') !== 'list') await renderRun(params.get('run'))
    else await renderList(params)
  } catch (error) {
    paint(nav, h('p', {class: 'notice', role: 'alert'}, error.message))
  }
  if (nav !== navigation) return
  // Tests (and assistive tech) can tell when the view matches the address.
  view.dataset.hash = location.hash
  view.setAttribute('aria-busy', 'false')
  document.title = `pf traces — ${view.querySelector('h1')?.textContent ?? 'error'}`
}

window.addEventListener('hashchange', route)
route()

// A failed span's error, said once: the status description (e.g. "TypeError: boom"), else the exception's message.
function errorMessage(span, exception) {
  if (span.status.description) return span.status.description
  if (!exception) return ''
  const type = exception.attributes['exception.type']
  const message = exception.attributes['exception.message'] ?? ''
  return type && type !== 'Error' && type !== 'PfError' ? `${type}: ${message}` : message
}

// The stack frames of the user's own code: pf's (dist/), packages' and Node's frames are left out.
function userFrames(exception) {
  const stack = exception?.attributes['exception.stacktrace']
  if (typeof stack !== 'string') return ''
  return stack
    .split('\n')
    .filter(line => /^\s+at /.test(line) && !/[/\\](dist|node_modules)[/\\]|node:internal|\(node:/.test(line))
    .map(line => line.trim())
    .join('\n')
}
