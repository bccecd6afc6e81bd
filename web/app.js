// The pf trace viewer: a hash-routed page over the local JSON API (docs/viewer-api.md). No framework; every
// value from a trace is put into the page as text (never as HTML). The same script renders the offline comparison
// file of `pf run visualize --html-path`: there the data is embedded in the page (#pf-data) and there is no API.
const api = '/v1.0/api'
const view = document.getElementById('view')
const crumbs = document.getElementById('crumbs')
const embeddedData = document.getElementById('pf-data')
const embedded = embeddedData ? JSON.parse(embeddedData.textContent) : null

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
  for (const child of children.flat())
    if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child))
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
/** A value the API cut to a preview (docs/viewer-api.md, "Large values"). */
const isTruncated = value => Boolean(value && typeof value === 'object' && value.$pfTruncated === true)
const short = (value, n = 120) => {
  if (value === null || value === undefined) return ''
  const text = isTruncated(value) ? value.preview : typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > n ? text.slice(0, n) + '…' : text
}
const fmtChars = n => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n))
/** Span attributes hold JSON as text; show the structure when it parses. */
const parseMaybe = value => {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}
const pretty = value => {
  if (!isTruncated(value)) return h('pre', {class: 'json'}, typeof value === 'string' ? value : JSON.stringify(value, null, 2))
  // A preview only: the full value is one click away (and only then fetched).
  const box = h('div', {class: 'truncated'})
  const load = h(
    'button',
    {
      type: 'button',
      class: 'load-full',
      disabled: !value.href,
      onclick: async () => {
        load.disabled = true
        load.textContent = 'Loading…'
        try {
          const {value: full} = await getJson(value.href.replace(/^\/v1\.0\/api/, ''))
          box.replaceWith(pretty(parseMaybe(full)))
        } catch (error) {
          load.textContent = `Could not load: ${error.message}`
        }
      },
    },
    `Load full value (${fmtChars(value.length)} characters)`,
  )
  box.append(
    h('pre', {class: 'json'}, value.preview + '…'),
    h('div', {class: 'muted'}, `Showing the first ${fmtChars(value.preview.length)} of ${fmtChars(value.length)} characters. `, load),
  )
  return box
}
const valueText = v => (isTruncated(v) ? pretty(v) : typeof v === 'string' ? v : JSON.stringify(v))
const badge = status => h('span', {class: `badge ${status}`}, status)

