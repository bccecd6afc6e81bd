import type * as JinjaModule from '@huggingface/jinja'

/**
 * Jinja2 as prompt flow renders it (`SandboxedEnvironment(trim_blocks=True, keep_trailing_newline=True)`), on
 * `@huggingface/jinja` (a maintained Jinja implementation; ~8 ms to import, loaded on first use). What it does
 * differently from Jinja2 is closed here, on its runtime classes, once per process:
 * - values print in their Python forms: `True`, `None`, `1.0`, `[1, 'a']`, `{'a': 1}` (Jinja2 prints `str(value)`);
 * - `{{ none }}` prints `None` (the library prints nothing);
 * - `|tojson` is Jinja2's: keys sorted, ASCII only, `<>&'` escaped as \u003c…;
 * - `%` formats strings as Python's `str % args` does;
 * - the source is read as Jinja2's lexer reads it: `\r\n` and `\r` become `\n`, blocks keep their indentation
 *   (no lstrip_blocks), the newline after a block tag is dropped (trim_blocks), the trailing newline is kept.
 * test/fixtures/jinja2/cases.json holds the expected output of each case, produced by Jinja2 itself.
 */

type Jinja = typeof JinjaModule
/** A value of the library's runtime (`{type, value}`); its classes are not exported, so they are reached untyped. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the library does not export its runtime value classes
type Runtime = any

export interface Jinja2Template {
  render(values: Record<string, unknown>): string
  /** Names the template reads (identifiers in its expressions), for `prompt.variables`. */
  identifiers: Set<string>
}

let loaded: Promise<Jinja> | undefined

/** Statement nodes whose value is not output (everything else in a block is an expression, printed). */
const statementTypes = new Set(['Set', 'If', 'For', 'Macro', 'CallStatement', 'FilterStatement', 'Comment', 'Break', 'Continue'])

const pyString = (s: string): string => {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = ''
  for (const ch of s) {
    const code = ch.codePointAt(0)!
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += '\\' + quote
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0')
    else out += ch
  }
  return quote + out + quote
}

/** Python's float repr (shortest round-trip digits, exponent from 1e16 and below 1e-4). */
export const pyFloat = (n: number): string => {
  if (Number.isNaN(n)) return 'nan'
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf'
  if (Object.is(n, -0)) return '-0.0'
  const abs = Math.abs(n)
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [mantissa, exponent] = n.toExponential().split('e')
    const e = Number(exponent)
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  }
  const text = String(n)
  return text.includes('.') || text.includes('e') ? text : text + '.0'
}

const runtimeType = (v: Runtime): string => v?.type ?? ''

/** `repr()` of a runtime value. */
const pyRepr = (v: Runtime): string => {
  switch (runtimeType(v)) {
    case 'StringValue':
      return pyString(v.value)
    case 'IntegerValue':
      return String(v.value)
    case 'FloatValue':
      return pyFloat(v.value)
    case 'BooleanValue':
      return v.value ? 'True' : 'False'
    case 'NullValue':
    case 'UndefinedValue':
      return 'None'
    case 'TupleValue':
      return v.value.length === 1 ? `(${pyRepr(v.value[0])},)` : `(${v.value.map(pyRepr).join(', ')})`
    case 'ArrayValue':
      return `[${v.value.map(pyRepr).join(', ')}]`
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
    case 'NamespaceValue':
      return `{${[...v.value.entries()].map(([k, x]: [string, unknown]) => `${pyString(k)}: ${pyRepr(x)}`).join(', ')}}`
    default:
      return String(v?.value)
  }
}

/** `str()` of a runtime value. */
const pyStr = (v: Runtime): string => (runtimeType(v) === 'StringValue' ? v.value : runtimeType(v) === 'UndefinedValue' ? '' : pyRepr(v))

const jsonString = (s: string): string =>
  '"' +
  [...s]
    .map(ch => {
      const code = ch.codePointAt(0)!
      if (ch === '"') return '\\"'
      if (ch === '\\') return '\\\\'
      if (ch === '\n') return '\\n'
      if (ch === '\r') return '\\r'
      if (ch === '\t') return '\\t'
      if (ch === '\b') return '\\b'
      if (ch === '\f') return '\\f'
      if (code < 0x20 || code > 0x7e) {
        // ensure_ascii: non-ASCII as \uXXXX (surrogate pairs for astral characters), as json.dumps does.
        return ch
          .split('')
          .map(u => '\\u' + u.charCodeAt(0).toString(16).padStart(4, '0'))
          .join('')
      }
      return ch
    })
    .join('') +
  '"'

