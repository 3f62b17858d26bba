/**
 * A bounded queue between the request path and the store. Pushing is O(1) and never blocks;
 * when full, new items are dropped and counted. Failed items are retried with backoff while
 * `onFailure` says so, so a store that is down for a while loses nothing that fits in the queue.
 */
export interface CaptureQueueOptions<T> {
  maxSize: number
  /** how many items may be in the store at once */
  concurrency: number
  handle(item: T): Promise<void>
  /**
   * decides what to do with an item whose handling threw: `retry` pauses the queue and tries it
   * first (the store is down), `requeue` puts it at the back without pausing (the store refused
   * this one item), `drop` gives it up
   */
  onFailure(error: unknown, item: T, attempts: number): Promise<Decision> | Decision
  onDrop(dropped: number): void
}

type Decision = 'retry' | 'requeue' | 'drop'

const MIN_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 30_000

export class CaptureQueue<T> {
  #options: CaptureQueueOptions<T>
  #items: Array<{ item: T; attempts: number }> = []
  #head = 0
  #inFlight = 0
  #pausedUntil = 0
  #backoff = MIN_BACKOFF_MS
  #timer: NodeJS.Timeout | null = null
  #scheduled = false
  #idle: Array<() => void> = []

  constructor(options: CaptureQueueOptions<T>) {
    this.#options = options
  }

  /** items waiting or being handled */
  get size(): number {
    return this.#items.length - this.#head + this.#inFlight
  }

  /** Queues an item; returns false (and counts a drop) when the queue is full. */
  push(item: T): boolean {
    if (this.size >= this.#options.maxSize) {
      this.#options.onDrop(1)
      return false
    }
    this.#items.push({ item, attempts: 0 })
    this.#schedule()
    return true
  }

  /** Resolves true once the queue is empty, false if `timeoutMs` passes first. */
  drain(timeoutMs = Infinity): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => {
        clearTimeout(timer)
        resolve(true)
      }
      this.#idle.push(done)
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#idle = this.#idle.filter((fn) => fn !== done)
          resolve(false)
        }, timeoutMs)
        timer.unref()
      }
      // a paused queue (store down) is retried now rather than after its backoff
      this.#wake()
    })
  }

  /** Removes and returns the items not yet handed to `handle` (for a process that is exiting). */
  takeWaiting(): T[] {
    const waiting = this.#items.slice(this.#head).map((entry) => entry.item)
    this.#items = []
    this.#head = 0
    return waiting
  }

  /** Stops retry timers; items still queued stay where they are. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #wake(): void {
    if (this.#pausedUntil > Date.now()) {
      this.#pausedUntil = 0
      if (this.#timer) clearTimeout(this.#timer)
      this.#timer = null
      this.#schedule()
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#timer) return
    this.#scheduled = true
    // off the caller's path: the request that captured returns before anything is stored
    setImmediate(() => {
      this.#scheduled = false
      this.#pump()
    })
  }

  #pump(): void {
    const wait = this.#pausedUntil - Date.now()
    if (wait > 0) {
      if (!this.#timer) {
        this.#timer = setTimeout(() => {
          this.#timer = null
          this.#pump()
        }, wait)
        this.#timer.unref()
      }
      return
    }
    while (this.#inFlight < this.#options.concurrency && this.#head < this.#items.length) {
      const entry = this.#items[this.#head]
      // slots before #head are cut off only at compaction (past 1,024 of them): until then a
      // handled item, and the request body it holds, would stay referenced
      ;(this.#items as Array<{ item: T; attempts: number } | undefined>)[this.#head++] = undefined
      this.#inFlight++
      void this.#run(entry)
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    this.#checkIdle()
  }

  async #run(entry: { item: T; attempts: number }): Promise<void> {
    try {
      await this.#options.handle(entry.item)
      this.#backoff = MIN_BACKOFF_MS
    } catch (error) {
      entry.attempts++
      let decision: Decision = 'drop'
      try {
        decision = await this.#options.onFailure(error, entry.item, entry.attempts)
      } catch {
        decision = 'drop'
      }
      if (decision === 'requeue') this.#items.push(entry)
      if (decision === 'retry') {
        // back to the front, and pause everything: the store is likely down for all items alike
        this.#items.splice(this.#head, 0, entry)
        this.#pausedUntil = Date.now() + this.#backoff
        this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS)
      }
    } finally {
      this.#inFlight--
    }
    this.#pump()
  }

  #checkIdle(): void {
    if (this.size !== 0) return
    const waiters = this.#idle
    this.#idle = []
    for (const resolve of waiters) resolve()
  }
}
