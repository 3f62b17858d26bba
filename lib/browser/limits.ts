/**
 * The ingest's rate limits, in one-minute windows: events per client address, and new
 * issues across all clients. Memory stays bounded whatever the clients do: a window holds at
 * most MAX_CLIENTS addresses (past that, the rest share one count), and at most MAX_KNOWN
 * groups are remembered as seen.
 */

const WINDOW_MS = 60_000
const MAX_CLIENTS = 10_000
const MAX_KNOWN = 10_000
/** where the addresses past MAX_CLIENTS are counted, together */
const CROWD = '\0crowd'

export class RateLimits {
  readonly #eventsPerMinute: number
  readonly #newIssuesPerMinute: number
  #windowStart = 0
  #perClient = new Map<string, number>()
  #requestsPerClient = new Map<string, number>()
  #newIssues = 0
  /** groups seen lately, oldest first (a Map keeps insertion order) */
  #known = new Map<string, true>()

  constructor(options: { eventsPerMinute: number; newIssuesPerMinute: number }) {
    this.#eventsPerMinute = options.eventsPerMinute
    this.#newIssuesPerMinute = options.newIssuesPerMinute
  }

  /** Seconds until the current window ends: what Retry-After says. */
  retryAfter(now = Date.now()): number {
    this.#roll(now)
    return Math.max(1, Math.ceil((this.#windowStart + WINDOW_MS - now) / 1000))
  }

  /** Takes one event of this client's allowance; false when it is spent for this minute. */
  takeEvent(client: string, now = Date.now()): boolean {
    this.#roll(now)
    return take(this.#perClient, client, this.#eventsPerMinute)
  }

  /**
   * Takes one request of this client's allowance, before its body is read: pages also send
   * sessions and reports, so it is ten times the events', and it bounds the parsing a client
   * can cause.
   */
  takeRequest(client: string, now = Date.now()): boolean {
    this.#roll(now)
    return take(this.#requestsPerClient, client, this.#eventsPerMinute * 10)
  }

  /**
   * Whether an event of this group may be recorded: a group seen lately may, a new one takes one
   * of the minute's new issues, and is refused when they are spent. Groups are the events' as
   * sent (before their frames are mapped), which are at least as many as the issues they make.
   */
  admitGroup(group: string, now = Date.now()): boolean {
    this.#roll(now)
    if (this.#known.has(group)) {
      this.#known.delete(group)
      this.#known.set(group, true)
      return true
    }
    if (this.#newIssues >= this.#newIssuesPerMinute) return false
    this.#newIssues += 1
    this.#known.set(group, true)
    if (this.#known.size > MAX_KNOWN) this.#known.delete(this.#known.keys().next().value!)
    return true
  }

  #roll(now: number): void {
    if (now - this.#windowStart < WINDOW_MS) return
    // a window opens with the first request after the last one closed
    this.#windowStart = now
    this.#perClient.clear()
    this.#requestsPerClient.clear()
    this.#newIssues = 0
  }
}

function take(counts: Map<string, number>, client: string, allowance: number): boolean {
  const key = counts.has(client) || counts.size < MAX_CLIENTS ? client : CROWD
  const used = counts.get(key) ?? 0
  // the crowd shares one allowance per hundred addresses, so a spread-out flood still ends
  if (used >= (key === CROWD ? allowance * 100 : allowance)) return false
  counts.set(key, used + 1)
  return true
}
