/**
 * The queue between the request path and the store. Pushing is O(1) and never blocks; the caller
 * keeps it within `maxSize` (the tracker counts what does not fit from its facts instead). Each
 * pushed item is prepared (made into what waits for the store) off the caller's path as soon as
 * the queue gets to it, whether or not the store keeps up: what a capture holds of the app (a
 * request body, extras) is let go then, and what is prepared has a size, so the queue is bounded
 * in bytes as well: an item that does not fit is made lighter (`lighten`). Failed items are retried
 * with backoff while `onFailure` says so, so a store that is down for a while loses nothing.
 */
import { IdleWaiters } from './idle-waiters.js'
export interface CaptureQueueOptions<T, P> {
  /**
   * the bytes prepared items may hold in all; one that does not fit is lightened. An empty queue
   * takes any item, so one larger than this is not refused forever.
   */
  maxBytes: number
  /** how many items may be in the store at once */
  concurrency: number
  /** what a pushed item becomes, and its size in bytes; null to discard it. It reports its own failures. */
  prepare(item: T): { value: P; bytes: number } | null
  /** a prepared item that does not fit in maxBytes, made small (it then fits whatever the bytes) */
  lighten(value: P): { value: P; bytes: number }
  handle(item: P): Promise<void>
  /**
   * decides what to do with an item whose handling threw: `retry` pauses the queue and tries it
   * first (the store is down), `requeue` puts it at the back without pausing (the store refused
   * this one item), `drop` gives it up
   */
  onFailure(error: unknown, item: P, attempts: number): Promise<Decision> | Decision
}

type Decision = 'retry' | 'requeue' | 'drop'

interface Entry<P> {
  item: P
  attempts: number
  bytes: number
}

const MIN_BACKOFF_MS = 100
/**
 * How long the queue works (building and storing) before it lets the app's own callbacks run: a
 * burst is handled in slices of about this, never in one stretch that holds up requests.
 */
const SLICE_MS = 4
/** writing resumes within a second of the store coming back, however long it was down */
const MAX_BACKOFF_MS = 1000

export class CaptureQueue<T, P> {
  #options: CaptureQueueOptions<T, P>
  /** pushed, not yet prepared: the caller's objects, held only until the next turn of the loop */
  #incoming: T[] = []
  #items: Array<Entry<P>> = []
  #head = 0
  #inFlight = 0
  /** bytes of the prepared items, waiting or being handled */
  #bytes = 0
  #pausedUntil = 0
  #backoff = MIN_BACKOFF_MS
  #timer: NodeJS.Timeout | null = null
  #scheduled = false
  /** stopped: nothing more is tried, even by a store attempt that fails after the stop */
  #stopped = false
  /** when the current slice of work began (see SLICE_MS) */
  #sliceStarted = 0
  /** nothing is prepared or handled until this settles (see waitFor) */
  #waitingFor: Promise<unknown> | null = null
  #idle = new IdleWaiters()

  constructor(options: CaptureQueueOptions<T, P>) {
    this.#options = options
  }

  /** items pushed and not yet prepared: what still holds the caller's objects */
  get unprepared(): number {
    return this.#incoming.length
  }

  /** items waiting or being handled */
  get size(): number {
    return this.#incoming.length + this.#items.length - this.#head + this.#inFlight
  }

  /** Queues an item to be prepared. */
  push(item: T): void {
    this.#incoming.push(item)
    this.#schedule()
  }

  /** Queues an item prepared already (counted facts, see the tracker). */
  pushPrepared(value: P, bytes: number): void {
    this.#bytes += bytes
    this.#items.push({ item: value, attempts: 0, bytes })
    this.#schedule()
  }

