import {closeSync, openSync, readFileSync, rmSync, writeSync} from 'node:fs'

import {PfError} from '../errors.js'
import {type ProcessIdentity, currentProcess, isProcessRunning} from './process.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** Who holds `lock` (`pid:start` written by `tryLock`), or undefined when it cannot be read. */
const holderOf = (lock: string): ProcessIdentity | undefined => {
  try {
    const [pid, start] = readFileSync(lock, 'utf8').trim().split(':')
    return Number.isInteger(Number(pid)) && Number(pid) > 0 ? {pid: Number(pid), start: start ? Number(start) : undefined} : undefined
  } catch {
    return undefined
  }
}

const tryLock = (lock: string): boolean => {
  try {
    const fd = openSync(lock, 'wx', 0o600)
    const self = currentProcess()
    writeSync(fd, `${self.pid}:${self.start ?? ''}\n`)
    closeSync(fd)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/**
 * Runs `work` holding `<file>.lock`, so concurrent pf processes that read-modify-write the same small file (pf.yaml,
 * connections.json) apply their changes one after the other and none is lost. The lock file (created with O_EXCL)
 * names its holder by pid and process start time: a lock left by a process that died is taken over at once, not
 * after a timeout guess. Waits up to `timeoutMs` for a live holder.
 */
export const withFileLock = async <T>(file: string, work: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> => {
  const lock = `${file}.lock`
  const deadline = Date.now() + timeoutMs
  for (let wait = 5; !tryLock(lock); wait = Math.min(wait * 2, 100)) {
    const holder = holderOf(lock)
    // A holder that is gone, or a lock file not written yet/half written by a holder that then died.
    if (holder ? !isProcessRunning(holder) : Date.now() > deadline - timeoutMs / 2) {
      rmSync(lock, {force: true})
      continue
    }
    if (Date.now() > deadline)
      throw new PfError(
        'file_locked',
        `${file} is locked by another pf process (pid ${holder?.pid ?? 'unknown'}); try again when it has finished.`,
        1,
      )
    await sleep(wait)
  }
  try {
    return await work()
  } finally {
    rmSync(lock, {force: true})
  }
}
