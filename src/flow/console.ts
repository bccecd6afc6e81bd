import {format} from 'node:util'

/**
 * While a flow runs, what its code prints with console.log/info/debug goes to `sink` instead of stdout: stdout is
 * pf's own output (the flow's result, `--json`, `--stream`), which user prints must not corrupt. `pf flow test`
 * sends them to stderr, `pf run create` to the run's logs. console.warn/error already go to stderr.
 */
export const redirectConsole = (sink: (text: string) => void): (() => void) => {
  const saved = {log: console.log, info: console.info, debug: console.debug}
  const write = (...args: unknown[]) => sink(format(...args) + '\n')
  console.log = write
  console.info = write
  console.debug = write
  return () => Object.assign(console, saved)
}
