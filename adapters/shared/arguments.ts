/**
 * Argument checks shared by every store, so that they all refuse the same bad input with the
 * same message (the panel turns these TypeErrors into 400 answers).
 */
import { DAY, HOUR, parseDuration } from '../../common/duration.js'
import { ISSUE_ID, NOTE_MAX_LENGTH, SORTS, STATUSES, type HistogramOptions, type IgnoreUntil, type Issue, type IssueSort, type IssueStatus, type IssueUpdate, type ListIssuesOptions, type MaintainOptions, type Retention } from '../../lib/types.js'

export const DEFAULT_LIMIT = 25
export const MAX_LIMIT = 100
export const MAX_BUCKETS = 1000

/** True for a string that can be an issue id; anything else is "not found" for lookups. */
export function isIssueId(id: unknown): id is string {
  return typeof id === 'string' && ISSUE_ID.test(id)
}

/** A page size: default 25, at most 100 (bigger values are cut to 100). */
export function pageLimit(limit: unknown): number {
  if (limit === undefined || limit === null) return DEFAULT_LIMIT
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 1) {
    throw new TypeError(`limit must be a number from 1 to ${MAX_LIMIT}, got ${describe(limit)}`)
  }
  return Math.min(Math.floor(limit), MAX_LIMIT)
}

export interface ListArguments {
  /** 'all' by default when the query names a status itself (is:resolved) */
  status: IssueStatus | 'all'
  sort: IssueSort
  limit: number
  cursor: unknown
  q: string
}

/** Checks listIssues options; `statusFromQuery` says whether `q` names a status (then no default filter applies). */
export function listArguments(options: ListIssuesOptions | undefined, statusFromQuery: boolean): ListArguments {
  const o = options ?? {}
  if (typeof o !== 'object') throw new TypeError('listIssues options must be an object like { status, q, sort, limit, cursor }')
  let status: IssueStatus | 'all' = statusFromQuery ? 'all' : 'unresolved'
  if (o.status !== undefined && o.status !== null) {
    if (o.status !== 'all' && !STATUSES.includes(o.status)) {
      throw new TypeError(`status must be one of ${STATUSES.join(', ')} or all, got ${describe(o.status)}`)
    }
    status = o.status
  }
  const sort = o.sort ?? 'lastSeen'
  if (!SORTS.includes(sort)) throw new TypeError(`sort must be one of ${SORTS.join(', ')}, got ${describe(sort)}`)
  if (o.q !== undefined && o.q !== null && typeof o.q !== 'string') throw new TypeError(`q must be a string, got ${describe(o.q)}`)
  return { status, sort, limit: pageLimit(o.limit), cursor: o.cursor, q: o.q ?? '' }
}

/** The value an issue is sorted by, as a number (times in milliseconds). */
export function sortValue(issue: Issue, sort: IssueSort): number {
  switch (sort) {
    case 'lastSeen': return Date.parse(issue.lastSeen)
    case 'firstSeen': return Date.parse(issue.firstSeen)
    case 'events': return issue.count
    case 'users': return issue.userCount
  }
}

/** What an update does once checked: the new status, who made it and, for ignores, the end as absolute targets. */
export type CheckedUpdate = (
  | { status: 'unresolved' }
  | { status: 'resolved'; inRelease?: string }
  | { status: 'ignored'; until: { events: number } | { users: number } | { forMs: number } | null }
) & { actor: string }

/** actors and release names are cut to these lengths */
export const ACTOR_MAX_LENGTH = 100
const RELEASE_MAX_LENGTH = 200
/** the actor of a change made without one: the JSON API's and scripts' */
export const DEFAULT_ACTOR = 'API'

