import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type FlowType, type InitResult, flowTypes, initFlow} from '../../flow/templates.js'

export default class FlowInit extends PfCommand {
  static summary = 'Create a new flow folder from a TypeScript template.'
  static description = `--type flex (default): flow.flex.yaml and a TypeScript entry function. standard: a DAG flow (a TypeScript node and a prompt node). evaluation: a DAG flow that grades lines and logs a metric.
Each template comes with a data.jsonl, so pf flow test and pf run create work at once. Existing files are kept unless --yes.`
  static examples = [
    '<%= config.bin %> flow init --flow ./my_flow',
    '<%= config.bin %> flow init --flow ./my_dag --type standard',
    '<%= config.bin %> flow init --flow ./my_eval --type evaluation',
    '<%= config.bin %> flow init --flow . --entry answer.ts --function answer --yes',
  ]
  static flags = {
    flow: Flags.string({description: 'Folder to create the flow in.', default: '.'}),
    type: Flags.string({description: 'Template.', options: [...flowTypes], default: 'flex'}),
    entry: Flags.string({description: 'Code file name (default: flow.ts; grade.ts for evaluation).'}),
    function: Flags.string({description: 'Exported function name (default: answer; clean for standard; grade for evaluation).'}),
    yes: Flags.boolean({char: 'y', aliases: ['assume-yes'], description: 'Replace files that already exist.'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(FlowInit)
    const result = initFlow(flags.flow, {type: flags.type as FlowType, entry: flags.entry, function: flags.function, overwrite: flags.yes})
    this.log(`Created ${result.type === 'evaluation' ? 'an' : 'a'} ${result.type} flow in ${result.flow}: ${result.files.join(', ')}`)
    this.note(`Try it: pf flow test --flow ${flags.flow}`)
    return result
  }
}