const hashParams = () => new URLSearchParams(location.hash.replace(/^#/, ''))
const toHash = params =>
  '#' +
  [...params]
    .filter(([, v]) => v !== '' && v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&')

const setSection = name => {
  for (const a of document.querySelectorAll('.sections a')) a.setAttribute('aria-current', a.dataset.section === name ? 'page' : 'false')
}

const setCrumbs = (...items) => {
  crumbs.replaceChildren(
    ...items.flatMap((item, i) => [i > 0 ? ' / ' : '', typeof item === 'string' ? item : h('a', {href: item.href}, item.text)]),
  )
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

const listKeys = ['collection', 'run', 'status', 'from', 'to', 'q', 'attr', 'sort']
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

  setSection('list')
  setCrumbs(
    params.get('collection') ? `collection ${params.get('collection')}` : params.get('run') ? `run ${params.get('run')}` : 'all traces',
  )
  // Live: a new trace root that fits this view appears on the first page.
  onChange = event => !cursor && event.roots.length > 0
  const [page, collections, runs] = await Promise.all([getJson('/traces?' + query), getJson('/collections'), getJson('/runs')])

  const select = (name, label, options) =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        {name},
        h('option', {value: ''}, 'all'),
        options.map(o => h('option', {value: o, selected: params.get(name) === o}, o)),
      ),
    )
  const toLocalInput = t => (t ? new Date(Date.parse(t) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '')
  const form = h(
    'form',
    {
      class: 'filters panel',
      role: 'search',
      onsubmit: event => {
        event.preventDefault()
        const data = new FormData(form)
        const next = new URLSearchParams({view: 'list'})
        for (const k of listKeys) {
          let v = String(data.get(k) ?? '').trim()
          if (v && (k === 'from' || k === 'to')) v = new Date(v).toISOString()
          if (v) next.set(k, v)
        }
        location.hash = toHash(next)
      },
    },
    select(
      'collection',
      'Collection',
      collections.collections.map(c => c.collection),
    ),
    select(
      'run',
      'Run',
      runs.runs.map(r => r.name),
    ),
    select('status', 'Status', ['Ok', 'Error', 'Unset']),
    h('label', {}, 'From', h('input', {type: 'datetime-local', name: 'from', value: toLocalInput(params.get('from'))})),
    h('label', {}, 'To', h('input', {type: 'datetime-local', name: 'to', value: toLocalInput(params.get('to'))})),
    h(
      'label',
      {},
      'Search name, inputs, outputs',
      h('input', {type: 'search', name: 'q', value: params.get('q') ?? '', placeholder: 'whole words; word* for a prefix', size: 28}),
    ),
    h(
      'label',
      {},
      'Attribute',
      h('input', {
        type: 'text',
        name: 'attr',
        value: params.get('attr') ?? '',
        placeholder: 'key=value',
        size: 22,
        pattern: '[^=]+=.*',
        title: 'key=value, e.g. llm.response.model=gpt-4o',
      }),
    ),
    h(
      'label',
      {},
      'Sort',
      h(
        'select',
        {name: 'sort'},
        [
          ['', 'Newest first'],
          ['latency', 'Slowest first'],
          ['tokens', 'Most tokens first'],
        ].map(([v, t]) => h('option', {value: v, selected: (params.get('sort') ?? '') === v}, t)),
      ),
    ),
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
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Name', 'Status', 'Start', 'Latency', 'Tokens', 'Collection / run', 'Inputs', 'Output'].map(c => h('th', {}, c)),
      ),
    ),
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
    h(
      'button',
      {
        type: 'button',
        disabled: !page.nextCursor,
        onclick: () => {
          pageStack.cursors.push(cursor)
          goPage(page.nextCursor)
        },
      },
      'Older →',
    ),
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
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map(p => (typeof p === 'string' ? p : (p?.text ?? JSON.stringify(p)))).join('\n')
      : JSON.stringify(content)

const renderSpanDetail = (span, container) => {
  const attrs = span.attributes
  const type = attrs.span_type ?? ''
  const duration = micros(span.end_time) - micros(span.start_time)
  const {own, cumulative} = tokenCounts(attrs)
  const shown = new Set(['inputs', 'output'])
  const sections = [
    h('h2', {}, span.name, type ? h('span', {class: `chip ${type}`}, type) : '', ' ', badge(span.status.status_code)),
    h(
      'dl',
      {class: 'kv'},
      h('dt', {}, 'Duration'),
      h('dd', {}, fmtDuration(duration)),
      h('dt', {}, 'Start'),
      h('dd', {}, span.start_time),
      h('dt', {}, 'End'),
      h('dd', {}, span.end_time),
      h('dt', {}, 'Span id'),
      h('dd', {}, span.context.span_id),
      h('dt', {}, 'Parent'),
      h('dd', {}, span.parent_id ?? '—'),
    ),
  ]
  if (own || cumulative) {
    const block = (label, values) =>
      h(
        'div',
        {class: 'tokens', 'aria-label': label},
        ['Prompt', 'Completion', 'Total'].map((n, i) => h('div', {}, h('b', {}, values[i] ?? 0), `${n}`)),
      )
    sections.push(
      h(
        'section',
        {class: 'token-counts'},
        h('h2', {}, 'Tokens'),
        own ? block('This call', own) : '',
        cumulative && !own ? block('Including children', cumulative) : '',
        cumulative && own ? h('p', {class: 'muted'}, `Including children: ${cumulative[2] ?? 0} total`) : '',
      ),
    )
  }
  const exceptions = span.events.filter(e => e.name === 'exception')
  if (span.status.status_code === 'Error' || exceptions.length > 0) {
    sections.push(
      h(
        'section',
        {class: 'error-box', role: 'alert'},
        h('b', {}, 'Error: '),
        errorMessage(span, exceptions[0]),
        userFrames(exceptions[0]) ? h('details', {}, h('summary', {}, 'Where'), h('pre', {}, userFrames(exceptions[0]))) : '',
      ),
    )
  }
  const messages = type === 'LLM' ? chatMessages(span) : []
  if (messages.length > 0) {
    sections.push(
      h('h2', {}, 'Chat'),
      h(
        'div',
        {class: 'chat'},
        messages.map(m =>
          h(
            'div',
            {class: `msg ${m.role ?? ''}`},
            h('div', {class: 'role'}, m.role ?? 'message'),
            h('div', {class: 'content'}, messageText(m.content ?? (m.tool_calls ? JSON.stringify(m.tool_calls, null, 2) : ''))),
          ),
        ),
      ),
    )
  }
  sections.push(
    h(
      'section',
      {class: 'span-inputs'},
      h('h2', {}, 'Inputs'),
      attrs.inputs === undefined ? h('p', {class: 'muted'}, 'none recorded') : pretty(parseMaybe(attrs.inputs)),
    ),
  )
  sections.push(
    h(
      'section',
      {class: 'span-output'},
      h('h2', {}, 'Output'),
      attrs.output === undefined ? h('p', {class: 'muted'}, 'none recorded') : pretty(parseMaybe(attrs.output)),
    ),
  )
  const rest = Object.entries(attrs).filter(([k]) => !shown.has(k))
  sections.push(
    h('h2', {}, 'Attributes'),
    h(
      'dl',
      {class: 'kv span-attributes'},
      rest.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, valueText(v))]),
    ),
  )
  const resource = span.resource?.attributes ?? {}
  sections.push(
    h('h2', {}, 'Resource'),
    h(
      'dl',
      {class: 'kv'},
      Object.entries(resource).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
    ),
  )
  sections.push(
    h('h2', {}, `Events (${span.events.length})`),
    span.events.length === 0
      ? h('p', {class: 'muted'}, 'none')
      : h(
          'div',
          {class: 'span-events'},
          span.events.map(e =>
            h(
              'div',
              {class: 'event'},
              h('b', {}, e.name),
              h('span', {class: 'muted'}, ' ' + e.timestamp),
              Object.values(e.attributes).some(isTruncated)
                ? h(
                    'dl',
                    {class: 'kv'},
                    Object.entries(e.attributes).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, valueText(v))]),
                  )
                : pretty(Object.fromEntries(Object.entries(e.attributes).map(([k, v]) => [k, parseMaybe(v)]))),
            ),
          ),
        ),
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

