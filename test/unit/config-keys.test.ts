import {expect} from 'chai'

import {coreKeys, findCoreKey, unknownKeyError} from '../../src/config/keys.js'

const parse = (key: string, value: string) => findCoreKey(key)!.parse!(value)

describe('config keys', () => {
  it('knows the reference keys', () => {
    expect(coreKeys.map(k => k.key)).to.have.members([
      'trace.destination',
      'trace.export_wait',
      'connection.provider',
      'run.output_path',
      'telemetry.enabled',
      'service.host',
      'user_agent',
    ])
  })

  it('types telemetry.enabled as a boolean', () => {
    expect(parse('telemetry.enabled', 'TRUE')).to.equal(true)
    expect(parse('telemetry.enabled', 'false')).to.equal(false)
    expect(() => parse('telemetry.enabled', 'yes')).to.throw(/Invalid value "yes" for telemetry.enabled; accepted: true, false/)
  })

  it('allows only loopback service hosts', () => {
    expect(parse('service.host', '127.0.0.1')).to.equal('127.0.0.1')
    expect(parse('service.host', 'localhost')).to.equal('localhost')
    expect(() => parse('service.host', '0.0.0.0')).to.throw(/loopback/)
    expect(() => parse('service.host', '192.168.1.2')).to.throw(/loopback/)
  })

  it('validates connection.provider', () => {
    expect(parse('connection.provider', 'LOCAL')).to.equal('local')
    expect(() => parse('connection.provider', 'azureml://nope')).to.throw(/accepted: local, azureml:\/\//)
  })

  it('suggests the nearest key for a typo', () => {
    expect(
      unknownKeyError(
        'trace.destinaton',
        coreKeys.map(k => k.key),
      ).message,
    ).to.contain('Did you mean "trace.destination"?')
    expect(
      unknownKeyError(
        'zzzzzz',
        coreKeys.map(k => k.key),
      ).message,
    ).not.to.contain('Did you mean')
  })
})
