import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type ValidateResult, validateFlow} from '../../flow/validate.js'

export default class FlowValidate extends PfCommand {
  static summary = 'Check a flow without running it.'
  static description = `Loads the flow as pf flow test would (its YAML, entry or node code, \${…} references, cycles) and checks that the connections its llm nodes name exist.
Exits 0 when the flow is valid, 2 with the problem otherwise. (The reference also writes .promptflow/flow.tools.json for Azure ML pipelines; pf does not.)`
  static examples = ['<%= config.bin %> flow validate --source ./my_flow', '<%= config.bin %> flow validate --flow . --json']
  static flags = {
    source: Flags.string({description: 'Flow folder (or its flow.flex.yaml / flow.dag.yaml).', aliases: ['flow'], default: '.'}),
  }

  async run(): Promise<ValidateResult> {
    const {flags} = await this.parse(FlowValidate)
    const result = await validateFlow(flags.source)
    this.log(
      `${result.flow}: valid ${result.kind} flow (inputs: ${result.inputs.join(', ') || 'none'}${result.nodes ? `; nodes: ${result.nodes.join(', ')}` : ''}).`,
    )
    return result
  }
}
