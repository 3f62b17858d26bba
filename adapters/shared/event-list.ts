/**
 * The events of one issue as stores hold them: entries sorted oldest first by (time, event id),
 * each with the event's JSON (so every read hands out a fresh copy). Paging, neighbours and
 * retention work on such a list the same way in every in-process store.
 */
import type { EventPage, FaultlineEvent, Retention } from '../../lib/types.js'
import { eventJson } from '../../common/event-json.js'
import { decodeCursor, encodeCursor, isAfter } from './cursor.js'
import { pageLimit } from './arguments.js'

export interface EventEntry {
  /** the event's timestamp in ms */
  t: number
  id: string
  json: string
}

/** The entry to store for an event: an unparseable timestamp is replaced by the time of recording. */
export function toEntry(event: FaultlineEvent, now: number): EventEntry {
  const parsed = Date.parse(event.timestamp)
  if (!Number.isNaN(parsed)) return { t: parsed, id: event.event_id, json: eventJson(event) }
  return { t: now, id: event.event_id, json: JSON.stringify({ ...event, timestamp: new Date(now).toISOString() }) }
}

/** An entry from a stored JSON line, or null if the line is not an event (a torn write). */
export function parseEntry(line: string): EventEntry | null {
  try {
    const event = JSON.parse(line) as FaultlineEvent
    const t = Date.parse(event?.timestamp)
    if (typeof event.event_id !== 'string' || Number.isNaN(t)) return null
    return { t, id: event.event_id, json: line }
  } catch {
    return null
  }
}

function before(a: EventEntry, b: EventEntry): boolean {
  return a.t < b.t || (a.t === b.t && a.id < b.id)
}

/** Inserts in order; events mostly arrive in time order, so this is usually a push. */
export function insertEntry(list: EventEntry[], entry: EventEntry): void {
  let lo = 0
  let hi = list.length
  if (hi === 0 || before(list[hi - 1], entry)) {
    list.push(entry)
    return
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (before(list[mid], entry)) lo = mid + 1
    else hi = mid
  }
  list.splice(lo, 0, entry)
}

/** Sorts entries oldest first (for lists read back from disk). */
export function sortEntries(list: EventEntry[]): EventEntry[] {
  return list.sort((a, b) => a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** One page, newest first. */
export function pageEntries(list: EventEntry[], options?: { limit?: number; cursor?: string | null }): EventPage {
  const limit = pageLimit(options?.limit)
  const position = decodeCursor('events', options?.cursor)
  const events: FaultlineEvent[] = []
  let i = list.length - 1
  if (position !== null) while (i >= 0 && !isAfter(position, list[i].t, list[i].id)) i--
  let last: EventEntry | null = null
  for (; i >= 0 && events.length < limit; i--) {
    events.push(JSON.parse(list[i].json) as FaultlineEvent)
    last = list[i]
  }
  return { events, nextCursor: i >= 0 && last !== null ? encodeCursor('events', { value: last.t, id: last.id }) : null }
}

export function findEntry(list: EventEntry[], eventId: unknown): FaultlineEvent | null {
  if (typeof eventId !== 'string') return null
  const entry = list.find((e) => e.id === eventId)
  return entry ? (JSON.parse(entry.json) as FaultlineEvent) : null
}

export function neighborsOf(list: EventEntry[], eventId: unknown): { older: string | null; newer: string | null } | null {
  if (typeof eventId !== 'string') return null
  const i = list.findIndex((e) => e.id === eventId)
  if (i < 0) return null
  return { older: i > 0 ? list[i - 1].id : null, newer: i < list.length - 1 ? list[i + 1].id : null }
}

/** How many of the oldest entries retention drops: beyond the newest `maxEventsPerIssue`, or older than `maxAgeMs`. */
export function prunable(list: EventEntry[], retention: Retention, now: number): number {
  let drop = Math.max(0, list.length - retention.maxEventsPerIssue)
  const cutoff = now - retention.maxAgeMs
  while (drop < list.length && list[drop].t < cutoff) drop++
  return drop
}

/** Merges entry lists (a file read and events not yet written), dropping duplicates by event id; oldest first. */
export function mergeEntries(...lists: EventEntry[][]): EventEntry[] {
  const byId = new Map<string, EventEntry>()
  for (const list of lists) for (const entry of list) byId.set(entry.id, entry)
  return sortEntries([...byId.values()])
}
