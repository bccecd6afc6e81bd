import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {parseAssignments} from '../../flow/inputs.js'
import {parseConnectionOverrides} from '../../flow/load.js'
import {type CreateRunResult, createRun, defaultWorkers, runOutcomeError} from '../../run/create.js'
import {parseRunChanges} from '../../run/manage.js'
import {parseMappingFlags} from '../../run/mapping.js'
import {onInterrupt} from '../../run/interrupt.js'
import {createReporter} from '../../run/progress.js'
import {deliveryPendingError, describeUploads, withUploadedLinks} from '../../run/upload-report.js'
import {describeExport, describeLinks} from '../../tracing/report.js'

export default class RunCreate extends PfCommand {
  static summary = 'Run a flow over every line of a data file.'
  static description = `Runs the flow once per line of a .jsonl or .csv file, --workers lines at a time, and records the run (pf run list/show).
Each flow input takes the data column of the same name unless --column-mapping says otherwise.
Every line is traced under the run. Exits 1 when lines failed (the run is Failed); on Ctrl-C, SIGTERM or SIGHUP the run ends Canceled with its spans recorded, exit 130, 143 or 129.`
  static examples = [
    '<%= config.bin %> run create --flow ./my_flow --data data.jsonl',
    "<%= config.bin %> run create --flow ./my_flow --data data.csv --column-mapping question='${data.text}' --name my_run",
    "<%= config.bin %> run create --flow ./eval_flow --data data.jsonl --run my_run --column-mapping answer='${run.outputs.answer}'",
    '<%= config.bin %> run create --file run.yaml --stream',
    '<%= config.bin %> run create --resume-from my_run',
    "<%= config.bin %> run create --resume-from my_run --name my_run_2 --set display_name='A new run' description='my run' tags.Type=Test",
  ]
  static flags = {
    flow: Flags.string({description: 'Flow folder (or its flow.flex.yaml / flow.dag.yaml).'}),
    data: Flags.string({description: 'Data file: .jsonl (one JSON object per line) or .csv (header row).'}),
    'column-mapping': Flags.string({
      description:
        "Input source as NAME=VALUE: '${data.<column>}', '${run.outputs.<name>}', '${run.inputs.<name>}' or a constant (repeatable).",
      multiple: true,
      helpValue: 'NAME=VALUE',
    }),
    variant: Flags.string({description: "Node variant of a DAG flow to use, as '${NODE.VARIANT_ID}'."}),
    init: Flags.string({
      description: 'Init value of a flex class entry as NAME=VALUE (repeatable).',
      multiple: true,
      helpValue: 'NAME=VALUE',
    }),
    'environment-variables': Flags.string({
      description: 'Environment variable for the flow as NAME=VALUE; VALUE may be ${env:OTHER} (repeatable).',
      multiple: true,
      helpValue: 'NAME=VALUE',
    }),
    connections: Flags.string({
      description: 'llm node override as NODE.connection=NAME or NODE.deployment_name=… (repeatable).',
      multiple: true,
      helpValue: 'NODE.KEY=VALUE',
    }),
    name: Flags.string({description: 'Run name (unique; default: <flow folder>_<timestamp>).'}),
    'display-name': Flags.string({description: 'Display name of the run.'}),
    workers: Flags.integer({description: 'Lines run at once.', default: defaultWorkers, min: 1}),
    stream: Flags.boolean({char: 's', description: "Print each line's result as it ends (stdout; stderr with --json)."}),
    run: Flags.string({description: 'Base run to evaluate: column mappings may use ${run.outputs.x} and ${run.inputs.x}.'}),
    'resume-from': Flags.string({description: 'Rerun only the failed or missing lines of this run, into a new run.'}),
    file: Flags.string({
      char: 'f',
      description: 'Run YAML file (flow, data, column_mapping, run, name, display_name, tags); flags override it.',
    }),
    tag: Flags.string({description: 'Tag as KEY=VALUE (repeatable).', multiple: true, helpValue: 'KEY=VALUE'}),
    set: Flags.string({
      description: 'display_name=…, description=… or tags.<key>=<value>, as the reference takes them (repeatable).',
      multiple: true,
      helpValue: 'KEY=VALUE',
    }),
    'line-timeout': Flags.integer({
      description: 'Seconds a line may run before it is recorded as failed (default: PF_LINE_TIMEOUT_SEC, else 600).',
      min: 1,
    }),
    'export-wait': Flags.integer({
      description:
        'Seconds to wait for remote destinations at the end before leaving the rest to `pf trace sync` (default: trace.export_wait, 1).',
      min: 0,
    }),
    'upload-wait': Flags.integer({
      description: 'Seconds to wait for the run upload to the workspace before leaving it to `pf run sync`.',
      default: 60,
      min: 0,
    }),
    wait: Flags.boolean({
      description: 'Exit 3 when the run succeeded but its spans or its upload to the workspace are still pending (for CI).',
    }),
  }

  async run(): Promise<CreateRunResult> {
    const {flags} = await this.parse(RunCreate)
    const json = this.jsonEnabled()
    const reporter = await createReporter({
      bar: Boolean(process.stderr.isTTY) && !json && !flags.stream,
      stream: flags.stream ? text => (json ? process.stderr : process.stdout).write(text) : undefined,
    })
    // Ctrl-C, SIGTERM, SIGHUP: stop starting lines and let the run end as Canceled; a second signal leaves at once.
    const interrupt = onInterrupt(signal => this.note(`${signal}: canceling; no new lines start, waiting briefly for lines in flight…`))
    const changes = flags.set ? parseRunChanges(flags.set) : undefined
    let result: CreateRunResult
    try {
      result = await createRun(
        this.registry,
        {
          flow: flags.flow,
          data: flags.data,
          columnMapping: parseMappingFlags(flags['column-mapping']),
          name: flags.name,
          variant: flags.variant,
          init: parseAssignments(flags.init, '--init'),
          environmentVariables: parseAssignments(flags['environment-variables'], '--environment-variables'),
          connections: parseConnectionOverrides(flags.connections),
          displayName: flags['display-name'] ?? changes?.displayName,
          workers: flags.workers,
          run: flags.run,
          resumeFrom: flags['resume-from'],
          file: flags.file,
          tags: {...changes?.tags, ...parseAssignments(flags.tag, '--tag')},
          description: changes?.description,
          exportWaitSeconds: flags['export-wait'],
          lineTimeoutSeconds: flags['line-timeout'],
          uploadWaitSeconds: flags['upload-wait'],
        },
        {...reporter.observer, signal: interrupt.signal},
      )
    } finally {
      reporter.stop()
      interrupt.dispose()
    }
    if (!json) {
      const {run} = result
      this.note(
        `Run ${run.name}: ${run.status}, ${run.completed_lines} completed, ${run.failed_lines} failed of ${run.total_lines} lines (${run.duration?.toFixed(1)} s).`,
      )
      this.note(`Outputs: ${run.output_path}`)
      for (const line of [
        ...describeLinks(withUploadedLinks(result)),
        ...describeExport(result.export),
        ...describeUploads(result.upload, {portalUrl: false}),
      ])
        this.note(line)
    }
    const failure = runOutcomeError(result, interrupt.exitCode()) ?? (flags.wait ? deliveryPendingError(result) : undefined)
    if (failure) throw failure
    return result
  }
}
