/**
 * What the PostgreSQL store answers from its tables: issues (one, a page, counts by status, with
 * search terms as SQL conditions), events and their neighbours, the histogram, recent counts,
 * tag breakdowns and affected users. Every statement here is a read, held to the read share of the pool.
 */
import { mentionsStatus, parseQuery, USER_SEARCH_FIELDS, type SearchTerm } from '../../common/search.js'
import {
  STATUSES, type EventPage, type FaultlineEvent, type HistogramOptions, type Issue, type IssuePage, type IssueSort, type IssueStatus,
  type ListIssuesOptions, type StatusCounts, type TagBreakdown, type UserPage,
} from '../../lib/types.js'
import { checkDate, histogramArguments, isIssueId, listArguments, pageLimit } from '../shared/arguments.js'
import { decodeCursor, encodeCursor } from '../shared/cursor.js'
import type { Query } from './connection.js'
import type { Tables } from './schema.js'
import { clean, toAffectedUser, toDate, toIssue } from './rows.js'

const SORT_COLUMNS: Record<IssueSort, string> = {
  lastSeen: 'last_seen',
  firstSeen: 'first_seen',
  events: 'count',
  users: 'user_count',
}

export class Reads {
  #read: Query
  #tables: Tables

  /** `read` runs one statement within the read share of the pool. */
  constructor(read: Query, tables: Tables) {
    this.#read = read
    this.#tables = tables
  }

  async getIssue(id: string): Promise<Issue | null> {
    if (!isIssueId(id)) return null
    const { rows } = await this.#read('getIssue', `SELECT * FROM ${this.#tables.issues} WHERE id = $1`, [id])
    return rows[0] ? toIssue(rows[0]) : null
  }

  async listIssues(options?: ListIssuesOptions): Promise<IssuePage> {
    const parsed = parseQuery(options?.q ?? '')
    const args = listArguments(options, mentionsStatus(parsed))
    const position = decodeCursor(args.sort, args.cursor)
    const values: unknown[] = []
    const where = this.#searchConditions(parsed.terms, values)
    const column = SORT_COLUMNS[args.sort]
    const isTime = args.sort === 'lastSeen' || args.sort === 'firstSeen'
    if (position) {
      const value = isTime ? new Date(position.value) : position.value
      where.push(`(i.${column}, i.id) < (${param(values, value)}, ${param(values, position.id)})`)
    }
    const order = `ORDER BY ${column} DESC, id DESC LIMIT ${args.limit + 1}`
    const select = (status: IssueStatus) =>
      `SELECT * FROM ${this.#tables.issues} i WHERE ${[`i.status = ${param(values, status)}`, ...where].join(' AND ')} ${order}`
    // every sort has an index led by status; 'all' merges the three short index scans rather
    // than sorting the whole table (or keeping a second index per sort on a table written per event)
    const text = args.status === 'all'
      ? `SELECT * FROM (${STATUSES.map((status) => `(${select(status)})`).join(' UNION ALL ')}) i ${order}`
      : select(args.status)
    const { rows } = await this.#read('listIssues', text, values)
    const issues = rows.slice(0, args.limit).map(toIssue)
    let nextCursor: string | null = null
    if (rows.length > args.limit) {
      const last = issues[issues.length - 1]
      const value = isTime ? Date.parse(args.sort === 'lastSeen' ? last.lastSeen : last.firstSeen) : args.sort === 'events' ? last.count : last.userCount
      nextCursor = encodeCursor(args.sort, { value, id: last.id })
    }
    return { issues, nextCursor }
  }

