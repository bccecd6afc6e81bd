import {PfError} from '../errors.js'

/**
 * Parses YAML text, turning a syntax error into one line naming the file, line and column.
 * js-yaml is imported on first use (a command that reads no YAML never pays for it).
 */
export const parseYaml = async (text: string, file: string, code = 'yaml_malformed'): Promise<unknown> => {
  const {load} = await import('js-yaml')
  try {
    return load(text, {filename: file})
  } catch (error) {
    const {mark, reason} = error as {mark?: {line: number; column: number}; reason?: string}
    const where = mark ? `:${mark.line + 1}:${mark.column + 1}` : ''
    throw new PfError(code, `${file}${where}: not valid YAML (${reason ?? (error as Error).message}); fix the file.`)
  }
}
