import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {PfError} from '../../errors.js'
import {parseAssignments} from '../../flow/inputs.js'
import type {ChatResult} from '../../flow/chat.js'
import {type FlowTestResult, testFlow} from '../../flow/test-flow.js'
import {describeExport, describeLinks} from '../../tracing/report.js'

export default class FlowTest extends PfCommand {
  static summary = 'Run one line of a flow and trace it.'
  static description = `Runs a flex flow (flow.flex.yaml), DAG flow (flow.dag.yaml) or .prompty file once and prints its outputs and trace links.
With --interactive, chats with a chat flow in the terminal instead.
Inputs come from --inputs, else the flow's defaults, else its sample. Traces go to trace.destination (see pf config).`
  static examples = [
    '<%= config.bin %> flow test --flow ./my_flow --inputs question="What is prompt flow?"',
    '<%= config.bin %> flow test --flow ./my_dag_flow --node summarize --inputs text=hello',
    '<%= config.bin %> flow test --flow . --json',
    '<%= config.bin %> flow test --flow ./chat_flow --interactive',
    "<%= config.bin %> flow test --flow ./web-classification --variant '${summarize_text_content.variant_1}'",
    '<%= config.bin %> flow test --flow ./basic.prompty --inputs question=Hi',
  ]
  static flags = {
    flow: Flags.string({description: 'Flow folder (or its flow.flex.yaml / flow.dag.yaml).', default: '.'}),
    inputs: Flags.string({description: 'Input values as NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    init: Flags.string({description: 'Init values for a class entry as NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    node: Flags.string({description: 'Run only this node of a DAG flow.'}),
    interactive: Flags.boolean({
      description: 'Chat with a chat flow in the terminal (each message is a traced line; the history is kept).',
    }),
    'environment-variables': Flags.string({
      description: 'Environment variable for the flow as NAME=VALUE; VALUE may be ${env:OTHER} (repeatable).',
      multiple: true,
      helpValue: 'NAME=VALUE',
    }),
    variant: Flags.string({
      description: "Node variant of a DAG flow to use, as '${NODE.VARIANT_ID}' (other nodes use their default variant).",
    }),
    'export-wait': Flags.integer({
      description:
        'Seconds to wait for remote destinations at the end before leaving the rest to `pf trace sync` (default: trace.export_wait, 1).',
      min: 0,
    }),
  }

  async run(): Promise<FlowTestResult | ChatResult> {
    const {flags} = await this.parse(FlowTest)
    const options = {
      flow: flags.flow,
      inputs: parseAssignments(flags.inputs, '--inputs'),
      init: parseAssignments(flags.init, '--init'),
      node: flags.node,
      variant: flags.variant,
      environmentVariables: parseAssignments(flags['environment-variables'], '--environment-variables'),
      exportWaitSeconds: flags['export-wait'],
    }
    if (flags.interactive) {
      if (this.jsonEnabled()) throw new PfError('invalid_arguments', '--interactive is a terminal chat; leave out --json.')
      if (flags.node) throw new PfError('invalid_arguments', '--interactive chats with the whole flow; leave out --node.')
      const {chatWithFlow} = await import('../../flow/chat.js')
      const chat = await chatWithFlow(this.registry, options)
      for (const line of describeExport(chat.export)) process.stderr.write(line + '\n')
      return chat
    }
    const result = await testFlow(this.registry, options)
    if (!this.jsonEnabled()) {
      this.log(typeof result.output === 'string' ? result.output : JSON.stringify(result.output, null, 2))
      for (const line of [...describeLinks(result.links), ...describeExport(result.export)]) process.stderr.write(line + '\n')
    }
    return result
  }
}