const renderTrace = async (traceId, params, live) => {
  const nav = navigation
  const detail = await getJson('/traces/' + encodeURIComponent(traceId))
  // Live: spans of this trace arrive while it runs (a long flow, a batch line). Its root span ends last, so once the
  // root is stored the trace is complete and the page stays as the user left it (e.g. with a full value loaded).
  onChange = event => !detail.trace && event.traces.includes(traceId.toLowerCase())
  const {trace, spans} = detail
  const back = new URLSearchParams(params)
  back.delete('uiTraceId')
  const backLabel = params.get('run')
    ? `run ${params.get('run')}`
    : params.get('collection')
      ? `collection ${params.get('collection')}`
      : 'all traces'
  setSection(params.get('run') ? 'runs' : 'list')
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
      {
        class: 'span-row',
        role: 'treeitem',
        tabindex: 0,
        'aria-level': depth + 1,
        'aria-selected': 'false',
        'data-span-id': span.context.span_id,
        onclick: select,
        onkeydown: e => rowKeys(e, select),
      },
      h(
        'div',
        {class: 'span-name', style: `padding-left:${depth * 16}px`, title: span.name},
        span.status.status_code === 'Error' ? h('span', {class: 'err'}, '! ') : '',
        span.name,
        type ? h('span', {class: `chip ${type}`}, type) : '',
        tokens !== undefined ? h('span', {class: 'chip', title: 'total tokens'}, `${tokens} tok`) : '',
      ),
      h(
        'div',
        {class: 'lane'},
        h('div', {
          class: `bar ${type} ${span.status.status_code}`,
          style: `left:${(start / total) * 100}%;width:${(duration / total) * 100}%`,
        }),
        h('span', {class: 'dur'}, fmtDuration(duration)),
      ),
    )
    return row
  })
  const treeEl = h('div', {class: 'tree panel', role: 'tree', 'aria-label': 'Spans'}, treeRows)

  const root = trace ?? {
    name: spans[0]?.name,
    status: spans[0]?.status.status_code,
    latency: total / 1e6,
    tokens: null,
    startTime: spans[0]?.start_time,
  }
  paint(
    nav,
    h('h1', {}, root.name, ' ', badge(root.status)),
    h(
      'div',
      {class: 'meta'},
      h('span', {}, 'Trace ', h('b', {}, traceId)),
      h('span', {}, 'Start ', h('b', {}, fmtTime(root.startTime))),
      h('span', {}, 'Latency ', h('b', {}, fmtLatency(root.latency))),
      h('span', {}, 'Spans ', h('b', {}, spans.length)),
      root.tokens
        ? h(
            'span',
            {class: 'trace-tokens'},
            'Tokens ',
            h('b', {}, `${root.tokens.total}`),
            ` (prompt ${root.tokens.prompt}, completion ${root.tokens.completion})`,
          )
        : '',
      trace?.run
        ? h(
            'span',
            {},
            'Run ',
            h('a', {href: toHash(new URLSearchParams({run: trace.run}))}, trace.run),
            trace.lineNumber !== null ? ` line ${trace.lineNumber}` : '',
          )
        : '',
      h(
        'a',
        {href: `${api}/traces/${encodeURIComponent(traceId)}?download=1`, download: `trace-${traceId}.json`, class: 'export'},
        'Export JSON',
      ),
    ),
    h('div', {class: 'trace'}, treeEl, detailPane),
  )
  // A live refresh keeps the span the user was reading.
  const kept = live?.selectedSpan ? [...treeEl.children].find(r => r.dataset.spanId === live.selectedSpan) : undefined
  const first = kept ?? treeEl.firstElementChild
  if (first && nav === navigation) {
    first.click()
    if (!live) first.focus()
  }
}

// ---------------------------------------------------------------- runs

