/**
 * Everything a store knows about issues, kept in memory: the issues themselves, their exact
 * counts and distinct users, tag, release and time-bucket counters, and alert claims. The
 * memory store and the file store share it (the file store persists it with lowdb); events
 * themselves live elsewhere (see event-list.ts), so pruning them never changes a count.
 *
 * Lookups go through Maps only, so ids like `__proto__` are just unknown ids.
 */
import { LEVELS, type Activity, type ActivityPage, type Issue, type IssueNaming, type IssuePage, type IssueUpdate, type ListIssuesOptions, type RecordInput, type RecordResult, type StatusCounts, type TagBreakdown, type HistogramOptions, type Level, type User, type UserPage } from '../../lib/types.js'
import { matchesIssue, mentionsStatus, parseQuery, type IssueFacets } from '../../common/search.js'
import { countedUser, ownTags, userDetails, withImplicitTags } from './counted-facts.js'
import { BucketCounts } from './buckets.js'
import { decodeCursor, encodeCursor, isAfter } from './cursor.js'
import { checkDate, checkNote, checkRuleFired, checkSetting, checkUpdate, histogramArguments, ignoreTargets, isIssueId, listArguments, type CheckedUpdate } from './arguments.js'
import { appendActivity, copyActivity, hasPerson, notePerson, pageActivity, pageUsers, type ActivityLine, type ActivityLog, type Person } from './issue-history.js'
import { DAY, HOUR, MINUTE, SECOND } from '../../common/duration.js'

/** hour buckets reach back 14 days, day buckets 400 days, minute buckets (for countEventsSince) 24 hours */
const KEEP_HOURS = 14 * 24
const KEEP_DAYS = 400
const KEEP_MINUTES = 24 * 60
/** per-second counts cover the last 10 minutes: alert windows that short count from their exact start */
const KEEP_SECONDS = 10 * 60
/** tags are counted for at most this many keys per issue and values per key (the key total stays exact) */
export const MAX_TAG_KEYS = 50
export const MAX_TAG_VALUES = 200
const MAX_RELEASES = 1000
const MAX_ENVIRONMENTS = 100

interface TagCount {
  total: number
  values: Map<string, number>
}

interface IssueState {
  issue: Issue
  first: number
  last: number
  /** how many times the issue regressed; users map to the epoch they were last seen in */
  epoch: number
  users: Map<string, number>
  releases: Set<string>
  firstReleaseAt: number
  lastReleaseAt: number
  tags: Map<string, TagCount>
  /** lowercased `key\0value` pairs, for tag search */
  tagSearch: Set<string>
  hours: BucketCounts
  days: BucketCounts
  minutes: BucketCounts
  /** events the store holds for the issue, and the oldest one's time (kept up to date by the store) */
  stored: number
  oldestStored: number | null
  /** the users it affected, in detail (bounded; see issue-history.ts), by key hash */
  people: Map<string, Person>
  activity: ActivityLog
  /** the serialised state, cached until the next change */
  json: string | null
}

interface Claim {
  issueId: string
  expiresAt: number | null
}

/** The JSON form of one issue's state, as the file store writes it. */
export interface IssueRecord {
  issue: Issue
  epoch: number
  users: Array<[string, number]>
  releases: string[]
  releaseTimes: [number, number]
  tags: Array<[string, number, Array<[string, number]>]>
  hours: Array<[number, number]>
  days: Array<[number, number]>
  minutes: Array<[number, number]>
  stored: [number, number | null]
  /** [hash, key, user, count, first, last] */
  people?: Array<[string, string, User, number, number, number]>
  activity?: ActivityLog
}

export type ClaimRecord = [key: string, issueId: string, expiresAt: number | null]

/** The store-wide state beside the issues: when each rule last fired (ms) and the settings. */
export interface SharedRecord {
  rules: Array<[string, number]>
  settings: Array<[string, string]>
}

interface RecentSeconds {
  counts: BucketCounts
  /** windows starting before this reach back past what was counted here */
  from: number
  /** the newest event counted */
  last: number
}

