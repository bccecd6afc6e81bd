import {closest} from 'fastest-levenshtein'

import {PfError} from '../errors.js'
import type {InputSpec, LoadedFlow} from './types.js'

/** Parses `k=v` pairs from --inputs/--init flags (the value is everything after the first `=`). */
export const parseAssignments = (pairs: string[] | undefined, flag: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new PfError('invalid_arguments', `${flag} "${pair}" is not NAME=VALUE; e.g. ${flag} question="What is pf?".`)
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1)
  }
  return out
}

/** Converts a value to the declared input type (text from the command line, or a value from data/defaults). */
export const coerceInput = (name: string, value: unknown, spec: InputSpec | undefined): unknown => {
  const type = spec?.type
  if (!type || value === null || value === undefined) return value
  const fail = (): never => {
    throw new PfError(
      'invalid_input',
      `Input "${name}" must be ${type === 'int' ? 'an integer' : `a ${type}`}; got ${JSON.stringify(value)}.`,
    )
  }
  const text = typeof value === 'string' ? value.trim() : undefined
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value)
    case 'int': {
      const n = text === undefined ? value : Number(text)
      return typeof n === 'number' && Number.isInteger(n) && text !== '' ? n : fail()
    }
    case 'double': {
      const n = text === undefined ? value : Number(text)
      return typeof n === 'number' && Number.isFinite(n) && text !== '' ? n : fail()
    }
    case 'bool':
      if (typeof value === 'boolean') return value
      if (text?.toLowerCase() === 'true') return true
      if (text?.toLowerCase() === 'false') return false
      return fail()
    case 'list':
    case 'object': {
      let parsed = value
      if (text !== undefined) {
        try {
          parsed = JSON.parse(text)
        } catch {
          return fail()
        }
      }
      if (type === 'list' ? !Array.isArray(parsed) : !parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail()
      return parsed
    }
    default:
      return value
  }
}

/**
 * The inputs of one line: given values, else the declared default, else the flow's sample. A missing
 * required input or an input the flow does not declare is an error naming it.
 */
export const resolveInputs = (flow: LoadedFlow, given: Record<string, unknown>): Record<string, unknown> => {
  const declared = Object.keys(flow.inputs)
  if (declared.length === 0) return {...flow.sample, ...given}
  for (const name of Object.keys(given)) {
    if (!(name in flow.inputs)) {
      const near = closest(name, declared)
      throw new PfError(
        'invalid_input',
        `Unknown input "${name}"; ${near ? `did you mean "${near}"? ` : ''}the flow's inputs are: ${declared.join(', ')}.`,
      )
    }
  }
  const inputs: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(flow.inputs)) {
    const value = name in given ? given[name] : spec.default !== undefined ? spec.default : flow.sample?.[name]
    if (value === undefined)
      throw new PfError(
        'missing_input',
        `Missing required input "${name}"; pass --inputs ${name}=… (the flow has no default or sample for it).`,
      )
    inputs[name] = coerceInput(name, value, spec)
  }
  return inputs
}
