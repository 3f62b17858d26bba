/**
 * How many events of one issue are built in full and kept: the store keeps at most the retention's
 * `maxEventsPerIssue` of an issue, so building more than that many a minute is work for events it
 * would trim at once. Each issue has a budget of that many a minute, refilled evenly (a token
 * bucket), so a storm keeps events spread over its whole length, the newest at most a moment old.
 * Past the budget an event is counted from its facts alone and its body shed (see buildEventFacts).
 */
import { MINUTE } from '../common/duration.js'
/** issues with a budget in memory; the least recently used go first (and start full again) */
const MAX_ISSUES = 10_000

export class BodyBudget {
  #perMinute: number
  #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(perMinute: number) {
    this.#perMinute = perMinute
  }

  /** Takes one from the issue's budget: true when its event may be kept in full. */
  take(issueId: string, now = Date.now()): boolean {
    let bucket = this.#buckets.get(issueId)
    if (bucket === undefined) {
      bucket = { tokens: this.#perMinute, at: now }
      if (this.#buckets.size >= MAX_ISSUES) this.#buckets.delete(this.#buckets.keys().next().value!)
    } else {
      this.#buckets.delete(issueId)
      bucket.tokens = Math.min(this.#perMinute, bucket.tokens + ((now - bucket.at) * this.#perMinute) / MINUTE)
      bucket.at = now
    }
    this.#buckets.set(issueId, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}
