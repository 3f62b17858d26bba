/** What a cap hands over when a period that held alerts back ends. */
export interface HeldBack<T> {
  /** the first `keep` held-back items */
  items: T[]
  /** how many were held back in all */
  total: number
  from: Date
  until: Date
}

export interface CapOptions<T> {
  /** sends allowed per period; the summary counts as one send of the period it opens */
  max: number
  periodMs: number
  /** how many held-back items to remember by name; the rest are only counted */
  keep: number
  onSummary: (held: HeldBack<T>) => void
}

/**
 * A global cap on alerts per period (an hour by default). Past the cap, alerts are held back and
 * summarised once the period ends, so an error storm sends at most `max` messages an hour, and
 * memory holds at most `keep` of them.
 */
export class AlertCap<T> {
  #o: CapOptions<T>
  #periodStart = 0
  #sent = 0
  #held: T[] = []
  #total = 0
  #heldSince = 0
  #timer: NodeJS.Timeout | null = null

  constructor(options: CapOptions<T>) {
    this.#o = options
  }

  /** alerts held back and not summarised yet */
  get held(): number {
    return this.#total
  }

  /** True when the alert may be sent now; false when it was held back for the summary. */
  take(item: T): boolean {
    const now = Date.now()
    if (now - this.#periodStart >= this.#o.periodMs) this.#endPeriod(now)
    if (this.#sent < this.#o.max) {
      this.#sent++
      return true
    }
    if (this.#total === 0) this.#heldSince = now
    this.#total++
    if (this.#held.length < this.#o.keep) this.#held.push(item)
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.#endPeriod(Date.now()), this.#periodStart + this.#o.periodMs - now)
      this.#timer.unref()
    }
    return false
  }

  /** Summarises what is held back now (on close), without waiting for the period to end. */
  summarizeNow(): void {
    if (this.#total > 0) this.#endPeriod(Date.now())
    this.stop()
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #endPeriod(now: number): void {
    this.stop()
    const held = this.#total
    if (held > 0) {
      const summary: HeldBack<T> = { items: this.#held, total: held, from: new Date(this.#heldSince), until: new Date(now) }
      this.#held = []
      this.#total = 0
      this.#o.onSummary(summary)
    }
    this.#periodStart = now
    this.#sent = held > 0 ? 1 : 0
  }
}
