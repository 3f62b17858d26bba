/**
 * The part of the PostgreSQL store's pool that reads may hold. The panel reads on every page
 * (a list page asks for issues, counts and a chart per row), and a slow or locked database keeps
 * each read on its connection: without a limit, a few panel pages took every connection, and the
 * events captured meanwhile waited behind them until they timed out. Reads take a slot here
 * before they take a connection, so at most `size` connections read and the rest of the pool is
 * always there for writes (records, alert claims, status changes, maintenance).
 */

/** Half the pool, at least one: a pool of one is shared, as there is no other way to read. */
export function readShareOf(poolSize: number): number {
  return Math.max(1, Math.floor(poolSize / 2))
}

/** A counting semaphore whose waiters give up after a time; first come, first served. */
export class ReadShare {
  readonly size: number
  #free: number
  #waiting: Array<() => void> = []

  constructor(size: number) {
    this.size = size
    this.#free = size
  }

  /** Resolves true once a slot is held (give it back with `release`), false if none came within `timeoutMs`. */
  acquire(timeoutMs: number): Promise<boolean> {
    if (this.#free > 0) {
      this.#free--
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((waiter) => waiter !== grant)
        resolve(false)
      }, timeoutMs)
      // a read waiting for a slot must not keep the host process alive on its own
      timer.unref()
      this.#waiting.push(grant)
    })
  }

  /** Gives a slot back: to the longest waiter, else to the free count. */
  release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }
}
