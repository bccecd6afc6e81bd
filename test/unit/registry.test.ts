import {expect} from 'chai'

import {buildRegistry, parseDestinationList, unknownDestinationError} from '../../src/tracing/registry.js'
import {azuremlProvider} from '../../src/destinations/azureml/provider.js'
import {localProvider} from '../../src/destinations/local/provider.js'

const fn = async () => {}
const good = (scheme: string) => ({scheme, validate: fn, resolve: fn, exporter: fn})

describe('destination registry', () => {
  it('collects providers from every plugin and finds them by value', () => {
    const registry = buildRegistry(
      [
        {plugin: {name: 'pf'}, result: [localProvider, azuremlProvider]},
        {plugin: {name: 'pf-trace-otlp'}, result: good('otlp')},
      ],
      [],
    )
    expect(registry.providers.map(p => [p.scheme, p.plugin])).to.deep.equal([
      ['local', 'pf'],
      ['azureml', 'pf'],
      ['otlp', 'pf-trace-otlp'],
    ])
    expect(registry.find('AzureML')?.scheme).to.equal('azureml')
    expect(registry.find('azureml://subscriptions/x')?.scheme).to.equal('azureml')
    expect(registry.find('otlp://127.0.0.1:4318')?.plugin).to.equal('pf-trace-otlp')
    expect(registry.find('otlpx://h')).to.equal(undefined)
    expect(registry.problems).to.deep.equal([])
  })

  it('reports a failing or malformed plugin by name and skips it', () => {
    const registry = buildRegistry(
      [
        {plugin: {name: 'bad-shape'}, result: {scheme: 'x'}},
        {plugin: {name: 'not-object'}, result: 42},
        {plugin: {name: 'dup'}, result: [good('y'), good('Y')]},
      ],
      [{plugin: {name: 'thrower'}, error: new Error('boom')}],
    )
    expect(registry.providers.map(p => p.scheme)).to.deep.equal(['y'])
    expect(registry.problems).to.have.length(4)
    expect(registry.problems.join('\n')).to.contain('plugin thrower: trace-destination hook failed: boom')
    expect(registry.problems.join('\n')).to.contain('plugin bad-shape: returned provider "x" without validate, resolve, exporter')
    expect(registry.problems.join('\n')).to.contain('plugin not-object')
    expect(registry.problems.join('\n')).to.contain('scheme "Y" is already provided by dup')
  })

  it('parses comma-separated lists and refuses none among others', () => {
    expect(parseDestinationList(' local , azureml ')).to.deep.equal(['local', 'azureml'])
    expect(() => parseDestinationList('none,azureml')).to.throw(/cannot be combined/)
    expect(() => parseDestinationList(' , ')).to.throw(/empty/)
  })

  it('lists accepted values and the plugin hint for an unclaimed scheme', () => {
    const registry = buildRegistry([{plugin: {name: 'pf'}, result: [localProvider, azuremlProvider]}], [])
    const message = unknownDestinationError('foo://x', registry).message
    expect(message).to.contain('none, local, azureml')
    expect(message).to.contain('pf plugins install')
  })
})

describe('displayDestination', () => {
  it('does not repeat credentials written into a destination URL', async () => {
    const {displayDestination} = await import('../../src/tracing/registry.js')
    expect(displayDestination('otlp://user:pw@h:4318/v1/traces')).to.equal('otlp://***@h:4318/v1/traces')
    expect(displayDestination('otlp://h:4318')).to.equal('otlp://h:4318')
  })
})