const runLink = name => h('a', {href: toHash(new URLSearchParams({run: name})), onclick: e => e.stopPropagation()}, name)
const flowName = flow =>
  (flow ?? '')
    .replace(/[\\/](flow\.(flex|dag)\.ya?ml)$/i, '')
    .split(/[\\/]/)
    .pop() || flow
const fmtSeconds = s => (s === null || s === undefined ? '' : fmtLatency(s))
const fmtMetric = v => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : window.pfCharts.niceNumber(v)) : short(v, 40))
const compactKv = obj =>
  Object.entries(obj ?? {})
    .map(([k, v]) => `${k}=${fmtMetric(v)}`)
    .join(', ')
const linesText = r => `${r.completed_lines} done, ${r.failed_lines} failed${r.total_lines !== null ? ` of ${r.total_lines}` : ''}`

const runSortColumns = [
  ['name', 'Name'],
  ['status', 'Status'],
  ['created', 'Created'],
  ['duration', 'Duration'],
  ['lines', 'Lines'],
  ['failed', 'Failed'],
  ['tokens', 'Tokens'],
]

const renderRuns = async params => {
  const nav = navigation
  setSection('runs')
  setCrumbs('runs')
  onChange = event => event.runs.length > 0
  const sort = params.get('sort') || '-created'
  const query = new URLSearchParams({sort})
  for (const key of ['q', 'status', 'flow', 'archived']) if (params.get(key)) query.set(key, params.get(key))
  const {runs} = await getJson('/runs?' + query)
  const selected = new Set((params.get('selected') ?? '').split(',').filter(Boolean))

  const form = h(
    'form',
    {
      class: 'filters panel',
      role: 'search',
      onsubmit: event => {
        event.preventDefault()
        const data = new FormData(form)
        const next = new URLSearchParams({view: 'runs'})
        for (const k of ['q', 'status']) if (String(data.get(k) ?? '').trim()) next.set(k, String(data.get(k)).trim())
        if (data.get('archived')) next.set('archived', '1')
        if (params.get('flow')) next.set('flow', params.get('flow'))
        if (sort !== '-created') next.set('sort', sort)
        location.hash = toHash(next)
      },
    },
    h(
      'label',
      {},
      'Search name, flow, tags',
      h('input', {type: 'search', name: 'q', value: params.get('q') ?? '', placeholder: 'text…', size: 24}),
    ),
    h(
      'label',
      {},
      'Status',
      h(
        'select',
        {name: 'status'},
        h('option', {value: ''}, 'all'),
        ['Running', 'Completed', 'Failed', 'Canceled'].map(s => h('option', {value: s, selected: params.get('status') === s}, s)),
      ),
    ),
    h(
      'label',
      {class: 'inline'},
      h('input', {type: 'checkbox', name: 'archived', value: '1', checked: params.get('archived') === '1'}),
      'Archived',
    ),
    h('button', {class: 'primary', type: 'submit'}, 'Apply'),
    h('button', {type: 'button', onclick: () => (location.hash = '#view=runs')}, 'Clear'),
    params.get('flow') ? h('span', {class: 'muted'}, `flow ${flowName(params.get('flow'))}`) : '',
  )

  const compareButton = h('button', {
    type: 'button',
    class: 'primary compare-selected',
    disabled: true,
    onclick: () => {
      location.hash = toHash(new URLSearchParams({view: 'compare', runs: [...selected].join(',')}))
    },
  })
  const updateCompare = () => {
    compareButton.disabled = selected.size < 2 || selected.size > 5
    compareButton.textContent = `Compare selected (${selected.size})`
  }
  updateCompare()

  const sortHeader = ([key, label]) => {
    const active = sort.replace(/^-/, '') === key
    const descending = sort.startsWith('-')
    const next = active ? (descending ? key : '-' + key) : key === 'name' || key === 'status' ? key : '-' + key
    return h(
      'th',
      {'aria-sort': active ? (descending ? 'descending' : 'ascending') : 'none'},
      h(
        'button',
        {
          type: 'button',
          class: 'sort',
          onclick: () => {
            const p = hashParams()
            p.set('view', 'runs')
            p.set('sort', next)
            location.hash = toHash(p)
          },
        },
        label,
        active ? (descending ? ' ↓' : ' ↑') : '',
      ),
    )
  }
  const openRun = r => (location.hash = toHash(new URLSearchParams({run: r.name})))
  const rows = runs.map(r =>
    h(
      'tr',
      {
        class: 'row',
        tabindex: 0,
        'data-run': r.name,
        onclick: () => openRun(r),
        onkeydown: e => e.target === e.currentTarget && rowKeys(e, () => openRun(r)),
      },
      h(
        'td',
        {onclick: e => e.stopPropagation()},
        h('input', {
          type: 'checkbox',
          'aria-label': `Select ${r.name}`,
          checked: selected.has(r.name),
          onchange: e => {
            if (e.target.checked) selected.add(r.name)
            else selected.delete(r.name)
            updateCompare()
          },
        }),
      ),
      h(
        'td',
        {class: 'run-name'},
        runLink(r.name),
        r.display_name && r.display_name !== r.name ? h('div', {class: 'muted'}, r.display_name) : '',
        r.archived ? h('span', {class: 'chip'}, 'archived') : '',
      ),
      h('td', {}, badge(r.status)),
      h('td', {}, fmtTime(r.created_at)),
      h('td', {class: 'num'}, fmtSeconds(r.duration)),
      h('td', {class: 'num'}, linesText(r)),
      h('td', {class: 'num'}, r.failed_lines > 0 ? h('span', {class: 'err'}, r.failed_lines) : '0'),
      h('td', {class: 'num'}, r.tokens ? r.tokens.total : ''),
      h(
        'td',
        {},
        h(
          'a',
          {href: toHash(new URLSearchParams({view: 'runs', flow: r.flow})), onclick: e => e.stopPropagation(), title: r.flow},
          flowName(r.flow),
        ),
      ),
      h('td', {class: 'clip', title: compactKv(r.metrics)}, compactKv(r.metrics)),
      h('td', {class: 'clip', title: compactKv(r.tags)}, compactKv(r.tags)),
      h(
        'td',
        {},
        r.base_run ? h('span', {}, 'evaluates ', runLink(r.base_run)) : '',
        r.evaluation_runs.length
          ? h(
              'span',
              {},
              'evaluated by ',
              r.evaluation_runs.flatMap((n, i) => [i ? ', ' : '', runLink(n)]),
            )
          : '',
      ),
    ),
  )
  const table = h(
    'table',
    {'aria-label': 'Runs', class: 'runs'},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, h('span', {class: 'sr-only'}, 'Select')),
        runSortColumns.slice(0, 7).map(sortHeader),
        h('th', {}, 'Flow'),
        h('th', {}, 'Metrics'),
        h('th', {}, 'Tags'),
        h('th', {}, 'Base / evaluations'),
      ),
    ),
    h('tbody', {}, rows),
  )
  paint(
    nav,
    h('h1', {}, 'Runs'),
    form,
    h(
      'div',
      {class: 'pager'},
      compareButton,
      h('span', {class: 'muted'}, `${runs.length} run(s). Select 2–5 runs to compare them line by line.`),
    ),
    runs.length === 0
      ? h('p', {class: 'notice'}, 'No runs match. Create one with `pf run create --flow … --data …`.')
      : h('div', {class: 'scroll-x'}, table),
  )
}

