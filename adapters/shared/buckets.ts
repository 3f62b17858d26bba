/**
 * Event counts per time bucket (minute, hour or day), keeping only a window of buckets behind the
 * newest one seen, so that an issue's counters stay bounded however long it lives.
 */
export class BucketCounts {
  #size: number
  #keep: number
  #counts = new Map<number, number>()
  #newest = -Infinity

  /** `size` is the bucket length in ms; `keep` how many buckets up to the newest are kept. */
  constructor(size: number, keep: number, pairs?: Array<[number, number]>) {
    this.#size = size
    this.#keep = keep
    for (const [key, count] of pairs ?? []) {
      this.#counts.set(key, count)
      if (key > this.#newest) this.#newest = key
    }
  }

  /** Counts `n` events at time `t` (ms); too old for the window, they are not counted here. */
  add(t: number, n = 1): void {
    const key = Math.floor(t / this.#size)
    if (key <= this.#newest - this.#keep) return
    const count = this.#counts.get(key)
    if (count !== undefined) {
      this.#counts.set(key, count + n)
      return
    }
    this.#counts.set(key, n)
    if (key > this.#newest) {
      this.#newest = key
      // a new newest bucket may push old ones out of the window; this runs once per bucket, not per event
      for (const old of this.#counts.keys()) if (old <= key - this.#keep) this.#counts.delete(old)
    }
  }

  /** Counts of `buckets` buckets ending with the one that holds `end` (ms), oldest first. */
  series(end: number, buckets: number): number[] {
    const last = Math.floor(end / this.#size)
    const out = new Array<number>(buckets).fill(0)
    for (const [key, count] of this.#counts) {
      const i = key - (last - buckets + 1)
      if (i >= 0 && i < buckets) out[i] = count
    }
    return out
  }

  /** Events in buckets at or after the one holding `t`; `covers` says whether the window reaches back to it. */
  since(t: number): { count: number; covers: boolean } {
    const first = Math.floor(t / this.#size)
    let count = 0
    for (const [key, n] of this.#counts) if (key >= first) count += n
    return { count, covers: this.#newest === -Infinity || first > this.#newest - this.#keep }
  }

  toJSON(): Array<[number, number]> {
    return [...this.#counts]
  }
}
