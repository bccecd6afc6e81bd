import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {Browser, Page} from 'playwright-core'

import {TraceStore} from '../../src/store/store.js'
import {launchChromium, screenshotPath} from '../helpers/browser.js'
import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {insertRun, llmTrace, runLineTrace, runRow} from '../helpers/seed.js'

const flexBasic = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-basic')

/** Waits until the page shows the view its address names (the app marks it; a previous view may linger before). */
const settled = (page: Page) =>
  page.waitForFunction(() => {
    const view = document.getElementById('view')!
    return view.getAttribute('aria-busy') === 'false' && view.dataset.hash === location.hash
  })

describe('trace viewer in a real browser (chromium)', function () {
  this.timeout(120_000)
  let home: string
  let base: string
  let browser: Browser
  let page: Page
  let flowLink: string
  let llmTraceId: string

  before(async () => {
    home = tempDir('pf-home-viewer-')
    const started = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(started.code, started.stderr + started.stdout).to.equal(0)
    base = started.json().url

    // A real traced flow run: its printed link is what a user clicks.
    const test = await runPf(['flow', 'test', '--flow', flexBasic, '--inputs', 'question=What is prompt flow?'], {home})
    expect(test.code, test.stderr).to.equal(0)
    flowLink = /^Trace: (\S+)$/m.exec(test.stderr)![1]
    expect(test.stderr).not.to.contain('pf service start')

    // Seeded where the producing command is not in this branch: an LLM call with token usage, and a batch run.
    const store = TraceStore.open(home)
    const now = Date.now()
    const chat = llmTrace({collection: 'chat-flow', startMs: now - 60_000, question: 'What is the capital of France?', answer: 'Paris.'})
    llmTraceId = chat[0].context.trace_id
    store.recordSpans(chat)
    insertRun(store.db, runRow('qa_run_1', {display_name: 'QA run', total_lines: 3, completed_lines: 2, failed_lines: 1}))
    store.recordSpans([
      ...runLineTrace({run: 'qa_run_1', line: 0, startMs: now - 50_000, input: 'first question', output: {answer: 'first answer'}}),
      ...runLineTrace({run: 'qa_run_1', line: 1, startMs: now - 49_000, input: 'second question', error: 'model refused'}),
      ...runLineTrace({run: 'qa_run_1', line: 2, startMs: now - 48_000, input: 'third question', output: {answer: 'third answer'}}),
    ])
    for (let i = 0; i < 55; i++)
      store.recordSpans(
        runLineTrace({run: 'bulk', collection: 'bulk', line: i, startMs: now - 40_000 + i * 10, input: `bulk ${i}`, output: i}).map(s => ({
          ...s,
          attributes: {...s.attributes, batch_run_id: undefined},
        })),
      )
    store.close()

    browser = await launchChromium()
    page = await browser.newPage({viewport: {width: 1366, height: 800}, acceptDownloads: true})
    // Nothing may leave 127.0.0.1.
    await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, route => route.abort())
  })

  after(async () => {
    await browser?.close()
    if (home) await runPf(['service', 'stop'], {home})
  })

  it("opens the link `pf flow test` printed: span tree, waterfall, a span's inputs", async () => {
    expect(flowLink).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/ui\/traces\/\?#collection=flex-basic&uiTraceId=[0-9a-f]{32}$/)
    await page.goto(flowLink)
    await settled(page)
    const rows = page.locator('.span-row')
    await rows.first().waitFor()
    expect(await rows.locator('.span-name').allTextContents()).to.deep.equal(['answerFlow', 'lookupFunction', 'shoutFunction'])
    expect(await page.locator('.span-row .bar').count()).to.equal(3)
    expect(await page.locator('.span-row[aria-selected="true"] .span-name').textContent()).to.equal('answerFlow')
    expect(await page.locator('.span-output').textContent()).to.contain('WHAT IS PROMPT FLOW? WHAT IS PROMPT FLOW?')

    await page.locator('.span-row', {hasText: 'lookup'}).click()
    const inputs = page.locator('.span-inputs')
    expect(await inputs.textContent()).to.contain('"question": "What is prompt flow?"')
    // The secret argument was masked when the span was recorded; the viewer shows the mask, never the key.
    expect(await page.content()).not.to.contain('sk-abcdefghijklmnopqrstuvwxyz')
    expect(await page.locator('.span-events').textContent()).to.contain('promptflow.function.inputs')
    await page.screenshot({path: screenshotPath('viewer-flow-test-trace'), fullPage: true})
  })

  it('shows an LLM span as chat messages with its token counts', async () => {
    await page.goto(`${base}?#collection=chat-flow&uiTraceId=${llmTraceId}`)
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(await page.locator('.trace-tokens').textContent()).to.contain('59')
    await page.locator('.span-row', {hasText: 'openai_chat'}).click()
    const messages = page.locator('.chat .msg')
    expect(await messages.locator('.role').allTextContents()).to.deep.equal(['system', 'user', 'assistant'])
    expect(await messages.nth(1).textContent()).to.contain('What is the capital of France?')
    expect(await messages.nth(2).textContent()).to.contain('Paris.')
    const tokens = await page.locator('.token-counts').textContent()
    expect(tokens).to.match(/42\s*Prompt/)
    expect(tokens).to.match(/17\s*Completion/)
    expect(tokens).to.match(/59\s*Total/)
    await page.screenshot({path: screenshotPath('viewer-llm-span'), fullPage: true})
  })

  it("shows a batch run: lines, status, outputs, metrics, and each line's trace", async () => {
    await page.goto(`${base}?#run=qa_run_1`)
    await settled(page)
    await page.locator('table[aria-label="Lines"] tbody tr').first().waitFor()
    expect(await page.locator('h1').textContent()).to.contain('QA run')
    expect(await page.locator('.metrics').textContent())
      .to.contain('accuracy')
      .and.to.contain('0.67')
    const lines = page.locator('table[aria-label="Lines"] tbody tr')
    expect(await lines.count()).to.equal(3)
    expect(await lines.nth(0).textContent()).to.contain('first answer')
    expect(await lines.nth(1).locator('.badge').textContent()).to.equal('Error')
    expect(await lines.nth(1).textContent()).to.contain('model refused')
    await page.screenshot({path: screenshotPath('viewer-run-page'), fullPage: true})

    await lines.nth(1).getByRole('link', {name: 'trace'}).click()
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(page.url()).to.match(/#run=qa_run_1&uiTraceId=[0-9a-f]{32}$/)
    // The message once (not the description, the exception and the stack's first line in turn); only the user's frames.
    const error = (await page.locator('.error-box').textContent())!
    expect(error.split('model refused')).to.have.length(2)
    expect(error).to.contain('at answer (flow.ts:12:9)')
    expect(error).not.to.contain('dist/')
    expect(error).not.to.contain('node:internal')
  })

  it('opens the link `pf run create` printed: the real run page with its lines and metrics', async () => {
    const fixtures = path.join(repoRoot, 'test', 'fixtures')
    const created = await runPf(
      [
        'run',
        'create',
        '--flow',
        path.join(fixtures, 'flows', 'dag-eval'),
        '--data',
        path.join(fixtures, 'data', 'grades.jsonl'),
        '--name',
        'grading_run',
      ],
      {home},
    )
    expect(created.code, created.stderr).to.equal(0)
    const runLink = /^Trace: (\S+)$/m.exec(created.stderr)![1]
    expect(runLink).to.match(/#run=grading_run$/)
    await page.goto(runLink)
    await settled(page)
    const lines = page.locator('table[aria-label="Lines"] tbody tr')
    await lines.first().waitFor()
    expect(await lines.count()).to.equal(4)
    expect(await page.locator('.metrics').textContent())
      .to.contain('accuracy')
      .and.to.contain('0.5')
    // The aggregation's trace belongs to the run but is not a line.
    expect(await page.locator('h2', {hasText: 'Lines'}).textContent()).to.equal('Lines (4 Ok)')
    expect(await page.locator('#view').innerText()).not.to.contain('[object')
    await page.screenshot({path: screenshotPath('viewer-real-run-page'), fullPage: true})
  })

  it('lists traces with filters and keyset paging, and opens one from the keyboard', async () => {
    await page.goto(`${base}?#view=list&collection=bulk`)
    await settled(page)
    const rows = page.locator('table[aria-label="Traces"] tbody tr')
    await rows.first().waitFor()
    expect(await rows.count()).to.equal(50)
    expect(await rows.first().textContent()).to.contain('bulk 54')
    await page.getByRole('button', {name: 'Older →'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length === 5)
    expect(await rows.last().textContent()).to.contain('bulk 0')
    await page.getByRole('button', {name: '← Newer'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length === 50)

    // Text search over inputs/outputs, and the status filter, from the form.
    await page.goto(`${base}?#view=list`)
    await settled(page)
    await rows.first().waitFor()
    await page.getByLabel('Search name, inputs, outputs').fill('second question')
    await page.getByRole('button', {name: 'Apply'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length === 1)
    expect(await rows.first().textContent()).to.contain('model refused')
    await page.getByRole('button', {name: 'Clear'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length > 1)
    await page.getByLabel('Status').selectOption('Error')
    await page.getByRole('button', {name: 'Apply'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length === 1)
    await page.screenshot({path: screenshotPath('viewer-trace-list'), fullPage: true})

    // Keyboard: Tab reaches the row (visible focus), Enter opens it.
    await page.getByRole('button', {name: 'Clear'}).click()
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length > 1)
    await page.getByLabel('Search name, inputs, outputs').fill('What is prompt flow?')
    await page.keyboard.press('Enter')
    await settled(page)
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traces"] tbody tr').length === 1)
    await rows.first().focus()
    const outline = await rows.first().evaluate(el => getComputedStyle(el).outlineStyle)
    expect(outline).to.equal('solid')
    await page.keyboard.press('Enter')
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(await page.locator('h1').textContent()).to.contain('answer')
    // ↓ moves through the span tree, Enter selects.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    expect(await page.locator('.span-row[aria-selected="true"] .span-name').textContent()).to.equal('lookupFunction')
  })

  it('exports a trace as a JSON download', async () => {
    await page.goto(`${base}?#collection=chat-flow&uiTraceId=${llmTraceId}`)
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', {name: 'Export JSON'}).click()])
    expect(download.suggestedFilename()).to.equal(`trace-${llmTraceId}.json`)
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'))
    expect(exported.spans.map((s: {name: string}) => s.name).sort()).to.deep.equal(['chat', 'openai_chat'])
    expect(exported.trace.traceId).to.equal(llmTraceId)
  })

  it('says so when a deep link names a trace that is not in the store', async () => {
    await page.goto(`${base}?#collection=x&uiTraceId=${'0'.repeat(32)}`)
    await settled(page)
    const alert = page.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).to.contain(`No trace ${'0'.repeat(32)}`)
  })
})
