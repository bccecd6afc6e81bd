/**
 * LLM calls traced by other frameworks, in the viewer (Debian chromium): a Vercel AI SDK flex flow run by pf and
 * an OpenTelemetry SDK app sending GenAI spans to pf's collector both show as chat messages with token counts.
 */
import {expect} from 'chai'
import path from 'node:path'

import type {Browser, Page} from 'playwright-core'

import {launchChromium, screenshotPath} from '../helpers/browser.js'
import {repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {runScript} from '../helpers/collector.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'

const settled = (page: Page) =>
  page.waitForFunction(() => {
    const view = document.getElementById('view')!
    return view.getAttribute('aria-busy') === 'false' && view.dataset.hash === location.hash
  })

describe('viewer: LLM spans of other frameworks (chromium)', function () {
  this.timeout(120_000)
  let home: string
  let port: number
  let fake: FakeOpenAI
  let browser: Browser
  let page: Page

  before(async () => {
    home = tempDir('pf-home-genai-viewer-')
    fake = await startFakeOpenAI()
    const started = await runPf(['service', 'start', '--port', '0', '--json'], {home})
    expect(started.code, started.stderr).to.equal(0)
    port = started.json().port
    browser = await launchChromium()
    page = await browser.newPage({viewport: {width: 1366, height: 800}})
    await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, route => route.abort())
  })
  after(async () => {
    await browser?.close()
    await runPf(['service', 'stop'], {home})
    await fake?.stop()
  })

  it('a Vercel AI SDK call inside a flow: chat messages and tokens, opened from the printed link', async () => {
    const env = {OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: 'sk-fake-viewer-0123456789abcdefghij'}
    const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'flex-vercel-ai')
    const test = await runPf(['flow', 'test', '--flow', flow, '--inputs', 'question=What is pf?'], {home, env})
    expect(test.code, test.stderr).to.equal(0)
    const link = /^Trace: (\S+)$/m.exec(test.stderr)![1]
    expect(link).to.contain(`127.0.0.1:${port}/`)
    await page.goto(link)
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(await page.locator('.trace-tokens').textContent()).to.contain('10')
    const call = page.locator('.span-row', {hasText: 'ai.generateText.doGenerate'})
    expect(await call.textContent()).to.contain('10 tok')
    await call.click()
    const messages = page.locator('.chat .msg')
    expect(await messages.locator('.role').allTextContents()).to.deep.equal(['system', 'user', 'assistant'])
    expect(await messages.nth(1).textContent()).to.contain('What is pf?')
    expect(await messages.nth(2).textContent()).to.contain('Echo: What is pf?')
    expect(await page.locator('.token-counts').textContent())
      .to.match(/6\s*Prompt/)
      .and.match(/4\s*Completion/)
    await page.screenshot({path: screenshotPath('viewer-vercel-ai-span'), fullPage: true})
  })

  it('GenAI and OpenInference spans sent to the collector by an OpenTelemetry SDK app: chat and tokens', async () => {
    const sent = await runScript([path.join(repoRoot, 'test', 'fixtures', 'scripts', 'otel-sdk-export.mjs'), 'protobuf'], {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
      OTEL_SERVICE_NAME: 'otel-app',
    })
    expect(sent.code, sent.stderr).to.equal(0)
    const {traceId} = JSON.parse(sent.stdout)
    await page.goto(`http://127.0.0.1:${port}/v1.0/ui/traces/?#collection=otel-app&uiTraceId=${traceId}`)
    await settled(page)
    await page.locator('.span-row').first().waitFor()
    expect(await page.locator('.trace-tokens').textContent()).to.contain('25')
    await page.locator('.span-row', {hasText: 'chat gpt-4o'}).click()
    const messages = page.locator('.chat .msg')
    expect(await messages.locator('.role').allTextContents()).to.deep.equal(['user', 'assistant'])
    expect(await messages.nth(0).textContent()).to.contain('What is 2+2?')
    expect(await messages.nth(1).textContent()).to.contain('It is 4.')
    await page.locator('.span-row', {hasText: /^llm/}).click()
    expect(await page.locator('.chat .msg .content').allTextContents()).to.deep.equal(['Say hi', 'hi'])
    await page.screenshot({path: screenshotPath('viewer-collector-genai-span'), fullPage: true})
  })
})
