import {spawn} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const pfBin = path.join(repoRoot, 'bin', 'run.js')

export interface PfResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  json<T = any>(): T
}

export interface PfOptions {
  home: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string
  nodeArgs?: string[]
  timeoutMs?: number
}

/** A fresh temporary folder (used as PF_HOME_DIRECTORY or a flow/project folder), under the run's (test/run.js). */
export const tempDir = (prefix = 'pf-test-'): string => mkdtempSync(path.join(process.env.PF_TEST_TEMP ?? os.tmpdir(), prefix))

/** Runs the built `pf` binary as a user would: a child process, no TTY, its own pf home. */
export const runPf = (args: string[], options: PfOptions): Promise<PfResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), pfBin, ...args], {
      cwd: options.cwd ?? options.home,
      env: {...cleanEnv(), PF_HOME_DIRECTORY: options.home, ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, json: () => JSON.parse(stdout)})
    })
    child.stdin.end(options.input ?? '')
  })

/** The parent's environment without variables that would change pf's behaviour under test. */
export const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = {...process.env}
  // npm_* come from `npm test`; they would point the npm that `pf plugins` runs at this repo.
  for (const key of Object.keys(env))
    if (key.startsWith('PF_') || key.startsWith('AZURE_') || key.startsWith('npm_') || key === 'NODE_OPTIONS') delete env[key]
  // CI=true makes oclif colour its tables; tests read plain text, as a user's NO_COLOR would give them.
  delete env.FORCE_COLOR
  env.NO_COLOR = '1'
  return env
}
