import path from 'node:path'

import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {ConfigService, type Shadowed} from '../../config/service.js'

export default class ConfigSet extends PfCommand {
  static summary = 'Set config values in pf.yaml.'
  static description = `Values are validated before anything is written; one bad value writes nothing.
Without --path the user config (<pf home>/pf.yaml) is written; with --path DIR, DIR/pf.yaml (a project config that wins over the user config in and below DIR).
Setting trace.destination to an azureml:// workspace checks the workspace and sets up its trace store first.`
  static strict = false
  static args = {}
  static examples = [
    '<%= config.bin %> config set trace.destination=local',
    '<%= config.bin %> config set trace.destination=azureml://subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>',
    '<%= config.bin %> config set trace.destination=azureml   # resolve per flow from .azureml/config.json',
    '<%= config.bin %> config set trace.destination=none',
    '<%= config.bin %> config set run.output_path=./runs telemetry.enabled=false --path .',
  ]
  static flags = {
    path: Flags.string({description: 'Write DIR/pf.yaml (a project config) instead of the user config.', helpValue: 'DIR'}),
    timeout: Flags.integer({description: 'Seconds to wait for a destination to be set up.', default: 600, min: 1}),
  }

  async run() {
    const {argv, flags} = await this.parse(ConfigSet)
    const service = new ConfigService(this.registry)
    const result = await service.set(argv as string[], {
      path: flags.path,
      timeoutMs: flags.timeout * 1000,
      progress: process.stderr.isTTY && !this.jsonEnabled() ? message => process.stderr.write(message + '\n') : undefined,
    })
    for (const [key, value] of Object.entries(result.values)) this.log(`Set ${key}=${String(value)} in ${result.path}`)
    for (const s of result.shadowed) this.note(describeShadowed(s))
    return result
  }
}

/** Says which file wins when the one just written does not decide the key's value here. */
export const describeShadowed = (s: Shadowed): string => {
  const value = typeof s.value === 'string' ? s.value : JSON.stringify(s.value)
  const why =
    s.source === 'project' ? 'the nearest project pf.yaml wins over the user pf.yaml' : 'the file written does not apply in this folder'
  return `Note: ${s.path} sets ${s.key}=${value} and wins here (${why}); to change it there: pf config set ${s.key}=… --path ${path.dirname(s.path)}`
}