/** The in-memory state of a store's issues and alert claims. */
export class IssueIndex {
  #issues = new Map<string, IssueState>()
  #claims = new Map<string, Claim>()
  /** when each alert rule last fired (ms), and the settings: store-wide, beside the issues */
  #rules = new Map<string, number>()
  #settings = new Map<string, string>()
  /**
   * Per-second counts of recent events, in memory only: the document stays small, and the minute
   * counts it keeps would let a one-minute window take in events from up to a minute before it.
   */
  #seconds = new Map<string, RecentSeconds>()
  /** issues loaded from the document were counted by an earlier process before this time */
  #openedAt = Date.now()

  /** Upserts the issue for one event and updates every counter; see Store.record. */
  record(input: RecordInput, now = Date.now()): RecordResult {
    return this.apply(factsOf(input, now), now)
  }

  /**
   * Counts one event from its facts: what `record` does, for a store that keeps the facts apart
   * from the event (the file store's journal). Null when the issue is unknown and the facts do not
   * say how to make it.
   */
  apply(facts: RecordFacts, now: number): RecordResult {
    const { t, level } = facts
    let state = this.#issues.get(facts.issueId)
    const isNew = state === undefined
    let isRegression = false
    let unignored = false
    if (state === undefined) {
      if (facts.grouping === undefined) throw new Error(`issue ${facts.issueId} is unknown and the record does not say how to make it`)
      state = newState(facts.issueId, facts.grouping, t, level)
      this.#issues.set(facts.issueId, state)
      appendActivity(state.activity, { kind: 'first_seen', at: new Date(t).toISOString(), actor: 'faultline', eventId: facts.eventId })
    }
    const { issue } = state
    if (reopens(issue, facts.release)) {
      appendActivity(state.activity, { kind: 'regressed', at: new Date(t).toISOString(), actor: 'faultline', eventId: facts.eventId, release: facts.release ?? null, resolvedAt: issue.resolvedAt })
      issue.status = 'unresolved'
      issue.regressed = true
      issue.regressedAt = new Date(t).toISOString()
      issue.resolvedInRelease = null
      issue.countSinceRegression = 0
      issue.usersSinceRegression = 0
      state.epoch += 1
      isRegression = true
    }
    const times = facts.times
    issue.count += times
    issue.countSinceRegression += times
    if (facts.user !== null) {
      const seenIn = state.users.get(facts.user)
      if (seenIn === undefined) issue.userCount += 1
      if (seenIn !== state.epoch) issue.usersSinceRegression += 1
      state.users.set(facts.user, state.epoch)
      if (facts.person !== undefined) notePerson(state.people, facts.user, facts.person, t, times)
    }
    if (t < state.first) {
      state.first = t
      issue.firstSeen = new Date(t).toISOString()
    }
    if (t >= state.last) {
      state.last = t
      issue.lastSeen = new Date(t).toISOString()
      issue.level = level
    }
    noteRelease(state, facts.release, t)
    const platform = facts.platform ?? 'node'
    if (!issue.platforms.includes(platform)) issue.platforms.push(platform)
    const environment = facts.environment
    if (environment !== undefined && environment !== '' && !issue.environments.includes(environment) && issue.environments.length < MAX_ENVIRONMENTS) {
      issue.environments.push(environment)
    }
    countTags(state, facts)
    state.hours.add(t, times)
    state.days.add(t, times)
    state.minutes.add(t, times)
    this.#countSecond(issue.id, t, isNew, times)
    if (facts.shed) {
      issue.shed += times
    } else {
      state.stored += 1
      state.oldestStored = state.oldestStored === null ? t : Math.min(state.oldestStored, t)
    }
    const until = issue.ignoreUntil
    if (issue.status === 'ignored' && until !== null) {
      const ended =
        (until.count !== undefined && issue.count >= until.count) ||
        (until.userCount !== undefined && issue.userCount >= until.userCount) ||
        (until.at !== undefined && Math.max(t, now) >= Date.parse(until.at))
      if (ended) {
        issue.status = 'unresolved'
        issue.ignoreUntil = null
        unignored = true
        appendActivity(state.activity, { kind: 'unignored', at: new Date(Math.max(t, now)).toISOString(), actor: 'faultline' })
      }
    }
    state.json = null
    return { issue: copyIssue(issue), isNew, isRegression, unignored }
  }

