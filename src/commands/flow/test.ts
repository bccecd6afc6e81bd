import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {parseAssignments} from '../../flow/inputs.js'
import {type FlowTestResult, testFlow} from '../../flow/test-flow.js'
import {describeExport, describeLinks} from '../../tracing/report.js'

export default class FlowTest extends PfCommand {
  static summary = 'Run one line of a flow and trace it.'
  static description = `Runs a flex flow (flow.flex.yaml) or DAG flow (flow.dag.yaml) once and prints its outputs and trace links.
Inputs come from --inputs, else the flow's defaults, else its sample. Traces go to trace.destination (see pf config).`
  static examples = [
    '<%= config.bin %> flow test --flow ./my_flow --inputs question="What is prompt flow?"',
    '<%= config.bin %> flow test --flow ./my_dag_flow --node summarize --inputs text=hello',
    '<%= config.bin %> flow test --flow . --json',
  ]
  static flags = {
    flow: Flags.string({description: 'Flow folder (or its flow.flex.yaml / flow.dag.yaml).', default: '.'}),
    inputs: Flags.string({description: 'Input values as NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    init: Flags.string({description: 'Init values for a class entry as NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    node: Flags.string({description: 'Run only this node of a DAG flow.'}),
    'export-wait': Flags.integer({description: 'Seconds to wait for cloud export before leaving the rest to `pf trace sync`.', default: 10, min: 0}),
  }

  async run(): Promise<FlowTestResult> {
    const {flags} = await this.parse(FlowTest)
    const result = await testFlow(this.registry, {
      flow: flags.flow,
      inputs: parseAssignments(flags.inputs, '--inputs'),
      init: parseAssignments(flags.init, '--init'),
      node: flags.node,
      exportWaitSeconds: flags['export-wait'],
    })
    if (!this.jsonEnabled()) {
      this.log(typeof result.output === 'string' ? result.output : JSON.stringify(result.output, null, 2))
      for (const line of [...describeLinks(result.links), ...describeExport(result.export)]) process.stderr.write(line + '\n')
    }
    return result
  }
}
