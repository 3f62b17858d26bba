/**
 * Callers waiting for some work to be done, each with a time limit of its own: `wait` resolves
 * true when `settle` is called, false when its time passes first. The capture queue, the delivery
 * queues and the alert checks each keep one.
 */
export class IdleWaiters {
  #waiting = new Set<() => void>()

  /** Resolves true at the next `settle()`, false if `timeoutMs` passes first; its timer never keeps the process alive. */
  wait(timeoutMs = Infinity): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        clearTimeout(timer)
        resolve(true)
      }
      this.#waiting.add(done)
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#waiting.delete(done)
          resolve(false)
        }, Math.max(0, timeoutMs))
        timer.unref()
      }
    })
  }

  /** The work is done: every caller waiting so far gets true. */
  settle(): void {
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const done of waiting) done()
  }
}