  /** A copy of the issue, or null. */
  get(id: unknown): Issue | null {
    const state = this.#state(id)
    return state ? copyIssue(state.issue) : null
  }

  has(id: unknown): boolean {
    return this.#state(id) !== undefined
  }

  /** The issue's status, or undefined for an unknown issue (without copying the issue). */
  statusOf(id: unknown): Issue['status'] | undefined {
    return this.#state(id)?.issue.status
  }

  /** The fields listed for one of the issue's users (by the hash of its key), or undefined when it is not listed. */
  listedUser(id: unknown, userHash: string): User | undefined {
    return this.#state(id)?.people.get(userHash)?.user
  }

  /** One page of issues; see Store.listIssues. */
  list(options?: ListIssuesOptions): IssuePage {
    const query = parseQuery(options?.q)
    const args = listArguments(options, mentionsStatus(query))
    const position = decodeCursor(args.sort, args.cursor)
    const rows: Array<{ value: number; state: IssueState }> = []
    for (const state of this.#issues.values()) {
      if (args.status !== 'all' && state.issue.status !== args.status) continue
      const value = sortValueOf(state, args.sort)
      if (position !== null && !isAfter(position, value, state.issue.id)) continue
      if (!matchesIssue(query, state.issue, facets(state))) continue
      rows.push({ value, state })
    }
    rows.sort((a, b) => b.value - a.value || (a.state.issue.id < b.state.issue.id ? 1 : a.state.issue.id > b.state.issue.id ? -1 : 0))
    const page = rows.slice(0, args.limit)
    const last = page[page.length - 1]
    return {
      issues: page.map((row) => copyIssue(row.state.issue)),
      nextCursor: rows.length > args.limit ? encodeCursor(args.sort, { value: last.value, id: last.state.issue.id }) : null,
    }
  }

  /** Issues matching `q` per status tab. */
  count(q?: string): StatusCounts {
    if (q !== undefined && q !== null && typeof q !== 'string') throw new TypeError('q must be a string')
    const query = parseQuery(q)
    const counts: StatusCounts = { unresolved: 0, resolved: 0, ignored: 0, all: 0 }
    for (const state of this.#issues.values()) {
      if (!matchesIssue(query, state.issue, facets(state))) continue
      counts[state.issue.status] += 1
      counts.all += 1
    }
    return counts
  }

  /** Changes the status; null for an unknown id; a TypeError for a bad update. */
  update(id: unknown, update: IssueUpdate, now = Date.now()): Issue | null {
    return this.applyUpdate(id, checkUpdate(update), now)
  }

  /** `update`, with the update checked already (the file store journals it in this form). */
  applyUpdate(id: unknown, checked: CheckedUpdate, now: number): Issue | null {
    const state = this.#state(id)
    if (!state) return null
    const { issue } = state
    const line: ActivityLine = { kind: checked.status, at: new Date(now).toISOString(), actor: checked.actor }
    issue.resolvedInRelease = null
    if (checked.status === 'ignored') {
      issue.status = 'ignored'
      issue.ignoreUntil = ignoreTargets(checked.until, issue, now)
      line.until = issue.ignoreUntil === null ? null : { ...issue.ignoreUntil }
    } else if (checked.status === 'resolved') {
      issue.status = 'resolved'
      issue.resolvedAt = new Date(now).toISOString()
      issue.regressed = false
      issue.ignoreUntil = null
      if (checked.inRelease !== undefined) {
        issue.resolvedInRelease = checked.inRelease
        line.release = checked.inRelease
      }
    } else {
      issue.status = 'unresolved'
      issue.ignoreUntil = null
    }
    appendActivity(state.activity, line)
    state.json = null
    return copyIssue(issue)
  }

  #countSecond(id: string, t: number, isNew: boolean, times: number): void {
    let recent = this.#seconds.get(id)
    if (recent === undefined) {
      // an issue from the document had events before this process counted seconds
      recent = { counts: new BucketCounts(SECOND, KEEP_SECONDS), from: isNew ? -Infinity : this.#openedAt, last: t }
      this.#seconds.set(id, recent)
    }
    recent.counts.add(t, times)
    recent.last = Math.max(recent.last, t)
  }

