import {expect} from 'chai'

import type {TraceDestinationHookResult, TraceDestinationProvider} from '../../src/contract/destination.js'
import {azuremlProvider} from '../../src/destinations/azureml/provider.js'
import {buildRegistry, displayDestination, parseDestinationList, unknownDestinationError} from '../../src/tracing/registry.js'

const fn = async () => {}
const good = (scheme: string, contractVersion: unknown = 1) => ({contractVersion, scheme, validate: fn, resolve: fn, exporter: fn})
const hooks = (...successes: Array<[string, unknown]>) => ({
  successes: successes.map(([name, result]) => ({plugin: {name}, result})),
  failures: [],
})

describe('destination registry', () => {
  it('collects providers from every plugin and finds them by value', () => {
    const registry = buildRegistry(hooks(['pf', [azuremlProvider]], ['pf-trace-otlp', good('otlp')]))
    expect(registry.providers.map(p => [p.scheme, p.plugin])).to.deep.equal([
      ['azureml', 'pf'],
      ['otlp', 'pf-trace-otlp'],
    ])
    expect(registry.find('AzureML')?.scheme).to.equal('azureml')
    expect(registry.find('azureml://subscriptions/x')?.scheme).to.equal('azureml')
    expect(registry.find('otlp://127.0.0.1:4318')?.plugin).to.equal('pf-trace-otlp')
    expect(registry.find('otlpx://h')).to.equal(undefined)
    expect(registry.find('local')).to.equal(undefined)
    expect(registry.problems).to.deep.equal([])
  })

  it('reports a failing or malformed plugin by name and skips it', () => {
    const registry = buildRegistry({
      ...hooks(['bad-shape', {scheme: 'x'}], ['not-object', 42], ['dup', [good('y'), good('Y')]]),
      failures: [
        {plugin: {name: 'thrower'}, error: new Error('boom')},
        {plugin: {name: 'string-thrower'}, error: 'just a string'},
      ],
    })
    expect(registry.providers.map(p => p.scheme)).to.deep.equal(['y'])
    const problems = registry.problems.join('\n')
    expect(registry.problems).to.have.length(5)
    expect(problems).to.contain('plugin thrower: trace-destination hook failed: boom; skipped')
    expect(problems).to.contain('plugin string-thrower: trace-destination hook failed: just a string; skipped')
    expect(problems).to.contain('plugin bad-shape: returned provider "x" without validate, resolve, exporter')
    expect(problems).to.contain('plugin not-object')
    expect(problems).to.contain('scheme "Y" is already provided by dup')
  })

  it('refuses a plugin that declares a built-in scheme, whatever the plugin order', () => {
    for (const scheme of ['azureml', 'LOCAL', 'none']) {
      const registry = buildRegistry(hooks(['evil', good(scheme)], ['pf', [azuremlProvider]]))
      expect(registry.providers.map(p => p.plugin)).to.deep.equal(['pf'])
      expect(registry.problems).to.deep.equal([
        `plugin evil: scheme "${scheme}" is built into pf and cannot be provided by a plugin; skipped`,
      ])
    }
  })

  it('refuses providers written for another contract version, naming the plugin and what to upgrade', () => {
    const registry = buildRegistry(
      hooks(['old-plugin', {...good('old'), contractVersion: undefined}], ['future-plugin', good('future', 2)], ['odd', good('odd', '1')]),
    )
    expect(registry.providers).to.deep.equal([])
    expect(registry.problems).to.deep.equal([
      'plugin old-plugin: provider "old" declares no contractVersion (written before contract v1); pf needs v1: upgrade the plugin (pf plugins install <name>@latest); skipped',
      'plugin future-plugin: provider "future" needs destination contract v2, this pf has v1: upgrade pf; skipped',
      'plugin odd: provider "odd" declares contractVersion "1"; pf needs v1: upgrade the plugin (pf plugins install <name>@latest); skipped',
    ])
  })

  it('accepts a provider typed with its own destination without casts (compile-time check)', () => {
    interface WebhookDestination {
      scheme: string
      value: string
      key: string
      target: string
    }
    const webhook: TraceDestinationProvider<WebhookDestination> = {
      contractVersion: 1,
      scheme: 'webhook',
      async validate() {},
      async resolve(value) {
        return {scheme: 'webhook', value, key: value, target: value}
      },
      exporter(dest) {
        const target: string = dest.target
        return {export: async () => (target ? {code: 'ok'} : {code: 'fatal', reason: 'no target'})}
      },
    }
    const result: TraceDestinationHookResult = [webhook]
    expect(buildRegistry(hooks(['pf-webhook', result])).find('webhook://x')?.plugin).to.equal('pf-webhook')
  })

  it('parses comma-separated lists and refuses none among others', () => {
    expect(parseDestinationList(' local , azureml ')).to.deep.equal(['local', 'azureml'])
    expect(() => parseDestinationList('none,azureml')).to.throw(/cannot be combined/)
    expect(() => parseDestinationList(' , ')).to.throw(/empty/)
  })

  it('lists accepted values and the plugin hint for an unclaimed scheme', () => {
    const message = unknownDestinationError('foo://x', buildRegistry(hooks(['pf', [azuremlProvider]]))).message
    expect(message).to.contain('local, none, azureml')
    expect(message).to.contain('pf plugins install')
  })
})

describe('displayDestination', () => {
  it('does not repeat credentials written into a destination URL', () => {
    expect(displayDestination('otlp://user:pw@h:4318/v1/traces')).to.equal('otlp://***@h:4318/v1/traces')
    expect(displayDestination('otlp://h:4318')).to.equal('otlp://h:4318')
  })
})