// ---------------------------------------------------------------- run page

const chartCard = (title, ...content) => h('figure', {class: 'panel chart-card'}, h('figcaption', {}, title), ...content)

const runCharts = (charts, name) => {
  const {bars, lines, legend} = window.pfCharts
  const cards = []
  const lat = charts.latency
  if (lat.count > 0)
    cards.push(
      chartCard(
        `Latency per line (${lat.count} lines; p50 ${fmtLatency(lat.p50)}, p90 ${fmtLatency(lat.p90)}, p99 ${fmtLatency(lat.p99)})`,
        bars(
          'Latency distribution: lines per latency range',
          lat.bins.map(b => ({
            label: fmtLatency(b.from),
            value: b.count,
            title: `${fmtLatency(b.from)}–${fmtLatency(b.to)}: ${b.count} line(s)`,
          })),
          {xTitle: 'latency'},
        ),
      ),
    )
  if (charts.tokens.some(t => t.max > 0))
    cards.push(
      chartCard(
        'Tokens per line',
        bars(
          'Total tokens per line',
          charts.tokens.map(t => ({
            label: t.from === t.to ? `#${t.from}` : `#${t.from}`,
            value: t.mean,
            title:
              t.from === t.to ? `line ${t.from}: ${t.mean} tokens` : `lines ${t.from}–${t.to}: mean ${Math.round(t.mean)}, max ${t.max}`,
          })),
          {xTitle: 'line', color: '#9b59b6'},
        ),
      ),
    )
  const metricNames = [...new Set(charts.flowRuns.flatMap(r => Object.keys(r.metrics)))]
  if (charts.flowRuns.length > 1 && metricNames.length > 0) {
    const series = metricNames.slice(0, 6).map(m => ({name: m, values: charts.flowRuns.map(r => r.metrics[m] ?? null)}))
    cards.push(
      chartCard(
        `Metrics over the last ${charts.flowRuns.length} runs of this flow (this run: ${name})`,
        lines(
          'Metrics over runs of the same flow',
          charts.flowRuns.map(r => r.name),
          series,
        ),
        h('div', {class: 'legend'}, legend(series)),
      ),
    )
  }
  return cards.length ? h('div', {class: 'charts'}, cards) : ''
}

