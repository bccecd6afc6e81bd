import type {Command} from '@oclif/core'
import {commands} from '@oclif/plugin-plugins'

// @oclif/plugin-plugins' own command, registered as pf's: see src/commands/plugins/index.ts.
const command: Command.Class = commands['plugins:link']
export default command
