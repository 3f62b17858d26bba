/**
 * The promise, or a rejection with `timedOut()` once `ms` have passed, whichever comes first. The
 * timer never keeps the process alive; beyond what a timer holds (Infinity too) is no limit.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, timedOut: () => Error = () => new Error(`timed out after ${ms} ms`)): Promise<T> {
  if (!(ms < 2 ** 31)) return promise
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
