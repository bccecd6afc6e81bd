import {PfError} from '../../errors.js'
import type {YamlMap} from '../definition.js'

/**
 * The flow.dag.yaml of prompt flow, read as data: the top-level keys pf knows (unknown ones become warnings), and
 * the node list after variants are applied (`use_variants: true` nodes take the selected or default variant of
 * `node_variants`, as the reference's overwrite_variant does: the variant's node replaces the node, name kept).
 */

/** Top-level keys of prompt flow's Flow schema; others are reported (a typo must not pass in silence). */
const knownKeys = new Set([
  '$schema',
  'name',
  'display_name',
  'description',
  'tags',
  'inputs',
  'outputs',
  'nodes',
  'node_variants',
  'environment',
  'environment_variables',
  'additional_includes',
  'language',
  'message_format',
  'sample',
])

export interface VariantSelection {
  node: string
  variant: string
}

/** Parses `--variant '${node.variant_id}'` (prompt flow's form). */
export const parseVariant = (text: string): VariantSelection => {
  // Quotes around it are dropped, as the reference's strip_quotation does (a shell may leave them).
  const m = /^\$\{\s*([\w-]+)\.([\w-]+)\s*\}$/.exec(text.trim().replace(/^(['"])(.*)\1$/, '$2'))
  if (!m)
    throw new PfError('invalid_arguments', `--variant "${text}" is not \${NODE.VARIANT_ID}; e.g. --variant '\${summarize.variant_1}'.`)
  return {node: m[1], variant: m[2]}
}

export const unknownTopLevelKeys = (def: Record<string, unknown>): string[] => Object.keys(def).filter(k => !knownKeys.has(k))

/** The flow's nodes with variants applied. */
export const applyVariants = (def: YamlMap, file: string, selection?: VariantSelection): Array<YamlMap> => {
  const nodes = def.nodes as Array<YamlMap>
  const variants = def.node_variants ?? {}
  if (typeof variants !== 'object' || Array.isArray(variants))
    throw new PfError('flow_invalid', `${file}: "node_variants" must be a mapping of node names to {default_variant_id, variants}.`)
  if (selection) {
    const node = nodes.find(n => n?.name === selection.node)
    if (!node)
      throw new PfError(
        'invalid_arguments',
        `--variant names node "${selection.node}", which is not in ${file}; nodes are: ${nodes.map(n => n?.name).join(', ')}.`,
      )
    if (node.use_variants !== true || !variants[selection.node])
      throw new PfError(
        'invalid_arguments',
        `--variant: node "${selection.node}" has no variants (it needs "use_variants: true" and an entry under node_variants).`,
      )
    const ids = Object.keys(variants[selection.node].variants ?? {})
    if (!ids.includes(selection!.variant))
      throw new PfError(
        'invalid_arguments',
        `--variant: node "${selection.node}" has no variant "${selection!.variant}"; its variants are: ${ids.join(', ')}.`,
      )
  }
  return nodes.map((node, index) => {
    if (!node || typeof node !== 'object' || node.use_variants !== true) return node
    const name = node.name
    const entry = variants[name]
    if (!entry || typeof entry !== 'object')
      throw new PfError(
        'flow_invalid',
        `${file}: node "${name ?? `nodes[${index}]`}" has "use_variants: true" but node_variants has no entry "${name}".`,
      )
    const id = selection && selection.node === name ? selection.variant : entry.default_variant_id
    if (typeof id !== 'string' || id === '') throw new PfError('flow_invalid', `${file}: node_variants.${name} needs "default_variant_id".`)
    const variant = entry.variants?.[id]?.node
    if (!variant || typeof variant !== 'object')
      throw new PfError(
        'flow_invalid',
        `${file}: node_variants.${name} has no variant "${id}" with a "node"; its variants are: ${Object.keys(entry.variants ?? {}).join(', ') || '(none)'}.`,
      )
    return {...variant, name}
  })
}
