import {expect} from 'chai'
import fc from 'fast-check'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {readConfigFile} from '../../src/config/files.js'
import {coreKeys, validateConfigData} from '../../src/config/keys.js'
import {isPfError} from '../../src/errors.js'
import {parseDestinationList} from '../../src/tracing/registry.js'
import {tempDir} from '../helpers/cli.js'

/** Whatever a pf.yaml holds, pf answers with its own one-line error (or accepts it), never with an internal one. */
const onlyPfErrors = (run: () => unknown): void => {
  try {
    run()
  } catch (error) {
    if (!isPfError(error)) throw error
    expect(error.message).to.not.contain('\n')
  }
}

const anyValue = fc.jsonValue({maxDepth: 3})
const configLike = fc.record(
  {
    trace: fc.oneof(anyValue, fc.record({destination: anyValue, export_wait: anyValue}, {requiredKeys: []})),
    service: fc.oneof(anyValue, fc.record({host: anyValue}, {requiredKeys: []})),
    telemetry: fc.oneof(anyValue, fc.record({enabled: anyValue}, {requiredKeys: []})),
    user_agent: anyValue,
    run: fc.oneof(anyValue, fc.record({output_path: anyValue}, {requiredKeys: []})),
  },
  {requiredKeys: []},
)

describe('config values and destination strings (property-based)', () => {
  it('validating any config mapping gives a PfError or nothing', () => {
    fc.assert(
      fc.property(configLike, data => onlyPfErrors(() => validateConfigData(data as Record<string, unknown>, 'pf.yaml'))),
      {numRuns: 500},
    )
  })

  it('a value accepted from a file is one `pf config set` accepts, and service.host is always loopback', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom(...coreKeys.filter(k => k.parse).map(k => k.key)), (value, key) => {
        const [head, leaf] = key.includes('.') ? key.split('.') : [key, undefined]
        const data = leaf ? {[head]: {[leaf]: value}} : {[head]: value}
        let fromFile = true
        try {
          validateConfigData(data, 'pf.yaml')
        } catch {
          fromFile = false
        }
        let fromSet = true
        try {
          coreKeys.find(k => k.key === key)!.parse!(value)
        } catch {
          fromSet = false
        }
        expect(fromFile, `${key}=${JSON.stringify(value)}`).to.equal(fromSet)
        if (key === 'service.host' && fromFile) expect(value.trim()).to.match(/^(localhost|127\.|::1|\[::1\])/i)
      }),
      {numRuns: 1000},
    )
  })

  it('reading any small YAML text as pf.yaml gives a mapping or a PfError', async () => {
    const file = path.join(tempDir(), 'pf.yaml')
    await fc.assert(
      fc.asyncProperty(fc.string({maxLength: 200}), async text => {
        writeFileSync(file, text)
        try {
          await readConfigFile(file)
        } catch (error) {
          if (!isPfError(error)) throw error
        }
      }),
      {numRuns: 300},
    )
  })

  it('splitting any destination string gives entries or a PfError', () => {
    fc.assert(
      fc.property(fc.string(), value =>
        onlyPfErrors(() => {
          for (const entry of parseDestinationList(value)) expect(entry).to.equal(entry.trim()).and.not.equal('')
        }),
      ),
      {numRuns: 1000},
    )
  })
})
