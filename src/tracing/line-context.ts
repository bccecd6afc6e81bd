import {type Context, context, createContextKey} from '@opentelemetry/api'

/** Attributes every span of one line carries (prompt flow's line_run_id, batch_run_id, line_number, …). */
export type LineAttributes = Record<string, string | number | boolean>

const lineKey = createContextKey('pf.line-attributes')

export const withLineAttributes = <T>(attributes: LineAttributes, fn: () => T): T =>
  context.with(context.active().setValue(lineKey, {...currentLineAttributes(), ...attributes}), fn)

export const currentLineAttributes = (ctx: Context = context.active()): LineAttributes | undefined =>
  ctx.getValue(lineKey) as LineAttributes | undefined
