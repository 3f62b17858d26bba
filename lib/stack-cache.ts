/**
 * Values by a stack's text, the oldest going first past a bound: a call site failing again and
 * again is parsed once. Entries are found by the text's length and then compared: a stack's text
 * is a new string on every error, and hashing it for a Map costs about a nanosecond a character on
 * every event, while comparing it with the one kept is a fraction of that.
 */
import { ownCopy } from './own-copy.js'

interface Entry<T> {
  text: string
  value: T
}

export class StackCache<T> {
  #byLength = new Map<number, Array<Entry<T>>>()
  #order: Array<Entry<T>> = []
  #limit: number

  constructor(limit: number) {
    this.#limit = limit
  }

  get(text: string): T | undefined {
    const alike = this.#byLength.get(text.length)
    if (alike === undefined) return undefined
    for (const entry of alike) if (entry.text === text) return entry.value
    return undefined
  }

  /** Keeps a copy of `text` of its own: it is often a slice of the whole stack, message included. */
  set(text: string, value: T): void {
    if (this.#order.length >= this.#limit) this.#forget(this.#order.shift()!)
    const entry = { text: ownCopy(text), value }
    this.#order.push(entry)
    const alike = this.#byLength.get(text.length)
    if (alike === undefined) this.#byLength.set(text.length, [entry])
    else alike.push(entry)
  }

  #forget(entry: Entry<T>): void {
    const alike = this.#byLength.get(entry.text.length)!
    alike.splice(alike.indexOf(entry), 1)
    if (alike.length === 0) this.#byLength.delete(entry.text.length)
  }
}
