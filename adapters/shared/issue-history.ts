/**
 * What an issue remembers beyond its counts, for the memory and file stores: its activity log
 * (first seen, status changes, regressions, notes) and the users it affected, each with the fields
 * of their latest event. Both are bounded per issue, so an issue with a long life or a million
 * users keeps a few hundred kilobytes at most:
 * - the log keeps its first_seen line and the latest MAX_ACTIVITY others; consecutive
 *   events_pruned lines merge into one;
 * - users are detailed for the MAX_USER_DETAILS with the most events (the most recent among
 *   equals); past that, the others are dropped from the list a hundred at a time (userCount stays
 *   exact: it is kept apart).
 */
import type { Activity, ActivityPage, AffectedUser, User, UserPage } from '../../lib/types.js'
import { USER_SEARCH_FIELDS, type UserSearchField } from '../../common/search.js'
import { decodeCursor, encodeCursor, isAfter } from './cursor.js'
import { pageLimit } from './arguments.js'

export const MAX_ACTIVITY = 500
export const MAX_USER_DETAILS = 1000
/** the list may grow this far past MAX_USER_DETAILS before it is cut back, so cutting is rare */
const USER_DETAILS_SLACK = 100

export interface ActivityLog {
  lines: Activity[]
  /** the id of the next line */
  next: number
}

/** A line without its id, as callers describe it. */
export type ActivityLine = Omit<Activity, 'id'>

/** Appends a line (merging it into a last events_pruned line), keeping the log bounded; returns it. */
export function appendActivity(log: ActivityLog, line: ActivityLine): Activity {
  const last = log.lines[log.lines.length - 1]
  if (line.kind === 'events_pruned' && last?.kind === 'events_pruned') {
    last.count = (last.count ?? 0) + (line.count ?? 0)
    last.at = line.at
    return last
  }
  const added: Activity = { id: String(log.next), ...line }
  log.next += 1
  log.lines.push(added)
  const firstKept = log.lines[0]?.kind === 'first_seen' ? 1 : 0
  if (log.lines.length - firstKept > MAX_ACTIVITY) log.lines.splice(firstKept, log.lines.length - firstKept - MAX_ACTIVITY)
  return added
}

/** One page of the log, oldest first. */
export function pageActivity(log: ActivityLog, options?: { limit?: number; cursor?: string | null }): ActivityPage {
  const limit = pageLimit(options?.limit)
  const position = decodeCursor('activity', options?.cursor)
  const rest = position === null ? log.lines : log.lines.filter((line) => Number(line.id) > position.value)
  const page = rest.slice(0, limit)
  const last = page[page.length - 1]
  return {
    activity: page.map(copyActivity),
    nextCursor: rest.length > limit ? encodeCursor('activity', { value: Number(last.id), id: '' }) : null,
  }
}

export function copyActivity(line: Activity): Activity {
  return line.until ? { ...line, until: { ...line.until } } : { ...line }
}

/** One affected user, under the hash of its distinct-user key. */
export interface Person {
  key: string
  user: User
  count: number
  first: number
  last: number
}

/**
 * Counts an event of a user: its fields are taken when it is the user's latest. Without fields (the
 * file store's journal leaves out fields that are listed already) the listed ones stay; a user not
 * listed any more by then (cut from a list past its bound) comes back with its key alone.
 */
export function notePerson(people: Map<string, Person>, hash: string, seen: { key: string; user?: User }, t: number, times: number): void {
  const person = people.get(hash)
  if (person === undefined) {
    people.set(hash, { key: seen.key, user: seen.user ?? {}, count: times, first: t, last: t })
    if (people.size > MAX_USER_DETAILS + USER_DETAILS_SLACK) keepBusiest(people)
    return
  }
  person.count += times
  if (t < person.first) person.first = t
  if (t >= person.last) {
    person.last = t
    if (seen.user !== undefined) person.user = seen.user
  }
}

/** Cuts the list back to the MAX_USER_DETAILS users with the most events, the most recent among equals. */
function keepBusiest(people: Map<string, Person>): void {
  const ranked = [...people].sort(([, a], [, b]) => b.count - a.count || b.last - a.last)
  for (const [hash] of ranked.slice(MAX_USER_DETAILS)) people.delete(hash)
}

/** One page of users: most events first, ties in a fixed order (by key hash). */
export function pageUsers(people: Map<string, Person>, options?: { limit?: number; cursor?: string | null }): UserPage {
  const limit = pageLimit(options?.limit)
  const position = decodeCursor('users', options?.cursor)
  const rows = [...people].filter(([hash, person]) => position === null || isAfter(position, person.count, hash))
  rows.sort(([ha, a], [hb, b]) => b.count - a.count || (ha < hb ? 1 : ha > hb ? -1 : 0))
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return {
    users: page.map(([, person]) => affectedUser(person)),
    nextCursor: rows.length > limit ? encodeCursor('users', { value: last[1].count, id: last[0] }) : null,
  }
}

function affectedUser(person: Person): AffectedUser {
  return { key: person.key, user: structuredClone(person.user), count: person.count, firstSeen: new Date(person.first).toISOString(), lastSeen: new Date(person.last).toISOString() }
}

/** Does a listed user have this (lowercased) value in `field`, or in any searchable field when null? */
export function hasPerson(people: Map<string, Person>, field: UserSearchField | null, value: string): boolean {
  const fields: readonly UserSearchField[] = field === null ? USER_SEARCH_FIELDS : [field]
  for (const person of people.values()) {
    for (const f of fields) {
      const v = person.user[f]
      if ((typeof v === 'string' || typeof v === 'number') && String(v).toLowerCase() === value) return true
    }
  }
  return false
}
