import {Flags} from '@oclif/core'

import {PfCommand} from '../../base-command.js'
import {type VisualizeResult, visualizeRuns} from '../../service/visualize.js'

export default class RunVisualize extends PfCommand {
  static summary = "Compare runs side by side: metrics, and each line's outputs and evaluation scores."
  static description = `Opens the viewer's comparison of the runs (starting the viewer when it is not running): their metrics side by side, and a line-by-line table with the inputs once, each run's output and evaluation scores, differences marked and failed lines flagged.
With --html-path, writes the comparison as one self-contained HTML file instead (works offline). The browser opens when the command runs on a terminal (--no-open to only print the link).`
  static examples = [
    '<%= config.bin %> run visualize --names my_run_1,my_run_2',
    '<%= config.bin %> run visualize --names base_run,eval_run --html-path compare.html',
  ]
  static flags = {
    names: Flags.string({description: 'Runs to compare, comma-separated (1 to 5).', required: true}),
    'html-path': Flags.string({description: 'Write a self-contained HTML file here instead of opening the viewer.'}),
    open: Flags.boolean({description: 'Open the page in a browser (default: when stdout is a terminal).', allowNo: true}),
  }

  async run(): Promise<VisualizeResult> {
    const {flags} = await this.parse(RunVisualize)
    const open = flags.open ?? (Boolean(process.stdout.isTTY) && !this.jsonEnabled())
    const result = await visualizeRuns({names: flags.names, htmlPath: flags['html-path'], open})
    if (!this.jsonEnabled()) this.log(result.htmlPath ?? result.url!)
    if (open && !result.opened) this.note('Could not open a browser; open the link above.')
    return result
  }
}
