import { IdleWaiters } from '../idle-waiters.js'
import { withTimeout } from '../timeout.js'

/** How a queue delivers: its bound, its pace, and how hard it tries. */
export interface DeliveryOptions {
  /** names the deliveries in error messages, e.g. 'alert email' */
  name: string
  /** jobs waiting beyond this are dropped (and counted), so a dead endpoint cannot grow memory */
  maxQueue: number
  concurrency: number
  /** attempts per job, the first included */
  tries: number
  /** wait before the second attempt; each later wait is four times longer */
  backoffMs: number
  /** an attempt that has not settled by then counts as failed, whatever the transport does */
  attemptTimeoutMs: number
  /** errors not worth retrying (a 5xx SMTP reply, a 4xx HTTP status) */
  isPermanent?: (err: unknown) => boolean
  report: (err: Error, kind: string) => void
}

interface Job<T> {
  payload: T
  label: string
  attempt: number
}

/**
 * A bounded background queue that delivers jobs with retries and backoff. Nothing waits on it
 * but `idle()`: callers push and return at once. Timers are unref'd so it never keeps a process alive.
 */
export class DeliveryQueue<T> {
  #send: (payload: T, signal: AbortSignal) => Promise<unknown>
  #o: DeliveryOptions
  #waiting: Job<T>[] = []
  #active = 0
  #retrying = new Set<NodeJS.Timeout>()
  #idle = new IdleWaiters()
  #closed = false
  /** jobs refused because the queue was full */
  dropped = 0
  /** jobs given up after every attempt failed */
  failed = 0
  delivered = 0

  /** `send` gets a signal that aborts when the attempt times out, so it can drop its connection. */
  constructor(send: (payload: T, signal: AbortSignal) => Promise<unknown>, options: DeliveryOptions) {
    this.#send = send
    this.#o = options
  }

  /** Jobs not yet delivered or given up: waiting, in flight, or waiting to retry. */
  get pending(): number {
    return this.#waiting.length + this.#active + this.#retrying.size
  }

  /** Queues a job; false (and counted) when the queue is full or closed. */
  push(payload: T, label: string): boolean {
    if (this.#closed || this.#waiting.length >= this.#o.maxQueue) {
      this.dropped++
      if (!this.#closed) this.#o.report(new Error(`${this.#o.name} queue is full (${this.#o.maxQueue}); dropped ${label}`), `${this.#o.name}: full`)
      return false
    }
    this.#waiting.push({ payload, label, attempt: 1 })
    this.#pump()
    return true
  }

  /** Resolves true once nothing is pending, false if `timeoutMs` passes first. */
  idle(timeoutMs = Infinity): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true)
    return this.#idle.wait(timeoutMs)
  }

  /** Drops what is still waiting (counted as dropped) and stops retry timers. */
  close(): void {
    this.#closed = true
    this.dropped += this.#waiting.length + this.#retrying.size
    this.#waiting = []
    for (const t of this.#retrying) clearTimeout(t)
    this.#retrying.clear()
    this.#checkIdle()
  }

  #pump(): void {
    while (this.#active < this.#o.concurrency && this.#waiting.length) {
      const job = this.#waiting.shift()!
      this.#active++
      void this.#attempt(job)
    }
  }

  async #attempt(job: Job<T>): Promise<void> {
    try {
      await this.#withTimeout(job)
      this.delivered++
    } catch (err) {
      this.#failedAttempt(job, err)
    } finally {
      this.#active--
      this.#pump()
      this.#checkIdle()
    }
  }

  #withTimeout(job: Job<T>): Promise<unknown> {
    const abort = new AbortController()
    // a send that throws synchronously is a failed attempt too
    const sending = new Promise((resolve) => resolve(this.#send(job.payload, abort.signal)))
    return withTimeout(sending, this.#o.attemptTimeoutMs, () => {
      const err = new Error(`timed out after ${this.#o.attemptTimeoutMs}ms`)
      abort.abort(err)
      return err
    })
  }

  #failedAttempt(job: Job<T>, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    const permanent = this.#o.isPermanent?.(err) ?? false
    if (permanent || job.attempt >= this.#o.tries || this.#closed) {
      this.failed++
      const tries = job.attempt === 1 ? '1 try' : `${job.attempt} tries`
      const why = permanent && job.attempt < this.#o.tries ? ', not retried: the error is permanent' : ''
      this.#o.report(new Error(`${this.#o.name} failed (${job.label}) after ${tries}${why}: ${message}`), `${this.#o.name}: failed`)
      return
    }
    const delay = this.#o.backoffMs * 4 ** (job.attempt - 1)
    const timer = setTimeout(() => {
      this.#retrying.delete(timer)
      if (this.#closed) return
      this.#waiting.unshift({ ...job, attempt: job.attempt + 1 })
      this.#pump()
    }, delay)
    timer.unref()
    this.#retrying.add(timer)
  }

  #checkIdle(): void {
    if (this.pending === 0) this.#idle.settle()
  }
}
