import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {compileJinja2} from '../../src/llm/jinja2.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * pf renders prompt templates as Jinja2 does. The expected outputs were produced by Jinja2 itself
 * (test/fixtures/scripts/jinja2-expected.py, prompt flow's settings): a table of the cases where a near-Jinja engine
 * differs, and every .jinja2 file of prompt flow's example flows with values chosen from how each uses its variables.
 */

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'jinja2')
const read = (file: string) => JSON.parse(readFileSync(path.join(fixtures, file), 'utf8'))

const renderOrError = async (template: string, values: Record<string, unknown>): Promise<{output?: string; error?: boolean}> => {
  try {
    return {output: (await compileJinja2(template)).render(values)}
  } catch {
    return {error: true}
  }
}

describe('Jinja2 semantics (expected outputs from Jinja2)', () => {
  for (const c of read('cases.json').cases as Array<{
    name: string
    template: string
    values: Record<string, unknown>
    output?: string
    error?: string
  }>) {
    it(c.name, async () => {
      const got = await renderOrError(c.template, c.values)
      if (c.error) expect(got.error, `Jinja2 raised ${c.error}`).to.equal(true)
      else expect(got.output).to.equal(c.output)
    })
  }

  it("renders every .jinja2 file of prompt flow's example flows exactly as Jinja2 does", async () => {
    const {examples} = read('examples.json') as {
      examples: Array<{file: string; template: string; values: Record<string, unknown>; output?: string}>
    }
    const differing: string[] = []
    for (const example of examples) {
      const got = await renderOrError(example.template, example.values)
      if (got.output !== example.output) differing.push(example.file)
    }
    expect(differing, `${differing.length} of ${examples.length} differ`).to.deep.equal([])
  })
})