const renderRun = async name => {
  const nav = navigation
  const [detail, charts] = await Promise.all([
    getJson('/runs/' + encodeURIComponent(name)),
    getJson(`/runs/${encodeURIComponent(name)}/charts`),
  ])
  const {run, lineCounts, summary} = detail
  setSection('runs')
  setCrumbs({href: '#view=runs', text: 'runs'}, `run ${name}`)
  onChange = event => event.runs.includes(name)
  const linesBody = h('tbody', {})
  const openLine = line => (location.hash = toHash(new URLSearchParams({run: name, uiTraceId: line.traceId})))
  const addLines = (lines, outputs) => {
    for (const line of lines) {
      const output = line.outputs ?? outputs[String(line.lineNumber)] ?? line.error?.message ?? line.error
      linesBody.append(
        h(
          'tr',
          {
            class: 'row',
            tabindex: 0,
            'data-trace-id': line.traceId,
            onclick: () => openLine(line),
            onkeydown: e => rowKeys(e, () => openLine(line)),
          },
          h('td', {class: 'num'}, line.lineNumber ?? ''),
          h('td', {}, badge(line.status)),
          h('td', {class: 'num'}, fmtLatency(line.latency)),
          h('td', {class: 'num'}, line.tokens ? line.tokens.total : ''),
          h('td', {class: 'clip', title: short(line.inputs, 2000)}, short(line.inputs)),
          h('td', {class: 'clip', title: short(output, 2000)}, short(output)),
          h(
            'td',
            {},
            h('a', {href: toHash(new URLSearchParams({run: name, uiTraceId: line.traceId})), onclick: e => e.stopPropagation()}, 'trace'),
          ),
        ),
      )
    }
  }
  addLines(detail.lines, detail.outputs)
  let after = detail.nextAfterLine
  const more = h(
    'button',
    {
      type: 'button',
      hidden: after === null,
      onclick: async () => {
        const page = await getJson(`/runs/${encodeURIComponent(name)}?afterLine=${after}`)
        addLines(page.lines, page.outputs)
        after = page.nextAfterLine
        more.hidden = after === null
      },
    },
    'More lines',
  )
  const kv = obj =>
    h(
      'dl',
      {class: 'kv'},
      Object.entries(obj ?? {}).flatMap(([k, v]) => [
        h('dt', {}, k),
        h('dd', {}, typeof v === 'string' ? v : typeof v === 'number' ? fmtMetric(v) : JSON.stringify(v)),
      ]),
    )
  const compareWith = others => toHash(new URLSearchParams({view: 'compare', runs: [name, ...others].join(',')}))
  paint(
    nav,
    h('h1', {}, run.display_name || run.name, ' ', badge(run.status)),
    h(
      'div',
      {class: 'meta'},
      h('span', {}, 'Run ', h('b', {}, run.name)),
      h(
        'span',
        {},
        'Flow ',
        h('a', {href: toHash(new URLSearchParams({view: 'runs', flow: run.flow})), title: run.flow}, h('b', {}, flowName(run.flow))),
      ),
      run.data ? h('span', {}, 'Data ', h('b', {}, run.data)) : '',
      h('span', {}, 'Created ', h('b', {}, fmtTime(run.created_at))),
      run.ended_at ? h('span', {}, 'Ended ', h('b', {}, fmtTime(run.ended_at))) : '',
      summary.duration !== null ? h('span', {class: 'run-duration'}, 'Duration ', h('b', {}, fmtSeconds(summary.duration))) : '',
      h(
        'span',
        {class: 'line-counts'},
        'Lines ',
        h(
          'b',
          {},
          `${run.completed_lines} completed, ${run.failed_lines} failed${run.total_lines !== null ? ` of ${run.total_lines}` : ''}`,
        ),
      ),
      summary.tokens
        ? h(
            'span',
            {class: 'run-tokens'},
            'Tokens ',
            h('b', {}, summary.tokens.total),
            ` (prompt ${summary.tokens.prompt}, completion ${summary.tokens.completion})`,
          )
        : '',
      summary.base_run
        ? h(
            'span',
            {class: 'base-run'},
            'Evaluates ',
            runLink(summary.base_run),
            ' · ',
            h('a', {href: compareWith([summary.base_run])}, 'compare'),
          )
        : '',
      summary.evaluation_runs.length
        ? h(
            'span',
            {class: 'evaluation-runs'},
            'Evaluated by ',
            summary.evaluation_runs.flatMap((n, i) => [i ? ', ' : '', runLink(n)]),
          )
        : '',
      h('a', {href: toHash(new URLSearchParams({view: 'list', run: name}))}, 'Search these traces'),
    ),
    run.error
      ? h(
          'p',
          {class: 'error-box', role: 'alert'},
          typeof run.error === 'string' ? run.error : (run.error.message ?? JSON.stringify(run.error)),
        )
      : '',
    h('h2', {}, 'Metrics'),
    run.metrics && Object.keys(run.metrics).length > 0
      ? h('div', {class: 'panel metrics'}, kv(run.metrics))
      : h('p', {class: 'muted'}, 'No metrics.'),
    detail.evaluations.length > 0
      ? [
          h('h2', {}, 'Evaluations'),
          h(
            'div',
            {class: 'panel evaluations'},
            detail.evaluations.map(e =>
              h(
                'div',
                {class: 'evaluation'},
                runLink(e.name),
                ' ',
                badge(e.status),
                ` ${flowName(e.flow)} · `,
                h('a', {href: compareWith([e.name])}, 'compare'),
                kv(e.metrics),
              ),
            ),
          ),
        ]
      : '',
    run.tags && Object.keys(run.tags).length > 0 ? [h('h2', {}, 'Tags'), h('div', {class: 'panel'}, kv(run.tags))] : '',
    runCharts(charts, name),
    h(
      'h2',
      {},
      `Lines (${
        Object.entries(lineCounts)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ') || 'none traced'
      })`,
    ),
    h(
      'div',
      {class: 'scroll-x'},
      h(
        'table',
        {'aria-label': 'Lines'},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Line', 'Status', 'Latency', 'Tokens', 'Inputs', 'Output', ''].map(c => h('th', {}, c)),
          ),
        ),
        linesBody,
      ),
    ),
    h('div', {class: 'pager'}, more),
  )
}

