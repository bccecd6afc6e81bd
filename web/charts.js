// Small hand-written SVG charts for the run pages (no chart library: three chart shapes do not justify one).
// A classic script (not a module) so the offline comparison file (`pf run visualize --html-path`) can inline it.
;(() => {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = (tag, attrs = {}, ...children) => {
    const el = document.createElementNS(ns, tag)
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v))
    for (const c of children) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    return el
  }
  const W = 420
  const H = 180
  const pad = {left: 44, right: 10, top: 10, bottom: 34}
  const palette = ['#2358c4', '#c45a23', '#17803d', '#9b59b6', '#b8860b', '#c4282d']

  const niceNumber = v =>
    Math.abs(v) >= 100 ? Math.round(v).toString() : Math.abs(v) >= 10 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2)

  const frame = (label, yMax, xLabels) => {
    const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart'})
    root.append(svg('title', {}, label))
    const plotH = H - pad.top - pad.bottom
    for (const f of [0, 0.5, 1]) {
      const y = pad.top + plotH * (1 - f)
      root.append(svg('line', {x1: pad.left, x2: W - pad.right, y1: y, y2: y, class: 'grid'}))
      root.append(svg('text', {x: pad.left - 4, y: y + 4, 'text-anchor': 'end', class: 'tick'}, niceNumber(yMax * f)))
    }
    // Labels at the plot's edges anchor inwards so they are never cut off.
    for (const {x, text} of xLabels) {
      const anchor = x - pad.left < 30 ? 'start' : W - pad.right - x < 30 ? 'end' : 'middle'
      root.append(svg('text', {x, y: H - pad.bottom + 14, 'text-anchor': anchor, class: 'tick'}, text))
    }
    return root
  }

  /** Bars (histogram or per-line series): items [{label, value, title}], x tick labels every few bars. */
  const bars = (label, items, {xTitle, color = palette[0]} = {}) => {
    const max = Math.max(1e-9, ...items.map(i => i.value))
    const plotW = W - pad.left - pad.right
    const plotH = H - pad.top - pad.bottom
    const bw = plotW / Math.max(1, items.length)
    const every = Math.max(1, Math.ceil(items.length / 6))
    const ticks = items.flatMap((item, i) => (i % every === 0 ? [{x: pad.left + bw * (i + 0.5), text: item.label}] : []))
    const root = frame(label, max, ticks)
    items.forEach((item, i) => {
      const h = (item.value / max) * plotH
      root.append(
        svg(
          'rect',
          {x: pad.left + bw * i + 1, y: pad.top + plotH - h, width: Math.max(1, bw - 2), height: h, fill: color, class: 'bar-rect'},
          svg('title', {}, item.title),
        ),
      )
    })
    if (xTitle) root.append(svg('text', {x: pad.left + plotW / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-title'}, xTitle))
    return root
  }

  /** Lines over runs: series [{name, values: [number|null]}], x labels = run names. */
  const lines = (label, xNames, series) => {
    const all = series.flatMap(s => s.values.filter(v => v !== null))
    const max = Math.max(1e-9, ...all)
    const plotW = W - pad.left - pad.right
    const plotH = H - pad.top - pad.bottom
    const x = i => pad.left + (xNames.length === 1 ? plotW / 2 : (plotW * i) / (xNames.length - 1))
    const y = v => pad.top + plotH * (1 - v / max)
    const every = Math.max(1, Math.ceil(xNames.length / 5))
    const root = frame(
      label,
      max,
      xNames.flatMap((n, i) => (i % every === 0 ? [{x: x(i), text: n.length > 14 ? n.slice(0, 13) + '…' : n}] : [])),
    )
    series.forEach((s, k) => {
      const color = palette[k % palette.length]
      const points = s.values.map((v, i) => (v === null ? null : [x(i), y(v)]))
      const d = points.reduce(
        (acc, p, i) => (p ? acc + `${acc && points[i - 1] ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}` : acc),
        '',
      )
      if (d) root.append(svg('path', {d, fill: 'none', stroke: color, 'stroke-width': 2}))
      points.forEach(
        (p, i) =>
          p &&
          root.append(
            svg('circle', {cx: p[0], cy: p[1], r: 3, fill: color}, svg('title', {}, `${s.name} = ${s.values[i]} (${xNames[i]})`)),
          ),
      )
    })
    return root
  }

  const legend = series =>
    series.map((s, k) => {
      const item = document.createElement('span')
      item.className = 'legend-item'
      const swatch = document.createElement('span')
      swatch.className = 'swatch'
      swatch.style.background = palette[k % palette.length]
      item.append(swatch, s.name)
      return item
    })

  window.pfCharts = {bars, lines, legend, niceNumber}
})()
