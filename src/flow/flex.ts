import path from 'node:path'

import {PfError} from '../errors.js'
import {logMetric} from '../sdk/metrics.js'
import {readChatSpec, readFlowYaml, readInputSpecs, readSample} from './definition.js'
import {importUserModule, resolveModuleFile} from './modules.js'
import type {LoadedFlow} from './types.js'

/**
 * A flex flow: `entry: <module>:<export>` in flow.flex.yaml. A function entry is called with one object of
 * inputs; a class entry is constructed with the `init` values and called through its `call` method.
 */
export const loadFlexFlow = async (dir: string, file: string, initValues: Record<string, unknown> = {}): Promise<LoadedFlow> => {
  const def = await readFlowYaml(file)
  const entry = def.entry
  if (typeof entry !== 'string' || !/^[^:]+:[A-Za-z_$][\w$]*$/.test(entry.trim()))
    throw new PfError(
      'flow_invalid',
      `${file}: "entry" must be "<module path>:<exported function or class>", e.g. "entry: flow:myFlow"; got ${JSON.stringify(entry ?? null)}.`,
    )
  const [modulePath, exportName] = entry.trim().split(':')
  const moduleFile = resolveModuleFile(dir, modulePath)
  if (!moduleFile)
    throw new PfError(
      'flow_entry_not_found',
      `${file}: entry module "${modulePath}" not found in ${dir} (tried .ts, .mts, .js, .mjs, .cjs).`,
    )
  const mod = await importUserModule(moduleFile)
  const target = mod[exportName] ?? (exportName === 'default' ? mod.default : undefined)
  if (typeof target !== 'function') {
    const exported = Object.keys(mod).filter(k => typeof mod[k] === 'function')
    throw new PfError(
      'flow_entry_not_found',
      `${file}: ${path.relative(dir, moduleFile)} does not export a function or class "${exportName}"` +
        (exported.length > 0 ? `; it exports: ${exported.join(', ')}.` : '.'),
    )
  }
  const initSpecs = readInputSpecs(def.init, file, 'init')
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(target))
  let invoke: (inputs: Record<string, unknown>) => Promise<unknown>
  let classAggregate: ((lines: Array<{output: unknown}>) => Promise<unknown>) | undefined
  if (isClass) {
    const init: Record<string, unknown> = {}
    for (const [name, spec] of Object.entries(initSpecs)) {
      const value = initValues[name] ?? spec.default
      if (value === undefined) throw new PfError('missing_input', `Missing init value "${name}" for ${exportName}; pass --init ${name}=…`)
      init[name] = value
    }
    const instance = new (target as new (init: Record<string, unknown>) => {call?: (inputs: Record<string, unknown>) => unknown})({
      ...initValues,
      ...init,
    })
    if (typeof instance.call !== 'function')
      throw new PfError(
        'flow_entry_not_found',
        `${file}: class ${exportName} has no "call" method; a class entry is called through call(inputs).`,
      )
    invoke = async inputs => instance.call!(inputs)
    // prompt flow's class entries aggregate with __aggregate__(line_results): the list of line outputs.
    const aggregateMethod = (instance as {__aggregate__?: (results: unknown[]) => unknown}).__aggregate__
    // Its returned mapping is logged as the run's metrics, as the reference's script executor does.
    if (typeof aggregateMethod === 'function')
      classAggregate = async lines => {
        const result = await aggregateMethod.call(
          instance,
          lines.map(l => l.output),
        )
        if (result && typeof result === 'object' && !Array.isArray(result))
          for (const [name, value] of Object.entries(result)) if (typeof value === 'number') logMetric(name, value)
        return result
      }
  } else {
    invoke = async inputs => (target as (inputs: Record<string, unknown>) => unknown)(inputs)
  }
  const aggregateFn = mod.aggregate
  return {
    kind: 'flex',
    dir,
    file,
    name: exportName,
    inputs: readInputSpecs(def.inputs, file),
    chat: readChatSpec(readInputSpecs(def.inputs, file), def.outputs),
    sample: readSample(def.sample, dir, file),
    modules: [moduleFile],
    invoke,
    // pf's extension: a module-level `aggregate(lines)` export receives {inputs, output} per line.
    aggregate: classAggregate ?? (typeof aggregateFn === 'function' ? async lines => aggregateFn(lines) : undefined),
  }
}
