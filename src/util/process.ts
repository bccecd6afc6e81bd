import {readFileSync} from 'node:fs'

/**
 * A process as other pf processes can recognise it later: its pid and, where the OS tells (Linux `/proc`), its start
 * time in clock ticks since boot. The pair survives pid reuse: a new process with the same pid has another start.
 */
export interface ProcessIdentity {
  pid: number
  start?: number
}

/** `/proc/<pid>/stat` → [state, start time]; undefined off Linux or when the process is gone. */
const procStat = (pid: number): {state: string; start: number} | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S ppid …": comm may hold spaces and ")", so fields are counted after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {state: fields[0], start: Number(fields[19])}
  } catch {
    return undefined
  }
}

let self: ProcessIdentity | undefined

export const currentProcess = (): ProcessIdentity => (self ??= {pid: process.pid, start: procStat(process.pid)?.start})

/** Whether the process `who` names still runs (a zombie, exited but not reaped, does not; a reused pid does not). */
export const isProcessRunning = (who: ProcessIdentity): boolean => {
  try {
    process.kill(who.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const stat = procStat(who.pid)
  if (!stat) return true // no /proc: the pid answered, trust it
  if (stat.state === 'Z') return false
  return who.start === undefined || stat.start === who.start
}

let heldOpenByExport = false

/** Marks that exports which never answered hold this finished command's sockets, and with them the process. */
export const markHeldOpenByExport = (): void => {
  heldOpenByExport = true
}

export const isHeldOpenByExport = (): boolean => heldOpenByExport
