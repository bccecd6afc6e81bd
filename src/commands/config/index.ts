import {PfCommand} from '../../base-command.js'

export default class Config extends PfCommand {
  static summary = 'Read and write pf configuration (pf.yaml).'
  static description = `Keys: trace.destination, trace.export_wait, connection.provider, run.output_path, telemetry.enabled, service.host, user_agent (installed plugins may add more).
The user config is <pf home>/pf.yaml (pf home: $PF_HOME_DIRECTORY or ~/.promptflow). A project pf.yaml, found by walking up from the current folder, wins over it key by key.

Commands: config set, config get, config show, config unset (see pf config COMMAND --help).`
  static examples = [
    '<%= config.bin %> config set trace.destination=azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>',
    '<%= config.bin %> config set trace.destination=local',
    '<%= config.bin %> config get trace.destination',
    '<%= config.bin %> config show',
    '<%= config.bin %> config unset trace.destination',
  ]

  async run() {
    await this.parse(Config)
    const {loadHelpClass} = await import('@oclif/core')
    const Help = await loadHelpClass(this.config)
    await new Help(this.config).showHelp(['config'])
  }
}
