/**
 * Errors captured while the capture queue is full: each is counted from its facts (grouping, user,
 * tags, time), never dropped, and identical facts within one second are folded into one entry with
 * a count. A storm of one error from one place then costs one entry per second and user, however
 * many arrive, so memory stays bounded while every error is still counted.
 */
export interface Folded<V> {
  value: V
  /** how many errors this entry stands for */
  times: number
}

export class Overflow<V> {
  #entries = new Map<string, Folded<V>>()
  #count = 0

  /** errors waiting, folded or not */
  get count(): number {
    return this.#count
  }

  get size(): number {
    return this.#entries.size
  }

  /** Counts one error under `key`, making its entry with `make` the first time. */
  add(key: string, make: () => V): void {
    const entry = this.#entries.get(key)
    if (entry !== undefined) entry.times += 1
    else this.#entries.set(key, { value: make(), times: 1 })
    this.#count += 1
  }

  /** Takes up to `max` entries, oldest first. */
  take(max: number): Array<Folded<V>> {
    const out: Array<Folded<V>> = []
    for (const [key, entry] of this.#entries) {
      if (out.length >= max) break
      this.#entries.delete(key)
      this.#count -= entry.times
      out.push(entry)
    }
    return out
  }
}