  /** Removes the issue and its alert claims. */
  delete(id: unknown): boolean {
    const state = this.#state(id)
    if (!state) return false
    this.#issues.delete(state.issue.id)
    this.#seconds.delete(state.issue.id)
    for (const [key, claim] of this.#claims) if (claim.issueId === state.issue.id) this.#claims.delete(key)
    return true
  }

  histogram(id: unknown, options: HistogramOptions): number[] {
    const { size, buckets, now } = histogramArguments(options)
    const state = this.#state(id)
    if (!state) return new Array<number>(buckets).fill(0)
    return (size === HOUR ? state.hours : state.days).series(now, buckets)
  }

  /**
   * Events at or after `since`: to the second for the last 10 minutes of events this process
   * counted, else to the minute for the last 24 hours, else to the hour.
   */
  countSince(id: unknown, since: Date): number {
    const t = checkDate('since', since)
    const state = this.#state(id)
    if (!state) return 0
    const seconds = this.#seconds.get(state.issue.id)
    if (seconds !== undefined && t >= seconds.from) {
      const exact = seconds.counts.since(t)
      if (exact.covers) return exact.count
    }
    const recent = state.minutes.since(t)
    return recent.covers ? recent.count : state.hours.since(t).count
  }

  tagBreakdown(id: unknown, options?: { limit?: number }): TagBreakdown[] {
    const limit = options?.limit ?? 10
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new TypeError(`limit must be a positive integer, got ${String(limit)}`)
    const state = this.#state(id)
    if (!state) return []
    const out: TagBreakdown[] = []
    for (const [key, tag] of state.tags) {
      const values = [...tag.values]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .slice(0, limit)
        .map(([value, count]) => ({ value, count }))
      out.push({ key, total: tag.total, values })
    }
    return out.sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** True for the first claim of `key`, false while an unexpired claim stands. */
  claim(key: string, options: { issueId: string; expiresAt?: Date }, now = Date.now()): boolean {
    const claim = checkClaim(key, options)
    return this.applyClaim(claim.key, claim.issueId, claim.expiresAt, now)
  }

  /** `claim`, with its arguments checked already; `expiresAt` in ms or null. */
  applyClaim(key: string, issueId: string, expiresAt: number | null, now: number): boolean {
    const standing = this.#claims.get(key)
    if (standing !== undefined && (standing.expiresAt === null || standing.expiresAt > now)) return false
    this.#claims.set(key, { issueId, expiresAt })
    return true
  }

  /** Auto-resolves stale unresolved issues, lifts ignores whose time has passed and drops expired claims. */
  maintain(now: number, autoResolveBefore: number | null): { resolvedIssues: number; unignoredIssues: number; expiredClaims: number } {
    let resolvedIssues = 0
    let unignoredIssues = 0
    let expiredClaims = 0
    for (const state of this.#issues.values()) {
      const { issue } = state
      if (autoResolveBefore !== null && issue.status === 'unresolved' && state.last < autoResolveBefore) {
        issue.status = 'resolved'
        issue.resolvedAt = new Date(now).toISOString()
        issue.regressed = false
        appendActivity(state.activity, { kind: 'auto_resolved', at: new Date(now).toISOString(), actor: 'faultline' })
        state.json = null
        resolvedIssues += 1
      } else if (issue.status === 'ignored' && issue.ignoreUntil?.at !== undefined && Date.parse(issue.ignoreUntil.at) <= now) {
        issue.status = 'unresolved'
        issue.ignoreUntil = null
        appendActivity(state.activity, { kind: 'unignored', at: new Date(now).toISOString(), actor: 'faultline' })
        state.json = null
        unignoredIssues += 1
      }
    }
    // per-second counts of issues quiet for longer than they cover are of no more use
    for (const [id, recent] of this.#seconds) if (recent.last < now - KEEP_SECONDS * SECOND) this.#seconds.delete(id)
    for (const [key, claim] of this.#claims) {
      if (claim.expiresAt !== null && claim.expiresAt <= now) {
        this.#claims.delete(key)
        expiredClaims += 1
      }
    }
    return { resolvedIssues, unignoredIssues, expiredClaims }
  }

  /** How many events the store holds for the issue, and the oldest one's time. */
  storedEvents(id: string): { count: number; oldest: number | null } {
    const state = this.#state(id)
    return state ? { count: state.stored, oldest: state.oldestStored } : { count: 0, oldest: null }
  }

  /** Tells the index that `n` events it counted as stored were shed after all (a full disk). */
  noteShed(id: string, n: number): void {
    const state = this.#state(id)
    if (!state || n <= 0) return
    const shed = Math.min(n, state.stored)
    state.stored -= shed
    state.issue.shed += shed
    state.json = null
  }

  /** Tells the index what the store holds after pruning; `pruned` events deleted by retention go in the activity log. */
  setStoredEvents(id: string, count: number, oldest: number | null, pruned = 0, now = Date.now()): void {
    const state = this.#state(id)
    if (!state) return
    if (pruned > 0) {
      appendActivity(state.activity, { kind: 'events_pruned', at: new Date(now).toISOString(), actor: 'faultline', count: pruned })
      state.json = null
    }
    if (state.stored === count && state.oldestStored === oldest) return
    state.stored = count
    state.oldestStored = oldest
    state.json = null
  }

  /** The issue's affected users, most events first; null for an unknown issue. */
  listUsers(id: unknown, options?: { limit?: number; cursor?: string | null }): UserPage | null {
    const state = this.#state(id)
    return state ? pageUsers(state.people, options) : null
  }

  /** The issue's activity log, oldest first; null for an unknown issue. */
  listActivity(id: unknown, options?: { limit?: number; cursor?: string | null }): ActivityPage | null {
    const state = this.#state(id)
    return state ? pageActivity(state.activity, options) : null
  }

  /** Adds a note to the issue's log; null for an unknown issue; a TypeError for a bad note. */
  addNote(id: unknown, note: { text: string; actor: string }, now = Date.now()): Activity | null {
    const checked = checkNote(note)
    return this.applyNote(id, checked.text, checked.actor, now)
  }

  /** `addNote`, with the note checked already. */
  applyNote(id: unknown, text: string, actor: string, now: number): Activity | null {
    const state = this.#state(id)
    if (!state) return null
    state.json = null
    return copyActivity(appendActivity(state.activity, { kind: 'note', at: new Date(now).toISOString(), actor, text }))
  }

  /** Remembers that a rule fired at `at` (ms), unless it is known to have fired later. */
  noteRuleFired(ruleKey: string, at: Date): void {
    const checked = checkRuleFired(ruleKey, at)
    this.applyRuleFired(checked.ruleKey, checked.at)
  }

  applyRuleFired(ruleKey: string, at: number): void {
    const known = this.#rules.get(ruleKey)
    if (known === undefined || at > known) this.#rules.set(ruleKey, at)
  }

  ruleFirings(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [key, at] of [...this.#rules].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[key] = new Date(at).toISOString()
    return out
  }

  /** The setting's value, storing `value` first when there is none. */
  claimSetting(name: string, value: string): string {
    const checked = checkSetting(name, value)
    return this.applySetting(checked.name, checked.value)
  }

  applySetting(name: string, value: string): string {
    const known = this.#settings.get(name)
    if (known !== undefined) return known
    this.#settings.set(name, value)
    return value
  }

  /** The rule firings and settings, as the file store's document keeps them. */
  sharedRecord(): SharedRecord {
    return { rules: [...this.#rules], settings: [...this.#settings] }
  }

  /** Takes back what `sharedRecord` wrote; anything malformed in it is left out. */
  restoreShared(record: unknown): void {
    const r = record as Partial<SharedRecord> | null | undefined
    for (const entry of Array.isArray(r?.rules) ? r.rules : []) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && Number.isFinite(entry[1])) this.#rules.set(entry[0], entry[1])
    }
    for (const entry of Array.isArray(r?.settings) ? r.settings : []) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string') this.#settings.set(entry[0], entry[1])
    }
  }

  /** Issue ids, in no particular order (a snapshot). */
  ids(): string[] {
    return [...this.#issues.keys()]
  }

  get size(): number {
    return this.#issues.size
  }

  /** The issue's state as JSON (cached until it changes), or null if it is gone. */
  serialize(id: string): string | null {
    const state = this.#issues.get(id)
    if (!state) return null
    state.json ??= JSON.stringify(toRecord(state))
    return state.json
  }

  claimRecords(): ClaimRecord[] {
    return [...this.#claims].map(([key, c]) => [key, c.issueId, c.expiresAt])
  }

  /** Rebuilds an index from what `serialize` and `claimRecords` wrote; throws on malformed input. */
  static restore(issues: unknown, claims: unknown): IssueIndex {
    if (!Array.isArray(issues) || !Array.isArray(claims)) throw new Error('the document has no issues or claims list')
    const index = new IssueIndex()
    for (const record of issues) index.restoreIssue(record)
    for (const claim of claims) index.restoreClaim(claim)
    return index
  }

  /** Adds one issue as `serialize` wrote it; `json` is that text, kept as the cache. Throws on malformed input. */
  restoreIssue(record: unknown, json: string | null = null): string {
    const state = fromRecord(record as IssueRecord)
    state.json = json
    this.#issues.set(state.issue.id, state)
    return state.issue.id
  }

  /** Adds one claim as `claimRecords` wrote it. Throws on malformed input. */
  restoreClaim(claim: unknown): void {
    if (!Array.isArray(claim) || typeof claim[0] !== 'string' || typeof claim[1] !== 'string') throw new Error('malformed alert claim')
    this.#claims.set(claim[0], { issueId: claim[1], expiresAt: typeof claim[2] === 'number' ? claim[2] : null })
  }

  #state(id: unknown): IssueState | undefined {
    return isIssueId(id) ? this.#issues.get(id) : undefined
  }
}

/** Throws a TypeError unless the input has an event with an id and a usable grouping hash. */
/**
 * Whether an event of `release` reopens the issue: it is resolved, and not resolved in the next
 * release with the event of that release or of none (those leave it resolved).
 */
export function reopens(issue: Pick<Issue, 'status' | 'resolvedInRelease'>, release: string | undefined): boolean {
  if (issue.status !== 'resolved') return false
  return issue.resolvedInRelease === null || (release !== undefined && release !== issue.resolvedInRelease)
}

export function checkRecordInput(input: RecordInput): void {
  if (typeof input !== 'object' || input === null) throw new TypeError('record needs { event, grouping, userKey }')
  const { event, grouping } = input
  if (typeof event !== 'object' || event === null || typeof event.event_id !== 'string' || event.event_id === '') {
    throw new TypeError('record needs an event with an event_id')
  }
  if (typeof grouping !== 'object' || grouping === null || !isIssueId(grouping.hash)) {
    throw new TypeError('record needs grouping.hash: 1 to 64 letters, digits, _ or - (the issue id)')
  }
  const times = input.times
  if (times !== undefined && !(Number.isSafeInteger(times) && times >= 1 && (times === 1 || input.shed === true))) {
    throw new TypeError('record times must be a whole number of at least 1, and above 1 only for a shed event')
  }
}


/**
 * What counting one event needs of it, and no more: the file store journals these (a few hundred
 * bytes) rather than the event, and an event shed under load is counted from them alone.
 */
export interface RecordFacts {
  issueId: string
  /** the event's time in ms */
  t: number
  level: Level
  /** the distinct-user key, hashed (see userHash), or null */
  user: string | null
  /** the event's own tags as strings */
  tags: Array<[string, string]>
  environment?: string
  release?: string
  serverName?: string
  /** how to name the issue should this event create it */
  grouping?: IssueNaming
  /** counted, but its body is not kept */
  shed: boolean
  /** how many errors these facts count (see RecordInput.times) */
  times: number
  /** the user's key and fields, for the affected-user list (with `user`); fields left out are the ones listed already */
  person?: { key: string; user?: User }
  /** 'node' when absent */
  platform?: 'node' | 'javascript'
  /** the event's id, for the activity log's first_seen and regressed lines */
  eventId?: string
}

/** The facts of one record input; an unparseable timestamp counts at `now`. */
export function factsOf(input: RecordInput, now: number): RecordFacts {
  checkRecordInput(input)
  const { event, grouping } = input
  const parsed = Date.parse(event.timestamp)
  const tags = ownTags(event.tags)
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
  const { hash, ...naming } = grouping
  return {
    issueId: hash,
    t: Number.isNaN(parsed) ? now : parsed,
    level: LEVELS.includes(event.level) ? event.level : grouping.level,
    user: countedUser(input),
    tags,
    environment: text(event.environment),
    release: text(event.release),
    serverName: text(event.server_name),
    grouping: naming,
    shed: input.shed === true,
    times: input.times ?? 1,
    person: userDetails(input) ?? undefined,
    platform: event.platform === 'javascript' ? 'javascript' : 'node',
    eventId: event.event_id,
  }
}

/** Checks claimAlert's arguments; `expiresAt` in ms or null. */
export function checkClaim(key: unknown, options: unknown): { key: string; issueId: string; expiresAt: number | null } {
  if (typeof key !== 'string' || key === '' || key.length > 1000) throw new TypeError('alert key must be a non-empty string of at most 1000 characters')
  const o = options as { issueId?: unknown; expiresAt?: unknown } | null
  if (typeof o !== 'object' || o === null || typeof o.issueId !== 'string') throw new TypeError('claimAlert needs { issueId } naming the issue the alert is about')
  const expiresAt = o.expiresAt === undefined || o.expiresAt === null ? null : checkDate('expiresAt', o.expiresAt)
  return { key, issueId: o.issueId, expiresAt }
}

function newState(id: string, grouping: IssueNaming, t: number, level: Level): IssueState {
  const iso = new Date(t).toISOString()
  const text = (value: unknown) => (typeof value === 'string' ? value : '')
  return {
    issue: {
      id,
      fingerprint: Array.isArray(grouping.fingerprint) ? grouping.fingerprint.map(String) : [],
      title: text(grouping.title),
      culprit: text(grouping.culprit),
      type: text(grouping.type),
      message: text(grouping.message),
      level,
      status: 'unresolved',
      regressed: false,
      count: 0,
      userCount: 0,
      firstSeen: iso,
      lastSeen: iso,
      firstRelease: null,
      lastRelease: null,
      environments: [],
      resolvedAt: null,
      ignoreUntil: null,
      regressedAt: null,
      countSinceRegression: 0,
      usersSinceRegression: 0,
      shed: 0,
      resolvedInRelease: null,
      platforms: [],
    },
    first: t,
    last: t,
    epoch: 0,
    users: new Map(),
    releases: new Set(),
    firstReleaseAt: Infinity,
    lastReleaseAt: -Infinity,
    tags: new Map(),
    tagSearch: new Set(),
    hours: new BucketCounts(HOUR, KEEP_HOURS),
    days: new BucketCounts(DAY, KEEP_DAYS),
    minutes: new BucketCounts(MINUTE, KEEP_MINUTES),
    stored: 0,
    oldestStored: null,
    people: new Map(),
    activity: { lines: [], next: 1 },
    json: null,
  }
}

function noteRelease(state: IssueState, release: unknown, t: number): void {
  if (typeof release !== 'string' || release === '') return
  if (state.releases.size < MAX_RELEASES) state.releases.add(release.toLowerCase())
  if (t < state.firstReleaseAt) {
    state.firstReleaseAt = t
    state.issue.firstRelease = release
  }
  if (t >= state.lastReleaseAt) {
    state.lastReleaseAt = t
    state.issue.lastRelease = release
  }
}

function countTags(state: IssueState, facts: RecordFacts): void {
  const implicit = { environment: facts.environment, release: facts.release, server_name: facts.serverName, level: facts.level }
  for (const [key, value] of withImplicitTags(facts.tags, implicit)) countTag(state, key, value, facts.times)
}

function countTag(state: IssueState, key: string, value: string, times: number): void {
  let tag = state.tags.get(key)
  if (tag === undefined) {
    if (state.tags.size >= MAX_TAG_KEYS) return
    tag = { total: 0, values: new Map() }
    state.tags.set(key, tag)
  }
  tag.total += times
  const count = tag.values.get(value)
  if (count !== undefined) tag.values.set(value, count + times)
  else if (tag.values.size < MAX_TAG_VALUES) {
    tag.values.set(value, times)
    state.tagSearch.add(searchKey(key, value))
  }
}

function searchKey(key: string, value: string): string {
  return `${key.toLowerCase()}\0${value.toLowerCase()}`
}

function facets(state: IssueState): IssueFacets {
  return {
    hasRelease: (release) => state.releases.has(release),
    hasTag: (key, value) => state.tagSearch.has(`${key}\0${value}`),
    hasUser: (field, value) => hasPerson(state.people, field, value),
  }
}

function sortValueOf(state: IssueState, sort: NonNullable<ListIssuesOptions['sort']>): number {
  switch (sort) {
    case 'lastSeen': return state.last
    case 'firstSeen': return state.first
    case 'events': return state.issue.count
    case 'users': return state.issue.userCount
  }
}

/** A deep copy: callers never hold the index's own objects. */
export function copyIssue(issue: Issue): Issue {
  return {
    ...issue,
    fingerprint: [...issue.fingerprint],
    environments: [...issue.environments],
    platforms: [...issue.platforms],
    ignoreUntil: issue.ignoreUntil === null ? null : { ...issue.ignoreUntil },
  }
}

function toRecord(state: IssueState): IssueRecord {
  return {
    issue: state.issue,
    epoch: state.epoch,
    users: [...state.users],
    releases: [...state.releases],
    releaseTimes: [state.firstReleaseAt, state.lastReleaseAt],
    tags: [...state.tags].map(([key, tag]) => [key, tag.total, [...tag.values]]),
    hours: state.hours.toJSON(),
    days: state.days.toJSON(),
    minutes: state.minutes.toJSON(),
    stored: [state.stored, state.oldestStored],
    people: [...state.people].map(([hash, p]) => [hash, p.key, p.user, p.count, p.first, p.last]),
    activity: state.activity,
  }
}

function fromRecord(record: IssueRecord): IssueState {
  const issue = record?.issue
  if (typeof issue !== 'object' || issue === null || !isIssueId(issue.id) || typeof issue.count !== 'number') throw new Error('malformed issue record')
  const first = Date.parse(issue.firstSeen)
  const last = Date.parse(issue.lastSeen)
  if (Number.isNaN(first) || Number.isNaN(last)) throw new Error(`issue ${issue.id} has malformed firstSeen/lastSeen`)
  const [firstReleaseAt, lastReleaseAt] = record.releaseTimes ?? [null, null]
  const tags = new Map(record.tags.map(([key, total, values]): [string, TagCount] => [key, { total, values: new Map(values) }]))
  const tagSearch = new Set<string>()
  for (const [key, tag] of tags) for (const value of tag.values.keys()) tagSearch.add(searchKey(key, value))
  return {
    // documents written before events could be shed, or before platforms and next-release resolves, lack them
    issue: {
      ...copyIssue({ ...issue, platforms: Array.isArray(issue.platforms) ? issue.platforms : ['node'] }),
      shed: typeof issue.shed === 'number' ? issue.shed : 0,
      resolvedInRelease: typeof issue.resolvedInRelease === 'string' ? issue.resolvedInRelease : null,
    },
    first,
    last,
    epoch: record.epoch ?? 0,
    users: new Map(record.users),
    releases: new Set(record.releases),
    // JSON turns the Infinity of "no release yet" into null
    firstReleaseAt: firstReleaseAt ?? Infinity,
    lastReleaseAt: lastReleaseAt ?? -Infinity,
    tags,
    tagSearch,
    hours: new BucketCounts(HOUR, KEEP_HOURS, record.hours),
    days: new BucketCounts(DAY, KEEP_DAYS, record.days),
    minutes: new BucketCounts(MINUTE, KEEP_MINUTES, record.minutes),
    stored: record.stored?.[0] ?? 0,
    oldestStored: record.stored?.[1] ?? null,
    people: new Map((Array.isArray(record.people) ? record.people : []).map(([hash, key, user, count, first, last]) => [hash, { key, user, count, first, last }])),
    // documents written before the log have none: it starts with the next change
    activity: Array.isArray(record.activity?.lines) && Number.isSafeInteger(record.activity.next) ? record.activity : { lines: [], next: 1 },
    json: null,
  }
}
