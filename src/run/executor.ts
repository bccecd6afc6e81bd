/** What happened to the lines that were in flight when a run was canceled. */
export interface ConcurrencyResult {
  canceled: boolean
  /** Lines still running when the grace period ended (their results are dropped). */
  abandoned: number
}

/**
 * Runs `work` for every item of a stream with at most `workers` at once. The stream is pulled only when a slot
 * is free, so at most `workers` items are in memory however long the stream is. (p-limit queues every item it
 * is given, which would read a whole data file ahead.) On abort no new item starts; items in flight get
 * `graceMs` to finish. `work` must not throw.
 */
export const runConcurrently = async <T>(
  items: AsyncIterable<T>,
  workers: number,
  work: (item: T) => Promise<void>,
  options: {signal?: AbortSignal; graceMs?: number} = {},
): Promise<ConcurrencyResult> => {
  const {signal, graceMs = 3000} = options
  const inFlight = new Set<Promise<void>>()
  let wake: (() => void) | undefined
  const wakeUp = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const nextEvent = () => new Promise<void>(resolve => (wake = resolve))
  signal?.addEventListener('abort', wakeUp, {once: true})

  const iterator = items[Symbol.asyncIterator]()
  try {
    while (!signal?.aborted) {
      if (inFlight.size >= workers) {
        await nextEvent()
        continue
      }
      const next = await iterator.next()
      if (next.done || signal?.aborted) break
      const task: Promise<void> = work(next.value).finally(() => {
        inFlight.delete(task)
        wakeUp()
      })
      inFlight.add(task)
    }
  } finally {
    await iterator.return?.()
  }
  // The tail: wait for what is in flight, unless an abort comes meanwhile.
  while (inFlight.size > 0 && !signal?.aborted) await nextEvent()
  if (!signal?.aborted) return {canceled: false, abandoned: 0}
  let timer: NodeJS.Timeout | undefined
  await Promise.race([Promise.all(inFlight), new Promise(resolve => (timer = setTimeout(resolve, graceMs)))])
  clearTimeout(timer)
  return {canceled: true, abandoned: inFlight.size}
}
