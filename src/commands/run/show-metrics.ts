import {Args} from '@oclif/core'

import {PfCommand, nameFlag} from '../../base-command.js'
import {showMetrics} from '../../run/manage.js'

export default class RunShowMetrics extends PfCommand {
  static summary = "Show the metrics a run's aggregation logged (logMetric)."
  static examples = ['<%= config.bin %> run show-metrics my_eval_run']
  static args = {name: Args.string({description: 'Run name (or --name).'})}
  static flags = {name: nameFlag('Run')}

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(RunShowMetrics)
    const name = this.nameFrom(args.name, flags.name, 'run')
    const metrics = showMetrics(name)
    if (!this.jsonEnabled()) this.log(JSON.stringify(metrics, null, 2))
    return metrics
  }
}