/** Checks an IssueUpdate and says what is wrong with it. */
export function checkUpdate(update: unknown): CheckedUpdate {
  if (typeof update !== 'object' || update === null) throw new TypeError("update must be an object like { status: 'resolved' }")
  const { status, until, inRelease } = update as IssueUpdate
  if (!STATUSES.includes(status)) throw new TypeError(`status must be one of ${STATUSES.join(', ')}, got ${describe(status)}`)
  for (const key of Object.keys(update)) {
    if (key !== 'status' && key !== 'until' && key !== 'inRelease' && key !== 'actor') throw new TypeError(`unknown update field ${describe(key)}; an update has status, until (for ignores), inRelease (for resolves) and actor`)
  }
  const actor = checkActor((update as IssueUpdate).actor ?? DEFAULT_ACTOR)
  if (inRelease !== undefined) {
    if (status !== 'resolved') throw new TypeError(`inRelease only goes with status 'resolved', not ${describe(status)}`)
    if (typeof inRelease !== 'string' || inRelease.trim() === '') throw new TypeError(`inRelease must be a release name (a non-empty string), got ${describe(inRelease)}`)
    // cut, it could never equal the release of the events it is compared with
    if (inRelease.length > RELEASE_MAX_LENGTH) throw new TypeError(`inRelease must be at most ${RELEASE_MAX_LENGTH} characters, got ${inRelease.length}`)
  }
  if (status !== 'ignored') {
    if (until !== undefined && until !== null) throw new TypeError(`until only goes with status 'ignored', not ${describe(status)}`)
    if (status === 'resolved' && inRelease !== undefined) return { status, inRelease, actor }
    return { status, actor }
  }
  if (until === undefined || until === null) return { status, until: null, actor }
  const hint = "until must be one of { events: N }, { users: N } or { for: '1d' }"
  if (typeof until !== 'object' || Object.keys(until).length !== 1) throw new TypeError(`${hint}, got ${describe(until)}`)
  if ('events' in until || 'users' in until) {
    const n = 'events' in until ? until.events : (until as { users: number }).users
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new TypeError(`${hint}; N must be a positive integer, got ${describe(n)}`)
    return { status, until: 'events' in until ? { events: n } : { users: n }, actor }
  }
  if ('for' in until) {
    const ms = parseDuration(until.for)
    if (ms === null) throw new TypeError(`until.for must be a duration like '30m', '1h' or '7d', got ${describe(until.for)}`)
    return { status, until: { forMs: ms }, actor }
  }
  throw new TypeError(`${hint}, got ${describe(until)}`)
}

/** Who made a change: a non-empty string, cut to ACTOR_MAX_LENGTH. */
export function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor.trim() === '') throw new TypeError(`actor must be a non-empty string (a user name, 'panel' or 'API'), got ${describe(actor)}`)
  return actor.trim().slice(0, ACTOR_MAX_LENGTH)
}

/** Checks addNote's note: its text trimmed, at most NOTE_MAX_LENGTH characters (a longer one is refused, not cut), and its actor. */
export function checkNote(note: unknown): { text: string; actor: string } {
  if (typeof note !== 'object' || note === null) throw new TypeError("a note must be an object like { text: 'Fixed by the retry', actor: 'ann' }")
  const { text, actor } = note as { text?: unknown; actor?: unknown }
  if (typeof text !== 'string' || text.trim() === '') throw new TypeError(`a note's text must be a non-empty string, got ${describe(text)}`)
  const trimmed = text.trim()
  if (trimmed.length > NOTE_MAX_LENGTH) throw new TypeError(`a note holds at most ${NOTE_MAX_LENGTH.toLocaleString('en-US')} characters; this one has ${trimmed.length.toLocaleString('en-US')}`)
  return { text: trimmed, actor: checkActor(actor) }
}

/** Checks noteRuleFired's arguments; the time in ms. */
export function checkRuleFired(ruleKey: unknown, at: unknown): { ruleKey: string; at: number } {
  if (typeof ruleKey !== 'string' || ruleKey === '' || ruleKey.length > 1000) throw new TypeError(`a rule key must be a non-empty string of at most 1000 characters, got ${describe(ruleKey)}`)
  return { ruleKey, at: checkDate('at', at) }
}

