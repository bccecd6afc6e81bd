import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import type {Browser, Page} from 'playwright-core'

import {TraceStore} from '../../src/store/store.js'
import {launchChromium, screenshotPath} from '../helpers/browser.js'
import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {hex, makeSpan} from '../helpers/seed.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures')
const answerFlow = path.join(fixtures, 'flows', 'run-answer')
const evalFlow = path.join(fixtures, 'flows', 'run-eval')
const questions = path.join(fixtures, 'data', 'questions.jsonl')

/** Waits until the page shows the view its address names (the app marks it; a previous view may linger before). */
const settled = (page: Page) =>
  page.waitForFunction(() => {
    const view = document.getElementById('view')!
    return view.getAttribute('aria-busy') === 'false' && view.dataset.hash === location.hash
  })

/** The page has no horizontal scroll bar: it reads on a narrow window (wide tables scroll inside their box). */
const fitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)

describe('viewer round 2 in a real browser: runs, comparison, charts, live updates, large values', function () {
  this.timeout(300_000)
  let home: string
  let base: string
  let browser: Browser
  let page: Page

  const create = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const result = await runPf(['run', 'create', ...args], {home, env})
    expect(result.code, result.stderr).to.be.oneOf([0, 1])
    return result
  }

  before(async () => {
    home = tempDir('pf-home-viewer-runs-')
    const started = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(started.code, started.stderr + started.stdout).to.equal(0)
    base = started.json().url
    // Real runs: a1 fails line 2; a2 (the "fix") answers every line, twice; each is evaluated.
    await create(['--flow', answerFlow, '--data', questions, '--name', 'a1', '--display-name', 'first try'])
    await create(['--flow', answerFlow, '--data', questions, '--name', 'a2', '--column-mapping', 'repeat=2', '--tag', 'team=qa'], {
      ANSWER_FIXED: '1',
    })
    for (const [evalName, baseRun] of [
      ['e1', 'a1'],
      ['e2', 'a2'],
    ])
      await create([
        '--flow',
        evalFlow,
        '--data',
        questions,
        '--run',
        baseRun,
        '--name',
        evalName,
        '--column-mapping',
        'answer=${run.outputs.answer}',
        '--column-mapping',
        'expected=${data.expected}',
      ])

    browser = await launchChromium()
    page = await browser.newPage({viewport: {width: 1366, height: 800}})
    await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, route => route.abort())
  })

  after(async () => {
    await browser?.close()
    if (home) await runPf(['service', 'stop'], {home})
  })

  it('runs page: every run with status, lines, links; filter, sort, and select two runs to compare', async () => {
    await page.goto(`${base}#view=runs`)
    await settled(page)
    const rows = page.locator('table[aria-label="Runs"] tbody tr')
    expect(await rows.evaluateAll(rs => rs.map(r => (r as HTMLElement).dataset.run))).to.deep.equal(['e2', 'e1', 'a2', 'a1'])
    const a1 = page.locator('tr[data-run="a1"]')
    expect(await a1.locator('.badge').textContent()).to.equal('Failed')
    expect(await a1.textContent())
      .to.contain('3 done, 1 failed of 4')
      .and.to.contain('first try')
      .and.to.contain('evaluated by e1')
    expect(await page.locator('tr[data-run="e2"]').textContent())
      .to.contain('evaluates a2')
      .and.to.contain('accuracy=0')
    expect(await page.locator('tr[data-run="a2"]').textContent()).to.contain('team=qa')
    await page.screenshot({path: screenshotPath('viewer-runs-page'), fullPage: true})

    await page.getByLabel('Status').selectOption('Failed')
    await page.getByRole('button', {name: 'Apply'}).click()
    await settled(page)
    expect(await rows.evaluateAll(rs => rs.map(r => (r as HTMLElement).dataset.run))).to.deep.equal(['e1', 'a1'])
    await page.getByRole('button', {name: 'Clear'}).click()
    await settled(page)
    await page.getByRole('button', {name: 'Name'}).click()
    await settled(page)
    expect(await rows.evaluateAll(rs => rs.map(r => (r as HTMLElement).dataset.run))).to.deep.equal(['a1', 'a2', 'e1', 'e2'])
    expect(await page.locator('th[aria-sort="ascending"]').textContent()).to.contain('Name')

    // Keyboard: Space ticks a run's box; Compare needs two.
    const compare = page.getByRole('button', {name: /Compare selected/})
    expect(await compare.isDisabled()).to.equal(true)
    await page.getByLabel('Select a1').focus()
    await page.keyboard.press('Space')
    await page.getByLabel('Select a2').focus()
    await page.keyboard.press('Space')
    expect(await compare.textContent()).to.equal('Compare selected (2)')
    await compare.click()
    await settled(page)
    expect(page.url()).to.match(/#view=compare&runs=a1%2Ca2$/)
    expect(await page.locator('h1').textContent()).to.equal('Compare runs: a1 · a2')
  })

  it('compare page: metrics side by side, line by line outputs and scores, differences and failures marked', async () => {
    await page.goto(`${base}#view=compare&runs=a1,a2`)
    await settled(page)
    const accuracy = page.locator('table[aria-label="Metrics"] tr', {hasText: 'run-eval/accuracy'})
    expect(await accuracy.locator('td').allTextContents()).to.deep.equal(['0.67', '0'])
    expect(await accuracy.getAttribute('class')).to.contain('differs')
    const lines = page.locator('table[aria-label="Lines compared"] tbody tr')
    expect(await lines.count()).to.equal(4)
    const failed = page.locator('tr[data-line="2"]')
    expect(await failed.getAttribute('class')).to.contain('failed')
    expect(await failed.locator('td.cell').first().textContent()).to.contain('cannot answer "fail now"')
    expect(await failed.locator('td.cell').nth(1).textContent()).to.contain('FAIL NOW FAIL NOW')
    const first = page.locator('tr[data-line="0"]')
    expect(await first.locator('td.inputs').textContent()).to.contain('"question":"hi"')
    expect(await first.locator('td.cell').first().textContent()).to.contain('run-eval/correct: true')
    expect(await first.locator('td.cell').nth(1).textContent()).to.contain('run-eval/correct: false')
    expect(await first.getAttribute('class')).to.contain('differs')
    await page.screenshot({path: screenshotPath('viewer-compare-page'), fullPage: true})

    // A line's trace is one click away.
    await first.locator('td.cell').first().getByRole('link', {name: 'trace'}).click()
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(await page.locator('.span-row .span-name').first().textContent()).to.contain('answer')

    // Narrow window: still readable, no page-wide horizontal scrolling.
    await page.setViewportSize({width: 420, height: 800})
    await page.goto(`${base}#view=compare&runs=a1,a2`)
    await settled(page)
    expect(await fitsWidth(page)).to.equal(true)
    await page.screenshot({path: screenshotPath('viewer-compare-narrow'), fullPage: true})
    await page.setViewportSize({width: 1366, height: 800})
  })

  it('run page: totals, evaluation links, latency and token charts, metrics over runs of the flow', async () => {
    await page.goto(`${base}#run=a2`)
    await settled(page)
    expect(await page.locator('.evaluation-runs').textContent()).to.contain('e2')
    expect(await page.locator('.evaluations').textContent()).to.contain('accuracy')
    const charts = page.locator('figure.chart-card')
    expect(await charts.locator('figcaption').allTextContents()).to.satisfy(
      (c: string[]) => c.some(t => t.startsWith('Latency per line (4 lines')) && c.some(t => t.startsWith('Metrics over the last 2 runs')),
    )
    const bars = await charts
      .first()
      .locator('rect.bar-rect')
      .evaluateAll(rs => rs.map(r => Number(r.querySelector('title')!.textContent!.split(': ')[1].split(' ')[0])))
    expect(bars.reduce((a, b) => a + b, 0)).to.equal(4)
    expect(await page.locator('svg[aria-label="Metrics over runs of the same flow"] circle').count()).to.equal(4) // accuracy and graded × a1, a2
    await page.screenshot({path: screenshotPath('viewer-run-charts'), fullPage: true})

    await page.locator('.evaluation-runs').getByRole('link', {name: 'e2'}).click()
    await settled(page)
    expect(await page.locator('.base-run').textContent()).to.contain('Evaluates a2')
    await page.locator('.base-run').getByRole('link', {name: 'compare'}).click()
    await settled(page)
    expect(await page.locator('h1').textContent()).to.equal('Compare runs: e2 · a2')

    await page.setViewportSize({width: 420, height: 800})
    await page.goto(`${base}#run=a1`)
    await settled(page)
    expect(await fitsWidth(page)).to.equal(true)
    await page.screenshot({path: screenshotPath('viewer-run-narrow'), fullPage: true})
    await page.setViewportSize({width: 1366, height: 800})
  })

  it('`pf run visualize` prints the comparison page, and --html-path writes a file that works offline from disk', async () => {
    const shown = await runPf(['run', 'visualize', '--names', 'a1,a2', '--json'], {home})
    expect(shown.code, shown.stderr).to.equal(0)
    expect(shown.json()).to.deep.include({runs: ['a1', 'a2'], opened: false})
    expect(shown.json().url).to.equal(`${base}#view=compare&runs=a1,a2`)

    const file = path.join(home, 'compare.html')
    const written = await runPf(['run', 'visualize', '--names', 'a1,a2,e1', '--html-path', file], {home})
    expect(written.code, written.stderr).to.equal(0)
    expect(written.stdout.trim()).to.equal(file)
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    expect(readFileSync(file, 'utf8')).not.to.match(/<script[^>]+src=|<link[^>]+href=/)

    // Offline: a fresh page whose only allowed request is the file itself.
    const offline = await browser.newPage({viewport: {width: 1366, height: 800}})
    const requested: string[] = []
    await offline.route('**/*', route => {
      requested.push(route.request().url())
      return route.request().url().startsWith('file://') ? route.continue() : route.abort()
    })
    const errors: string[] = []
    offline.on('pageerror', e => errors.push(e.message))
    await offline.goto('file://' + file)
    await offline.locator('table[aria-label="Lines compared"] tbody tr').first().waitFor()
    expect(await offline.locator('h1').textContent()).to.equal('Compare runs: a1 · a2 · e1')
    expect(await offline.locator('tr[data-line="2"]').getAttribute('class')).to.contain('failed')
    expect(await offline.locator('table[aria-label="Metrics"]').textContent()).to.contain('run-eval/accuracy')
    expect(requested).to.deep.equal(['file://' + file])
    expect(errors).to.deep.equal([])
    await offline.screenshot({path: screenshotPath('visualize-html-offline'), fullPage: true})
    await offline.close()

    // Bad input: one line, exit 2, nothing written.
    const missing = await runPf(['run', 'visualize', '--names', 'a1,nope', '--html-path', path.join(home, 'x.html'), '--json'], {home})
    expect(missing.code).to.equal(2)
    expect(missing.json().error.code).to.equal('run_not_found')
    expect(existsSync(path.join(home, 'x.html'))).to.equal(false)
    const twice = await runPf(['run', 'visualize', '--names', 'a1,a1'], {home})
    expect(twice.code).to.equal(2)
    expect(twice.stderr.trim()).to.equal('Error: Run "a1" is named twice in --names.')
    const unwritable = await runPf(
      ['run', 'visualize', '--names', 'a1', '--html-path', path.join(home, 'no', 'such', 'dir', 'x.html'), '--json'],
      {home},
    )
    expect(unwritable.code).to.equal(2)
    expect(unwritable.json().error.code).to.equal('invalid_html_path')
  })

  it('trace list: indexed search over child spans, attribute key=value filter and sort, from the form', async () => {
    await page.goto(`${base}#view=list`)
    await settled(page)
    const rows = page.locator('table[aria-label="Traces"] tbody tr')
    // "FAIL NOW" is only in a child span (think) and the outputs of a2's line 2; the attribute picks the run.
    await page.getByLabel('Search name, inputs, outputs').fill('fail now')
    await page.getByLabel('Attribute').fill('batch_run_id=a2')
    await page.getByRole('button', {name: 'Apply'}).click()
    await settled(page)
    expect(await rows.count()).to.equal(1)
    expect(await rows.first().textContent()).to.contain('a2 #2')
    expect(page.url()).to.contain('attr=batch_run_id%3Da2')
    await page.screenshot({path: screenshotPath('viewer-search'), fullPage: true})

    await page.getByRole('button', {name: 'Clear'}).click()
    await settled(page)
    await page.getByLabel('Attribute').fill('batch_run_id=a1')
    await page.getByLabel('Sort').selectOption('latency')
    await page.getByRole('button', {name: 'Apply'}).click()
    await settled(page)
    const latencies = await rows.evaluateAll(rs =>
      rs.map(r => {
        const [value, unit] = r.querySelectorAll('td')[3].textContent!.split(' ')
        return Number(value) * ({s: 1e6, ms: 1e3, µs: 1} as Record<string, number>)[unit]
      }),
    )
    expect(latencies).to.have.length(4)
    expect(latencies).to.deep.equal([...latencies].sort((a, b) => b - a))
  })

  it('updates the run page and the trace list live while a real `pf run create` runs, ≤ 1 s after spans are stored', async () => {
    // Four slow lines, one at a time: the pages must fill in while the run is in progress, without a reload.
    const listPage = await browser.newPage({viewport: {width: 1366, height: 800}})
    await listPage.goto(`${base}#view=list`)
    await settled(listPage)
    await listPage.evaluate(() => ((window as any).notReloaded = true))
    const child = spawn(
      process.execPath,
      [
        pfBin,
        'run',
        'create',
        '--flow',
        answerFlow,
        '--data',
        questions,
        '--name',
        'live_run',
        '--workers',
        '1',
        '--column-mapping',
        'sleep_ms=500',
      ],
      {
        env: {...process.env, PF_HOME_DIRECTORY: home, ANSWER_FIXED: '1'},
        stdio: 'ignore',
      },
    )
    const exited = new Promise<number>(resolve => child.on('exit', () => resolve(Date.now())))
    try {
      // The run record exists as soon as the run starts; open its page then.
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline && (await page.request.get(`${base.replace(/\/v1\.0.*/, '')}/v1.0/api/runs/live_run`)).status() !== 200)
        await new Promise(r => setTimeout(r, 50))
      await page.goto(`${base}#run=live_run`)
      await settled(page)
      await page.evaluate(() => ((window as any).notReloaded = true))
      const seen = new Set<number>()
      let endedAt: number | undefined
      void exited.then(t => (endedAt = t))
      while (endedAt === undefined) {
        seen.add(await page.locator('table[aria-label="Lines"] tbody tr').count())
        await new Promise(r => setTimeout(r, 50))
      }
      // Every span was stored before the process ended: the page shows all lines, and the final status, within 1 s.
      await page.waitForFunction(
        () =>
          document.querySelectorAll('table[aria-label="Lines"] tbody tr').length === 4 &&
          document.querySelector('h1 .badge')?.textContent === 'Completed',
        undefined,
        {timeout: 1000, polling: 50},
      )
      expect(Date.now() - endedAt).to.be.at.most(1000)
      expect(
        [...seen].some(n => n > 0 && n < 4),
        `the page went from ${[...seen]} lines: it did not update during the run`,
      ).to.equal(true)
      expect(await page.evaluate(() => (window as any).notReloaded)).to.equal(true)
      expect(Number(await page.locator('#view').getAttribute('data-live-updates'))).to.be.greaterThan(1)
      expect(await page.locator('#live').textContent()).to.equal('● live')
      await page.screenshot({path: screenshotPath('viewer-live-run'), fullPage: true})

      await listPage.waitForFunction(
        () =>
          [...document.querySelectorAll('table[aria-label="Traces"] tbody tr')].filter(r => r.textContent!.includes('live_run')).length ===
          4,
        undefined,
        {timeout: 1000},
      )
      expect(await listPage.evaluate(() => (window as any).notReloaded)).to.equal(true)
      expect(await listPage.locator('table[aria-label="Traces"] tbody tr').first().textContent()).to.contain('live_run')
    } finally {
      child.kill()
      await listPage.close()
    }
  })

  it('updates a trace page live when its root span arrives, keeping the selected span', async () => {
    const traceId = hex(16)
    const rootId = hex(8)
    const now = Date.now()
    const store = TraceStore.open(home)
    store.recordSpans([
      makeSpan({
        traceId,
        parentId: rootId,
        name: 'early_child',
        startMs: now + 1,
        endMs: now + 5,
        collection: 'live',
        inputs: {a: 1},
        output: 2,
      }),
    ])
    await page.goto(`${base}#collection=live&uiTraceId=${traceId}`)
    await settled(page)
    expect(
      await page
        .locator('.span-row')
        .evaluateAll(rs => rs.map(r => r.querySelector('.span-name')!.textContent!.replace(/(Function|Flow)$/, ''))),
    ).to.deep.equal(['early_child'])
    await page.evaluate(() => ((window as any).notReloaded = true))
    store.recordSpans([
      makeSpan({
        traceId,
        spanId: rootId,
        name: 'late_root',
        type: 'Flow',
        startMs: now,
        endMs: now + 10,
        collection: 'live',
        inputs: {q: 'x'},
        output: 'y',
      }),
    ])
    store.close()
    await page.waitForFunction(() => document.querySelectorAll('.span-row').length === 2, undefined, {timeout: 1000, polling: 50})
    expect(
      await page
        .locator('.span-row')
        .evaluateAll(rs => rs.map(r => r.querySelector('.span-name')!.textContent!.replace(/(Function|Flow)$/, ''))),
    ).to.deep.equal(['late_root', 'early_child'])
    expect(await page.locator('.span-row[aria-selected="true"] .span-name').textContent()).to.match(/^early_child/)
    expect(await page.evaluate(() => (window as any).notReloaded)).to.equal(true)
  })

  it('shows a 10 MB input as a preview and loads the full value only on demand', async () => {
    const traceId = hex(16)
    const big = 'lorem ipsum '.repeat(Math.ceil((10 * 1024 * 1024) / 12))
    const store = TraceStore.open(home)
    const now = Date.now()
    store.recordSpans([
      makeSpan({
        traceId,
        name: 'huge_input',
        type: 'Flow',
        startMs: now,
        endMs: now + 3,
        collection: 'huge',
        inputs: {text: big},
        output: 'ok',
      }),
    ])
    store.close()
    let bytes = 0
    page.on('response', async res => {
      if (res.url().includes('/v1.0/api/')) bytes += (await res.body().catch(() => Buffer.alloc(0))).length
    })
    await page.goto(`${base}#view=list&collection=huge`)
    await settled(page)
    expect(await page.locator('table[aria-label="Traces"] tbody tr').first().textContent()).to.contain('lorem ipsum')
    await page.locator('table[aria-label="Traces"] tbody tr').first().click()
    await settled(page)
    const load = page.locator('.span-inputs').getByRole('button', {name: /Load full value/})
    expect(await load.textContent()).to.match(/Load full value \(10\.5 M characters\)/)
    expect(bytes, 'the list and trace pages fetched the whole value').to.be.below(500_000)
    await page.screenshot({path: screenshotPath('viewer-large-value'), fullPage: false})
    await load.click()
    await page.locator('.span-inputs .truncated').waitFor({state: 'detached', timeout: 120_000})
    expect(await page.locator('.span-inputs pre.json').evaluate(el => el.textContent!.length)).to.be.above(10 * 1024 * 1024)
  })
})