  async countIssues(q?: string): Promise<StatusCounts> {
    if (q !== undefined && q !== null && typeof q !== 'string') throw new TypeError('q must be a string')
    const values: unknown[] = []
    const where = this.#searchConditions(parseQuery(q ?? '').terms, values)
    const { rows } = await this.#read('countIssues',
      `SELECT status, count(*) AS n FROM ${this.#tables.issues} i ${where.length ? 'WHERE ' + where.join(' AND ') : ''} GROUP BY status`, values)
    const counts: StatusCounts = { unresolved: 0, resolved: 0, ignored: 0, all: 0 }
    for (const row of rows) {
      counts[row.status as IssueStatus] = Number(row.n)
      counts.all += Number(row.n)
    }
    return counts
  }

  /** SQL conditions for search terms (see common/search.ts); values are pushed as parameters. */
  #searchConditions(terms: SearchTerm[], values: unknown[]): string[] {
    const t = this.#tables
    return terms.map((term) => {
      let sql: string
      switch (term.kind) {
        case 'text': {
          const p = param(values, term.value)
          sql = ['title', 'culprit', 'message', 'type'].map((c) => `strpos(lower(i.${c}), ${p}) > 0`).join(' OR ')
          break
        }
        case 'is':
          if (term.value === 'regressed') sql = 'i.regressed'
          else if (term.value === 'unresolved' || term.value === 'resolved' || term.value === 'ignored') sql = `i.status = ${param(values, term.value)}`
          else sql = 'false'
          break
        case 'environment':
          sql = `EXISTS (SELECT 1 FROM unnest(i.environments) AS e WHERE lower(e) = ${param(values, term.value)})`
          break
        case 'release': {
          const p = param(values, term.value)
          sql = `lower(i.first_release) = ${p} OR lower(i.last_release) = ${p}
                 OR EXISTS (SELECT 1 FROM ${t.releases} r WHERE r.issue_id = i.id AND lower(r.release) = ${p})`
          break
        }
        case 'level':
          sql = `i.level = ${param(values, term.value)}`
          break
        case 'tag':
          sql = `EXISTS (SELECT 1 FROM ${t.tags} g WHERE g.issue_id = i.id AND lower(g.key) = ${param(values, term.key)} AND lower(g.value) = ${param(values, term.value)})`
          break
        case 'platform':
          sql = `${param(values, term.value)} = ANY (i.platforms)`
          break
        case 'user': {
          // one index per field (see migration 3); user: is any of the three, a bitmap OR of them
          const p = param(values, term.value)
          const fields = term.field === null ? USER_SEARCH_FIELDS : [term.field]
          sql = `EXISTS (SELECT 1 FROM ${t.users} u WHERE u.issue_id = i.id AND (${fields.map((f) => `lower(u.data->>'${f}') = ${p}`).join(' OR ')}))`
          break
        }
        case 'invalid':
          // a term the search could not use matches nothing, negated or not (see common/search.ts)
          return 'false'
      }
      // NULLs (no release, say) must not make a negated term match nothing
      return `${term.negate ? 'NOT ' : ''}coalesce((${sql}), false)`
    })
  }

  async listEvents(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<EventPage> {
    const limit = pageLimit(options?.limit)
    const position = decodeCursor('events', options?.cursor)
    if (!isIssueId(issueId)) return { events: [], nextCursor: null }
    const values: unknown[] = [issueId]
    let after = ''
    if (position) after = `AND (ts, event_id) < (${param(values, new Date(position.value))}, ${param(values, position.id)})`
    const { rows } = await this.#read('listEvents',
      `SELECT data, ts, event_id FROM ${this.#tables.events} WHERE issue_id = $1 AND data IS NOT NULL ${after} ORDER BY ts DESC, event_id DESC LIMIT ${limit + 1}`, values)
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      events: page.map((r) => r.data as FaultlineEvent),
      nextCursor: rows.length > limit ? encodeCursor('events', { value: toDate(last.ts).getTime(), id: last.event_id }) : null,
    }
  }

  async getEvent(issueId: string, eventId: string): Promise<FaultlineEvent | null> {
    if (!isIssueId(issueId) || typeof eventId !== 'string') return null
    const { rows } = await this.#read('getEvent', `SELECT data FROM ${this.#tables.events} WHERE event_id = $2 AND issue_id = $1 AND data IS NOT NULL`, [issueId, clean(eventId)])
    return rows[0]?.data ?? null
  }

  async eventNeighbors(issueId: string, eventId: string): Promise<{ older: string | null; newer: string | null } | null> {
    if (!isIssueId(issueId) || typeof eventId !== 'string') return null
    const e = this.#tables.events
    // shed events (data IS NULL) are counted but never shown, so they are nobody's neighbour
    const { rows } = await this.#read('eventNeighbors',
      `SELECT
         (SELECT o.event_id FROM ${e} o WHERE o.issue_id = $1 AND o.data IS NOT NULL AND (o.ts, o.event_id) < (c.ts, c.event_id) ORDER BY o.ts DESC, o.event_id DESC LIMIT 1) AS older,
         (SELECT n.event_id FROM ${e} n WHERE n.issue_id = $1 AND n.data IS NOT NULL AND (n.ts, n.event_id) > (c.ts, c.event_id) ORDER BY n.ts, n.event_id LIMIT 1) AS newer
       FROM ${e} c WHERE c.issue_id = $1 AND c.event_id = $2 AND c.data IS NOT NULL`, [issueId, clean(eventId)])
    return rows[0] ? { older: rows[0].older, newer: rows[0].newer } : null
  }

  /**
   * The users the issue affected, most events first. Rows written before migration 3 have no
   * fields to show and are left out, though they still count in the issue's userCount.
   */
  async listUsers(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<UserPage | null> {
    const limit = pageLimit(options?.limit)
    const position = decodeCursor('users', options?.cursor)
    if (!isIssueId(issueId)) return null
    const values: unknown[] = [issueId]
    let after = ''
    if (position) {
      const count = param(values, position.value)
      after = `AND (u.count < ${count} OR (u.count = ${count} AND u.user_key COLLATE "C" < ${param(values, position.id)}))`
    }
    // one statement: no row at all means no issue, a row of NULLs an issue with no (more) users
    const { rows } = await this.#read('listUsers',
      `SELECT u.* FROM ${this.#tables.issues} i
         LEFT JOIN LATERAL (SELECT user_key, key, data, count, first_seen, last_seen FROM ${this.#tables.users} u
                            WHERE u.issue_id = i.id AND u.data IS NOT NULL ${after}
                            ORDER BY u.count DESC, u.user_key COLLATE "C" DESC LIMIT ${limit + 1}) u ON true
       WHERE i.id = $1`, values)
    if (rows.length === 0) return null
    const found = rows.filter((r) => r.user_key !== null)
    const page = found.slice(0, limit)
    const last = page[page.length - 1]
    // ties go by the key's hash, as in every store: the cursor holds the hash, never the user's id or email
    return { users: page.map(toAffectedUser), nextCursor: found.length > limit ? encodeCursor('users', { value: Number(last.count), id: last.user_key }) : null }
  }

  async histogram(issueId: string, options: HistogramOptions): Promise<number[]> {
    const { size, buckets, now } = histogramArguments(options)
    const out = new Array<number>(buckets).fill(0)
    if (!isIssueId(issueId)) return out
    const first = (Math.floor(now / size) - buckets + 1) * size
    const { rows } = await this.#read('histogram',
      `SELECT hour, count FROM ${this.#tables.hourly} WHERE issue_id = $1 AND hour >= $2 AND hour < $3`,
      [issueId, new Date(first), new Date(first + buckets * size)])
    for (const row of rows) out[Math.floor((toDate(row.hour).getTime() - first) / size)] += Number(row.count)
    return out
  }

  async countEventsSince(issueId: string, since: Date): Promise<number> {
    const from = checkDate('since', since)
    if (!isIssueId(issueId)) return 0
    const { rows } = await this.#read('countEventsSince',
      `SELECT coalesce(sum(count), 0) AS n FROM ${this.#tables.recent} WHERE issue_id = $1 AND at >= $2`, [issueId, new Date(from)])
    return Number(rows[0].n)
  }

  async tagBreakdown(issueId: string, options?: { limit?: number }): Promise<TagBreakdown[]> {
    const limit = options?.limit ?? 10
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new TypeError(`limit must be a positive integer, got ${String(limit)}`)
    if (!isIssueId(issueId)) return []
    const t = this.#tables
    const { rows } = await this.#read('tagBreakdown',
      `SELECT k.key, k.total, v.value, v.count
       FROM ${t.tagKeys} k
       LEFT JOIN LATERAL (SELECT value, count FROM ${t.tags} g WHERE g.issue_id = k.issue_id AND g.key = k.key
                          ORDER BY count DESC, value COLLATE "C" LIMIT $2) v ON true
       WHERE k.issue_id = $1`, [issueId, limit])
    const byKey = new Map<string, TagBreakdown>()
    for (const row of rows) {
      let entry = byKey.get(row.key)
      if (!entry) byKey.set(row.key, (entry = { key: row.key, total: Number(row.total), values: [] }))
      if (row.value !== null) entry.values.push({ value: row.value, count: Number(row.count) })
    }
    const list = [...byKey.values()]
    // sorted here, by code unit as the other stores do, whatever the database's collation
    for (const entry of list) entry.values.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    return list.sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }
}

/** Pushes a value as the statement's next parameter and returns its placeholder ($n). */
function param(values: unknown[], value: unknown): string {
  values.push(typeof value === 'string' ? clean(value) : value)
  return `$${values.length}`
}
