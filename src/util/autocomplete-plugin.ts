import {createRequire} from 'node:module'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import type {Command, Config} from '@oclif/core'

type PluginCommand = {run(argv: string[], config: Config): Promise<unknown>} & (new (argv: string[], config: Config) => Command)

/**
 * A command class of @oclif/plugin-autocomplete, loaded only when `pf autocomplete` runs. pf does not register the
 * plugin in oclif.plugins: a core plugin's manifest is read on every start, which `pf config get` would pay for.
 * (The package exports no command classes, so they are imported by file.)
 */
export const autocompletePluginCommand = async (name: 'index' | 'script'): Promise<PluginCommand> => {
  const lib = path.dirname(createRequire(import.meta.url).resolve('@oclif/plugin-autocomplete'))
  const file = path.join(lib, 'commands', 'autocomplete', `${name}.js`)
  return (await import(pathToFileURL(file).href)).default as PluginCommand
}
