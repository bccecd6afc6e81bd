import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {chmodSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {repoRoot, tempDir} from '../helpers/cli.js'

// npm test's pretest: a Chromium that is there passes; one that is not fails loudly (never a silent skip).
describe('test/ensure-chromium.js (pretest)', () => {
  const script = path.join(repoRoot, 'test', 'ensure-chromium.js')
  const run = (chromium: string) =>
    spawnSync(process.execPath, [script], {env: {...process.env, PF_TEST_CHROMIUM: chromium}, encoding: 'utf8'})

  it('passes when the Chromium it names is executable', () => {
    const fake = path.join(tempDir(), 'chromium')
    writeFileSync(fake, '#!/bin/sh\n')
    chmodSync(fake, 0o755)
    const result = run(fake)
    expect(result.status, result.stderr).to.equal(0)
  })

  it('fails with what to do when it is missing', () => {
    const result = run('/nonexistent/chromium')
    expect(result.status).to.equal(1)
    expect(result.stderr).to.equal(
      'pretest: the browser tests need Chromium at /nonexistent/chromium, and PF_TEST_CHROMIUM=/nonexistent/chromium is not an executable file.\n' +
        '  Install it (Debian/Ubuntu: sudo apt-get install chromium), or point PF_TEST_CHROMIUM at a Chromium or Chrome executable.\n',
    )
  })
})
