/** What a cap hands over for one group of alerts held back in a period that ended. */
export interface HeldBack<T> {
  /** the group given to `take` ('' by default) */
  group: string
  /** the group's first `keep` held-back items */
  items: T[]
  /** how many of the group were held back in all */
  total: number
  from: Date
  until: Date
}

export interface CapOptions<T> {
  /** sends allowed per period; each summary counts as one send of the period it opens */
  max: number
  periodMs: number
  /** how many held-back items of each group to remember by name; the rest are only counted */
  keep: number
  /** one entry per group, in the order each group was first held back */
  onSummary: (held: Array<HeldBack<T>>) => void
}

interface Group<T> {
  items: T[]
  total: number
  since: number
}

/**
 * A global cap on alerts per period (an hour by default). Past the cap, alerts are held back and
 * summarised once the period ends, one summary per group, so an error storm sends at most `max`
 * messages an hour (or one per group, if there are more groups), and memory holds at most `keep`
 * items of each group.
 */
export class AlertCap<T> {
  #o: CapOptions<T>
  #periodStart = 0
  #sent = 0
  #groups = new Map<string, Group<T>>()
  #total = 0
  #timer: NodeJS.Timeout | null = null

  constructor(options: CapOptions<T>) {
    this.#o = options
  }

  /** alerts held back and not summarised yet */
  get held(): number {
    return this.#total
  }

  /**
   * True when the alert may be sent now; false when it was held back for the summary. Items of
   * different groups (alerts for different recipients) are never summarised together; the number
   * of groups should stay small, as each remembers up to `keep` items.
   */
  take(item: T, group = ''): boolean {
    const now = Date.now()
    if (now - this.#periodStart >= this.#o.periodMs) this.#endPeriod(now)
    if (this.#sent < this.#o.max) {
      this.#sent++
      return true
    }
    let g = this.#groups.get(group)
    if (!g) {
      g = { items: [], total: 0, since: now }
      this.#groups.set(group, g)
    }
    this.#total++
    g.total++
    if (g.items.length < this.#o.keep) g.items.push(item)
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
    const held = [...this.#groups].map(([group, g]): HeldBack<T> => ({ group, items: g.items, total: g.total, from: new Date(g.since), until: new Date(now) }))
    this.#groups = new Map()
    this.#total = 0
    if (held.length > 0) this.#o.onSummary(held)
    this.#periodStart = now
    this.#sent = held.length
  }
}
