import {existsSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import type {Browser} from 'playwright-core'

import {repoRoot} from './cli.js'

/** Debian's chromium (test/ensure-chromium.js, run before `npm test`, installs it), or PF_TEST_CHROMIUM. */
export const chromiumPath = process.env.PF_TEST_CHROMIUM || '/usr/bin/chromium'
export const artifactsDir = path.join(repoRoot, 'test-artifacts')

/** Debian's chromium driven by playwright-core (no browser download); a fresh profile per launch. */
export const launchChromium = async (): Promise<Browser> => {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run node test/ensure-chromium.js (npm test runs it first)`)
  const {chromium} = await import('playwright-core')
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export const screenshotPath = (name: string): string => {
  mkdirSync(artifactsDir, {recursive: true})
  return path.join(artifactsDir, `${name}.png`)
}
