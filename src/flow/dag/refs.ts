import {PfError} from '../../errors.js'

/**
 * Values of a DAG node's inputs, `activate.when` and the flow's outputs: a literal, a flow input (`${inputs.x}`)
 * or a node's output with an optional property path (`${node.output}`, `${node.output.a.b}`, `${node.output[0]}`,
 * `${node.output['a b']}`), as prompt flow's input assignments.
 */
export type Ref =
  | {kind: 'input'; name: string}
  | {kind: 'node'; node: string; path: Array<string | number>; text: string}
  | {kind: 'literal'; value: unknown}

const refPattern = /^\$\{([^}]*)\}$/
/** prompt flow's property syntax: `name`, `['key']` or `[0]`. */
const propertyPart = /(\w+)|\['(.*?)'\]|\["(.*?)"\]|\[(\d+)\]/g

const parsePath = (text: string): Array<string | number> | undefined => {
  const parts: Array<string | number> = []
  let consumed = ''
  for (const m of text.matchAll(propertyPart)) {
    parts.push(m[1] ?? m[2] ?? m[3] ?? Number(m[4]))
    consumed += m[0]
  }
  // Every character must belong to a part (dots separate parts).
  return consumed.length === text.replace(/\./g, '').length ? parts : undefined
}

export const parseRef = (value: unknown, where: string, file: string): Ref => {
  if (typeof value !== 'string') return {kind: 'literal', value}
  const m = refPattern.exec(value.trim())
  if (!m) return {kind: 'literal', value}
  const body = m[1].trim()
  const input = /^inputs\.(\w+)$/.exec(body)
  if (input) return {kind: 'input', name: input[1]}
  const node = /^([\w-]+)\.output((?:\.|\[).*)?$/.exec(body)
  if (node && node[1] !== 'inputs') {
    const rest = (node[2] ?? '').replace(/^\./, '')
    const path = rest === '' ? [] : parsePath(rest)
    if (path) return {kind: 'node', node: node[1], path, text: value.trim()}
  }
  throw new PfError(
    'flow_invalid',
    `${file}: ${where} has reference ${value}; use \${inputs.NAME}, \${NODE.output} or \${NODE.output.FIELD}.`,
  )
}

export const refDeps = (refs: Ref[]): string[] => [...new Set(refs.flatMap(r => (r.kind === 'node' ? [r.node] : [])))]

/**
 * Follows a property path into a node's output. A path that does not exist (a missing key, an index out of
 * range, a property of a string or of null) is an error naming the node, as in prompt flow: never a silent null.
 */
export const pick = (value: unknown, path: Array<string | number>, node: string, text: string): unknown => {
  let v = value
  for (const key of path) {
    const container = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>) : undefined
    if (!container || !(key in container))
      throw new PfError(
        'invalid_reference',
        `${text}: node "${node}" output has no property ${JSON.stringify(key)} (its ${v === null || v === undefined ? 'value is null' : `output is ${Array.isArray(v) ? 'a list' : typeof v}`}).`,
        1,
      )
    v = container[key]
  }
  return v
}