// ---------------------------------------------------------------- compare

const sameValue = values => new Set(values.map(v => JSON.stringify(v ?? null))).size <= 1

const renderCompare = async (params, data) => {
  const nav = navigation
  const names = (params.get('runs') ?? '').split(',').filter(Boolean)
  const cmp = data ?? (await getJson('/compare?' + new URLSearchParams({runs: names.join(',')})))
  setSection('runs')
  if (!data) setCrumbs({href: '#view=runs', text: 'runs'}, `compare ${cmp.runs.length} runs`)
  onChange = event => event.runs.some(r => cmp.runs.some(x => x.name === r || x.evaluation_runs.includes(r)))
  const runHead = r => h('th', {scope: 'col'}, data ? r.name : runLink(r.name), ' ', badge(r.status))

  // Metrics and totals side by side; a row whose values differ is marked.
  const overviewRows = [
    ['Status', cmp.runs.map(r => r.status)],
    ['Flow', cmp.runs.map(r => flowName(r.flow))],
    ['Lines', cmp.runs.map(r => linesText(r))],
    ['Duration', cmp.runs.map(r => fmtSeconds(r.duration))],
    ['Tokens', cmp.runs.map(r => (r.tokens ? r.tokens.total : ''))],
    ...cmp.metricNames.map(m => [m, cmp.metrics.map(values => values[m])]),
  ]
  const overview = h(
    'table',
    {'aria-label': 'Metrics', class: 'compare-metrics'},
    h('thead', {}, h('tr', {}, h('th', {}, ''), cmp.runs.map(runHead))),
    h(
      'tbody',
      {},
      overviewRows.map(([label, values]) => {
        const differs = !sameValue(values) && label !== 'Duration'
        return h(
          'tr',
          {class: differs ? 'differs' : ''},
          h('th', {scope: 'row'}, label, differs ? h('span', {class: 'diff-mark', title: 'values differ'}, ' ≠') : ''),
          values.map(v => h('td', {class: typeof v === 'number' ? 'num' : ''}, v === undefined ? '—' : fmtMetric(v))),
        )
      }),
    ),
  )

  const onlyDiff = h('input', {
    type: 'checkbox',
    id: 'only-diff',
    checked: params.get('only') === 'diff',
    onchange: () => {
      for (const row of linesBody.children)
        row.hidden = onlyDiff.checked && !row.classList.contains('differs') && !row.classList.contains('failed')
    },
  })
  const cellOf = (c, line) => {
    const traceHref = c.traceId && !data ? toHash(new URLSearchParams({run: cmp.runs[line].name, uiTraceId: c.traceId})) : null
    return h(
      'td',
      {class: `cell ${c.status}`},
      c.status === 'Failed'
        ? h('div', {class: 'err'}, '✗ ', c.error)
        : c.status === 'Missing'
          ? h('div', {class: 'muted'}, 'no line')
          : h('div', {class: 'out'}, short(c.output, 400)),
      Object.keys(c.scores).length
        ? h(
            'div',
            {class: 'scores'},
            Object.entries(c.scores).map(([k, v]) => h('span', {class: 'chip score'}, `${k}: ${fmtMetric(v)}`)),
          )
        : '',
      h(
        'div',
        {class: 'cell-meta muted'},
        c.latency !== undefined && c.latency !== null ? fmtLatency(c.latency) : '',
        c.tokens ? ` · ${c.tokens} tok` : '',
        traceHref ? [' · ', h('a', {href: traceHref}, 'trace')] : '',
      ),
    )
  }
  const linesBody = h(
    'tbody',
    {},
    cmp.lines.map(line =>
      h(
        'tr',
        {class: [line.differs ? 'differs' : '', line.failed ? 'failed' : ''].join(' ').trim(), 'data-line': line.lineNumber, tabindex: 0},
        h(
          'th',
          {scope: 'row', class: 'num'},
          String(line.lineNumber),
          line.failed ? h('span', {class: 'flag-failed', title: 'a run failed this line'}, ' ✗') : '',
          line.differs ? h('span', {class: 'diff-mark', title: 'outputs differ'}, ' ≠') : '',
        ),
        h('td', {class: 'inputs'}, short(line.inputs, 400)),
        line.cells.map((c, i) => cellOf(c, i)),
      ),
    ),
  )
  const differing = cmp.lines.filter(l => l.differs).length
  const failing = cmp.lines.filter(l => l.failed).length
  paint(
    nav,
    h('h1', {}, `Compare runs: ${cmp.runs.map(r => r.name).join(' · ')}`),
    data
      ? h('p', {class: 'muted'}, `Written by pf run visualize on ${fmtTime(data.generatedAt)}. Offline copy: trace links need the viewer.`)
      : '',
    h('h2', {}, 'Metrics'),
    h('div', {class: 'scroll-x'}, overview),
    h(
      'h2',
      {},
      `Lines (${cmp.lineCount}${cmp.lineCount > cmp.lines.length ? `, first ${cmp.lines.length} shown` : ''}; ${differing} differ, ${failing} with a failure)`,
    ),
    h('label', {class: 'inline'}, onlyDiff, 'Only lines that differ or failed'),
    h(
      'div',
      {class: 'scroll-x'},
      h(
        'table',
        {'aria-label': 'Lines compared', class: 'compare-lines'},
        h('thead', {}, h('tr', {}, h('th', {}, 'Line'), h('th', {}, 'Inputs'), cmp.runs.map(runHead))),
        linesBody,
      ),
    ),
  )
  if (onlyDiff.checked) onlyDiff.dispatchEvent(new Event('change'))
}