  /**
   * Holds all work until `promise` settles: what preparing needs is still loading (a module
   * imported on first use, in a few milliseconds). Items pushed meanwhile wait, and count in `size`.
   */
  waitFor(promise: Promise<unknown>): void {
    const waiting = promise.then(() => {}, () => {}).then(() => {
      if (this.#waitingFor !== waiting) return
      this.#waitingFor = null
      this.#schedule()
    })
    this.#waitingFor = waiting
  }

  /** Resolves true once the queue is empty, false if `timeoutMs` passes first. */
  drain(timeoutMs = Infinity): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true)
    const drained = this.#idle.wait(timeoutMs)
    // a paused queue (store down) is retried now rather than after its backoff
    this.#wake()
    return drained
  }

  /**
   * Removes and returns the items not yet handed to `handle` (for a process that is exiting):
   * the prepared ones, then those pushed since, which were pushed later.
   */
  takeWaiting(): { prepared: P[]; incoming: T[] } {
    const waiting = this.#items.slice(this.#head)
    for (const entry of waiting) this.#bytes -= entry.bytes
    const incoming = this.#incoming
    this.#items = []
    this.#head = 0
    this.#incoming = []
    return { prepared: waiting.map((entry) => entry.item), incoming }
  }

  /** Stops retrying for good; items still queued stay where they are (the caller reports them). */
  stop(): void {
    this.#stopped = true
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
    if (this.#scheduled || this.#stopped) return
    this.#scheduled = true
    // off the caller's path: the request that captured returns before anything is built or stored
    setImmediate(() => {
      this.#scheduled = false
      this.#sliceStarted = performance.now()
      this.#pump()
    })
  }

  #sliceUsed(): boolean {
    return performance.now() - this.#sliceStarted >= SLICE_MS
  }

  /** Prepares what was pushed, the store paused or not, until the slice is used; the rest in later turns. */
  #prepareIncoming(): void {
    if (this.#incoming.length === 0) return
    const incoming = this.#incoming
    let done = 0
    for (let i = 0; i < incoming.length && !(i > 0 && this.#sliceUsed()); i++, done++) {
      let prepared: { value: P; bytes: number } | null = null
      try {
        prepared = this.#options.prepare(incoming[i])
      } catch {
        // discarded: a throw from here would reach the host app from a timer
      }
      // let go of the caller's objects as soon as they are no longer needed
      ;(incoming as unknown[])[i] = undefined
      if (prepared === null) continue
      if (this.#bytes > 0 && this.#bytes + prepared.bytes > this.#options.maxBytes) prepared = this.#options.lighten(prepared.value)
      this.#bytes += prepared.bytes
      this.#items.push({ item: prepared.value, attempts: 0, bytes: prepared.bytes })
    }
    this.#incoming = done === incoming.length ? [] : incoming.slice(done)
    if (this.#incoming.length > 0) this.#schedule()
  }

  #pump(): void {
    if (this.#stopped || this.#waitingFor !== null) return
    this.#prepareIncoming()
    const wait = this.#pausedUntil - Date.now()
    if (wait > 0) {
      if (!this.#timer) {
        this.#timer = setTimeout(() => {
          this.#timer = null
          this.#sliceStarted = performance.now()
          this.#pump()
        }, wait)
        this.#timer.unref()
      }
      return
    }
    while (this.#inFlight < this.#options.concurrency && this.#head < this.#items.length) {
      const entry = this.#items[this.#head]
      // slots before #head are cut off only at compaction (past 1,024 of them): until then a
      // handled item would stay referenced
      ;(this.#items as Array<Entry<P> | undefined>)[this.#head++] = undefined
      this.#inFlight++
      void this.#run(entry)
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    this.#checkIdle()
  }

  async #run(entry: Entry<P>): Promise<void> {
    let kept = false
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
      if (decision === 'requeue') {
        this.#items.push(entry)
        kept = true
      }
      if (decision === 'retry') {
        // back to the front, and pause everything: the store is likely down for all items alike
        this.#items.splice(this.#head, 0, entry)
        kept = true
        // the other records in flight fail with the same outage: one pause, one step of backoff,
        // for them all (each doubling it would have eight failures wait 25 s)
        if (this.#pausedUntil <= Date.now()) {
          this.#pausedUntil = Date.now() + this.#backoff
          this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS)
        }
      }
    } finally {
      this.#inFlight--
      if (!kept) this.#bytes -= entry.bytes
    }
    // a store that answers at once (memory, file) would chain the whole backlog in one stretch of
    // promise callbacks: once the slice is used, the rest waits for a turn of its own
    if (this.#sliceUsed()) this.#schedule()
    else this.#pump()
  }

  #checkIdle(): void {
    if (this.size === 0) this.#idle.settle()
  }
}