/** setting names and values are bounded: they live in the store's first line (file) or one row */
export const SETTING_NAME_MAX_LENGTH = 200
export const SETTING_VALUE_MAX_LENGTH = 10_000

/** Checks claimSetting's arguments. */
export function checkSetting(name: unknown, value: unknown): { name: string; value: string } {
  if (typeof name !== 'string' || name === '' || name.length > SETTING_NAME_MAX_LENGTH) throw new TypeError(`a setting name must be a non-empty string of at most ${SETTING_NAME_MAX_LENGTH} characters, got ${describe(name)}`)
  if (typeof value !== 'string' || value.length > SETTING_VALUE_MAX_LENGTH) throw new TypeError(`a setting value must be a string of at most ${SETTING_VALUE_MAX_LENGTH} characters, got ${describe(value)}`)
  return { name, value }
}

/** Turns a checked ignore end into the absolute targets stored on the issue. */
export function ignoreTargets(until: Extract<CheckedUpdate, { status: 'ignored' }>['until'], issue: Issue, now: number): IgnoreUntil | null {
  if (until === null) return null
  if ('events' in until) return { count: issue.count + until.events }
  if ('users' in until) return { userCount: issue.userCount + until.users }
  return { at: new Date(now + until.forMs).toISOString() }
}

/** Checks histogram options; returns the bucket size in ms, the count and the end time. */
export function histogramArguments(options: HistogramOptions): { size: number; buckets: number; now: number } {
  if (typeof options !== 'object' || options === null) throw new TypeError("histogram options must be an object like { interval: 'hour', buckets: 24 }")
  const size = options.interval === 'hour' ? HOUR : options.interval === 'day' ? DAY : 0
  if (!size) throw new TypeError(`interval must be 'hour' or 'day', got ${describe(options.interval)}`)
  const { buckets } = options
  if (typeof buckets !== 'number' || !Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new TypeError(`buckets must be an integer from 1 to ${MAX_BUCKETS}, got ${describe(buckets)}`)
  }
  const now = options.now === undefined ? Date.now() : checkDate('now', options.now)
  return { size, buckets, now }
}

/** Milliseconds of a Date argument, or a TypeError naming it. */
export function checkDate(name: string, value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : NaN
  if (Number.isNaN(ms)) throw new TypeError(`${name} must be a valid Date, got ${describe(value)}`)
  return ms
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)
  if (typeof value === 'object' && value !== null) {
    try { return JSON.stringify(value).slice(0, 60) } catch { return 'an object' }
  }
  return String(value)
}

export const DEFAULT_RETENTION: Retention = { maxEventsPerIssue: 100, maxAgeMs: 90 * DAY }

/** Checks a Retention ({ maxEventsPerIssue, maxAgeMs }). */
export function checkRetention(retention: unknown): Retention {
  const r = retention as Retention
  if (typeof r !== 'object' || r === null || !Number.isInteger(r.maxEventsPerIssue) || r.maxEventsPerIssue < 1 || typeof r.maxAgeMs !== 'number' || !(r.maxAgeMs > 0)) {
    throw new TypeError(`retention must be { maxEventsPerIssue: a positive integer, maxAgeMs: a positive number }, got ${describe(retention)}`)
  }
  return { maxEventsPerIssue: r.maxEventsPerIssue, maxAgeMs: r.maxAgeMs }
}

/** Checks maintain options; times in ms. */
export function maintainArguments(options: MaintainOptions | undefined, current: Retention): { now: number; retention: Retention; autoResolveBefore: number | null } {
  const o = options ?? {}
  if (typeof o !== 'object') throw new TypeError('maintain options must be an object like { now, retention, autoResolveBefore }')
  return {
    now: o.now === undefined ? Date.now() : checkDate('now', o.now),
    retention: o.retention === undefined ? current : checkRetention(o.retention),
    autoResolveBefore: o.autoResolveBefore === undefined || o.autoResolveBefore === null ? null : checkDate('autoResolveBefore', o.autoResolveBefore),
  }
}