/** json.dumps(value, sort_keys=True) (Python's separators and ASCII output). */
const pyJson = (v: Runtime): string => {
  switch (runtimeType(v)) {
    case 'StringValue':
      return jsonString(v.value)
    case 'IntegerValue':
      return String(v.value)
    case 'FloatValue':
      return Number.isFinite(v.value) ? pyFloat(v.value) : Number.isNaN(v.value) ? 'NaN' : v.value > 0 ? 'Infinity' : '-Infinity'
    case 'BooleanValue':
      return v.value ? 'true' : 'false'
    case 'NullValue':
    case 'UndefinedValue':
      return 'null'
    case 'TupleValue':
    case 'ArrayValue':
      return `[${v.value.map(pyJson).join(', ')}]`
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
    case 'NamespaceValue': {
      const entries = [...v.value.entries()] as Array<[string, unknown]>
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return `{${entries.map(([k, x]) => `${jsonString(k)}: ${pyJson(x)}`).join(', ')}}`
    }
    default:
      throw new Error(`Object of type ${runtimeType(v) || typeof v} is not JSON serializable`)
  }
}

/** Jinja2's |tojson: JSON that is safe in HTML. */
const htmlSafeJson = (v: Runtime): string =>
  pyJson(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/'/g, '\\u0027')

const formatSpec = /%(?:\((\w+)\))?([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdirfFeEgGxXoc%])/g

/** Python's `format % args` for the conversions prompts use (s r d i f e g x o c %). */
const pyPercent = (format: string, args: Runtime): string => {
  const positional = runtimeType(args) === 'TupleValue' ? [...args.value] : [args]
  const mapping = runtimeType(args) === 'ObjectValue' ? args : undefined
  let index = 0
  const text = format.replace(
    formatSpec,
    (_all, key: string | undefined, flags: string, width: string | undefined, precision: string | undefined, conv: string) => {
      if (conv === '%') return '%'
      let arg: Runtime
      if (key !== undefined) {
        if (!mapping) throw new TypeError('format requires a mapping')
        if (!mapping.value.has(key)) throw new Error(`KeyError: '${key}'`)
        arg = mapping.value.get(key)
      } else {
        if (index >= positional.length) throw new TypeError('not enough arguments for format string')
        arg = positional[index++]
      }
      const num = (): number => {
        const t = runtimeType(arg)
        if (t === 'IntegerValue' || t === 'FloatValue') return arg.value
        if (t === 'BooleanValue') return arg.value ? 1 : 0
        throw new TypeError(`%${conv} format: a real number is required, not ${t.replace('Value', '').toLowerCase()}`)
      }
      let out: string
      switch (conv) {
        case 's':
          out = pyStr(arg)
          break
        case 'r':
          out = pyRepr(arg)
          break
        case 'd':
        case 'i':
          out = String(Math.trunc(num()))
          break
        case 'f':
        case 'F':
          out = num().toFixed(precision === undefined ? 6 : Number(precision))
          break
        case 'e':
        case 'E': {
          const [m, e] = num()
            .toExponential(precision === undefined ? 6 : Number(precision))
            .split('e')
          out = `${m}e${e.startsWith('-') ? '-' : '+'}${e.replace(/^[-+]/, '').padStart(2, '0')}`
          if (conv === 'E') out = out.toUpperCase()
          break
        }
        case 'g':
        case 'G':
          out = String(Number(num().toPrecision(precision === undefined ? 6 : Math.max(1, Number(precision)))))
          break
        case 'x':
        case 'X':
          out = Math.trunc(num()).toString(16)
          if (conv === 'X') out = out.toUpperCase()
          break
        case 'o':
          out = Math.trunc(num()).toString(8)
          break
        default:
          out = runtimeType(arg) === 'IntegerValue' ? String.fromCodePoint(arg.value) : pyStr(arg)
      }
      if (conv === 's' || conv === 'r') {
        if (precision !== undefined) out = out.slice(0, Number(precision))
      } else if (flags.includes('+') && !out.startsWith('-')) out = '+' + out
      else if (flags.includes(' ') && !out.startsWith('-')) out = ' ' + out
      if (width !== undefined && out.length < Number(width)) {
        const pad = Number(width) - out.length
        if (flags.includes('-')) out += ' '.repeat(pad)
        else if (flags.includes('0') && !'sr'.includes(conv))
          out = /^[-+ ]/.test(out) ? out[0] + '0'.repeat(pad) + out.slice(1) : '0'.repeat(pad) + out
        else out = ' '.repeat(pad) + out
      }
      return out
    },
  )
  if (index < positional.length && !mapping && runtimeType(args) === 'TupleValue')
    throw new TypeError('not all arguments converted during string formatting')
  return text
}

/** Gives the library's runtime value classes Python's behaviour (see the header); runs once. */
const patch = (jinja: Jinja): void => {
  const env = new jinja.Environment()
  const samples: Record<string, unknown> = {b: true, n: null, f: 1.5, a: [], o: {}, s: ''}
  for (const [k, v] of Object.entries(samples)) env.set(k, v)
  const proto = (name: string) => Object.getPrototypeOf(env.lookupVariable(name))
  for (const name of ['b', 'n', 'f', 'a', 'o'])
    proto(name).toString = function (this: unknown) {
      return pyStr(this)
    }
  // Tuples and keyword arguments derive from the array/object classes patched above.

  const interpreter = jinja.Interpreter.prototype as Runtime
  const StringValue = proto('s').constructor
  interpreter.evaluateBlock = function (statements: Array<{type: string}>, environment: unknown) {
    let result = ''
    for (const statement of statements) {
      const value = this.evaluate(statement, environment)
      const type = runtimeType(value)
      if (type === 'UndefinedValue') continue
      if (type === 'NullValue' && statementTypes.has(statement.type)) continue
      result += pyStr(value)
    }
    return new StringValue(result)
  }
  const applyFilter = interpreter.applyFilter
  interpreter.applyFilter = function (operand: unknown, filterNode: {type: string; value?: string}, environment: unknown) {
    if (filterNode.type === 'Identifier' && filterNode.value === 'tojson') return new StringValue(htmlSafeJson(operand))
    return applyFilter.call(this, operand, filterNode, environment)
  }
  // for-loops: Jinja2 iterates a string's characters and an undefined variable as empty; the library refuses both.
  const ArrayValue = proto('a').constructor
  const evaluate = interpreter.evaluate
  interpreter.evaluate = function (node: {type: string; value?: unknown}, environment: unknown) {
    return node?.type === 'PfEvaluated' ? node.value : evaluate.call(this, node, environment)
  }
  const evaluateFor = interpreter.evaluateFor
  interpreter.evaluateFor = function (node: {iterable: {type: string}}, environment: unknown) {
    if (node.iterable.type === 'SelectExpression') return evaluateFor.call(this, node, environment)
    let iterable = this.evaluate(node.iterable, environment)
    if (runtimeType(iterable) === 'StringValue') iterable = new ArrayValue([...iterable.value].map(ch => new StringValue(ch)))
    else if (runtimeType(iterable) === 'UndefinedValue') iterable = new ArrayValue([])
    return evaluateFor.call(this, {...node, iterable: {type: 'PfEvaluated', value: iterable}}, environment)
  }
  const evaluateBinary = interpreter.evaluateBinaryExpression
  interpreter.evaluateBinaryExpression = function (node: {left: unknown; right: unknown; operator: {value: string}}, environment: unknown) {
    if (node.operator.value === '%') {
      const left = this.evaluate(node.left, environment)
      if (runtimeType(left) === 'StringValue') return new StringValue(pyPercent(left.value, this.evaluate(node.right, environment)))
    }
    return evaluateBinary.call(this, node, environment)
  }
}

const load = (): Promise<Jinja> =>
  (loaded ??= import('@huggingface/jinja').then(jinja => {
    patch(jinja)
    return jinja
  }))

/** Parses a template once (a syntax error throws here); render() runs it with prompt flow's globals. */
export const compileJinja2 = async (source: string): Promise<Jinja2Template> => {
  const jinja = await load()
  // Jinja2 reads \r\n and \r as \n; the library drops one trailing newline, so one is added (keep_trailing_newline).
  const text = source.replace(/\r\n?/g, '\n') + '\n'
  const tokens = jinja.tokenize(text, {lstrip_blocks: false, trim_blocks: true})
  const program = jinja.parse(tokens)
  const identifiers = new Set<string>(tokens.filter((t: {type: string}) => t.type === 'Identifier').map((t: {value: string}) => t.value))
  // Template.render sets the globals (range, namespace, True/None…); it renders whatever program it holds.
  const template = new jinja.Template('')
  template.parsed = program
  return {identifiers, render: values => template.render(values)}
}