// ---------------------------------------------------------------- router and live updates

/** Decides whether a live change concerns the current view (set by each view when it renders). */
let onChange = null

const route = async live => {
  const nav = ++navigation
  const params = hashParams()
  if (!live) view.setAttribute('aria-busy', 'true')
  onChange = null
  try {
    const traceId = params.get('uiTraceId')
    if (embedded) await renderCompare(params, embedded)
    else if (traceId) await renderTrace(traceId, params, live)
    else if (params.get('view') === 'runs') await renderRuns(params)
    else if (params.get('view') === 'compare') await renderCompare(params)
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

let liveUpdates = 0
let refreshTimer = null
let refreshPending = false
/** Re-renders the current view in place: scroll position, focused row and selected span are kept. */
const refresh = async () => {
  refreshTimer = null
  const active = document.activeElement
  // Never under the user's fingers: typing in a filter waits until focus leaves it.
  if (active?.matches?.('input[type=search], input[type=text], input[type=datetime-local], select, textarea')) {
    refreshPending = true
    return
  }
  const scroll = window.scrollY
  const focusKey = active?.dataset?.traceId ?? active?.dataset?.run ?? active?.dataset?.spanId
  const selectedSpan = view.querySelector('.span-row[aria-selected="true"]')?.dataset.spanId
  await route({selectedSpan})
  window.scrollTo(0, scroll)
  if (focusKey)
    view
      .querySelector(`[data-trace-id="${focusKey}"], [data-run="${focusKey}"], [data-span-id="${focusKey}"]`)
      ?.focus({preventScroll: true})
  view.dataset.liveUpdates = String(++liveUpdates)
}
document.addEventListener('focusout', () => {
  if (refreshPending) {
    refreshPending = false
    refreshTimer ??= setTimeout(refresh, 50)
  }
})

const listen = () => {
  const indicator = document.getElementById('live')
  const source = new EventSource(api + '/events')
  source.onopen = () => {
    indicator.textContent = '● live'
    indicator.className = 'live on'
  }
  source.onerror = () => {
    indicator.textContent = '○ offline'
    indicator.className = 'live off'
  }
  source.addEventListener('change', message => {
    const event = JSON.parse(message.data)
    if (onChange?.(event) && view.getAttribute('aria-busy') !== 'true') refreshTimer ??= setTimeout(refresh, 100)
  })
}

if (embedded) {
  document.querySelector('.sections')?.remove()
  route()
} else {
  window.addEventListener('hashchange', () => route())
  route()
  listen()
}

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
