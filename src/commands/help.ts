import {Args, Command, Flags, loadHelpClass} from '@oclif/core'

/**
 * `pf help [COMMAND]`: oclif's own help, as @oclif/plugin-help's command shows it. pf's command rather than that
 * plugin's: oclif loads every core plugin at each start, and matches each of pf's dependencies against the core
 * plugins' names with minimatch to find them (≈ 3.6 ms of every command; docs/benchmarks.md).
 */
export default class Help extends Command {
  static summary = 'Display help for pf.'
  static examples = ['<%= config.bin %> help', '<%= config.bin %> help run create', '<%= config.bin %> help --nested-commands']
  static args = {command: Args.string({description: 'Command to show help for.', required: false})}
  static flags = {'nested-commands': Flags.boolean({char: 'n', description: 'Include all nested commands in the output.'})}
  static strict = false

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Help)
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config, {all: flags['nested-commands']}).showHelp(argv as string[])
  }
}
