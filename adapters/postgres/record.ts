/**
 * Recording events into the PostgreSQL store: each event becomes a row of arguments for the record
 * function of the schema (see schema.ts), which upserts the issue row, and rows are written many
 * to one statement.
 */
import { HOUR } from '../../common/duration.js'
import { eventJson } from '../../common/event-json.js'
import { foldedEventId } from '../../common/event-id.js'
import { LEVELS, type Level, type RecordInput, type RecordResult } from '../../lib/types.js'
import { checkRecordInput } from '../shared/issue-index.js'
import { countedUser, userDetails } from '../shared/counted-facts.js'
import { isOutage, type Query } from './connection.js'
import { clean, jsonbSafe, tagList, toIssue, toJson } from './rows.js'

/** record statements in flight at once, and the most events one of them carries */
const MAX_WRITERS = 2
const MAX_BATCH = 200

/** One event as the record function takes it. */
interface RecordRow {
  eventId: string
  issueId: string
  at: Date
  /** the event as JSON; null when its body is shed */
  data: string | null
  shed: boolean
  fingerprint: string
  title: string
  culprit: string
  type: string
  message: string
  level: Level
  release: string | null
  environment: string | null
  platform: 'node' | 'javascript'
  /** the distinct user's hashed key (what counts), or null */
  user: string | null
  /** the user as the affected-user list shows it (see userDetails): its key and fields as JSON */
  userKey: string | null
  userData: string | null
  tags: string
  hour: Date
}

interface WaitingRecord {
  row: RecordRow
  resolve(result: RecordResult): void
  reject(error: unknown): void
}

/**
 * Group commit: while a write is in flight, further records wait and go into the next one,
 * so one statement (one transaction, one commit) stores many events. A lone event is written
 * at once. Each caller still gets its own result, and one event the database refuses fails alone.
 */
export class GroupCommit {
  #query: Query
  /** the record function's name (see Tables.record) */
  #recordFunction: string
  #waiting: WaitingRecord[] = []
  #writers = 0

  constructor(query: Query, recordFunction: string) {
    this.#query = query
    this.#recordFunction = recordFunction
  }

  async record(input: RecordInput): Promise<RecordResult> {
    const row = recordRow(input)
    const times = input.times ?? 1
    if (times === 1) return this.#enqueueRow(row)
    // folded errors get a row each, as if recorded one by one: a retry of the fold counts each once
    const results = await Promise.all(Array.from({ length: times }, (_, k) => this.#enqueueRow({ ...row, eventId: foldedEventId(row.eventId, k) })))
    const last = results.reduce((a, b) => (b.issue.count > a.issue.count ? b : a))
    return { issue: last.issue, isNew: results.some((r) => r.isNew), isRegression: results.some((r) => r.isRegression), unignored: results.some((r) => r.unignored) }
  }

  #enqueueRow(row: RecordRow): Promise<RecordResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ row, resolve, reject })
      this.#writeWaiting()
    })
  }

  #writeWaiting(): void {
    while (this.#writers < MAX_WRITERS && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, MAX_BATCH)
      this.#writers++
      void this.#writeBatch(batch).finally(() => {
        this.#writers--
        this.#writeWaiting()
      })
    }
  }

  async #writeBatch(batch: WaitingRecord[]): Promise<void> {
    let results: Array<RecordResult | Error>
    try {
      results = await this.#recordRows(batch.map((waiting) => waiting.row))
    } catch (err) {
      if (batch.length === 1 || isOutage(err)) {
        for (const waiting of batch) waiting.reject(err)
        return
      }
      // the database refused the statement, not the connection: find the event it refuses by writing each alone
      results = []
      for (const waiting of batch) results.push(await this.#recordRows([waiting.row]).then(([r]) => r, (e: Error) => e))
    }
    batch.forEach((waiting, i) => {
      const result = results[i]
      if (result instanceof Error) waiting.reject(result)
      else waiting.resolve(result)
    })
  }

  /** Records rows in one statement, in the order of their issue ids so that concurrent writers lock issues in one order. */
  async #recordRows(rows: RecordRow[]): Promise<Array<RecordResult | Error>> {
    const order = rows.map((_, i) => i).sort((a, b) => (rows[a].issueId < rows[b].issueId ? -1 : rows[a].issueId > rows[b].issueId ? 1 : a - b))
    const column = (key: keyof RecordRow) => order.map((i) => rows[i][key])
    const { rows: recorded } = await this.#query('record',
      `SELECT x.n, ${this.#recordFunction}(x.event_id, x.issue_id, x.ts, x.data, x.shed, x.fingerprint, x.title, x.culprit, x.type, x.message,
           x.level, x.release, x.environment, x.platform, x.user_hash, x.user_key, x.user_data, x.tags, x.hour, $20) AS r
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::boolean[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
           $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::jsonb[], $18::jsonb[], $19::timestamptz[])
           WITH ORDINALITY AS x(event_id, issue_id, ts, data, shed, fingerprint, title, culprit, type, message, level, release, environment, platform,
             user_hash, user_key, user_data, tags, hour, n)`,
      [column('eventId'), column('issueId'), column('at'), column('data'), column('shed'), column('fingerprint'), column('title'), column('culprit'),
        column('type'), column('message'), column('level'), column('release'), column('environment'), column('platform'), column('user'),
        column('userKey'), column('userData'), column('tags'), column('hour'), new Date()],
    )
    const results: Array<RecordResult | Error> = new Array(rows.length)
    for (const { n, r } of recorded) {
      const i = order[Number(n) - 1]
      results[i] = r.issue?.id == null
        ? new Error(`faultline: postgres store: record failed: event ${rows[i].eventId} is stored under another issue`)
        : { issue: toIssue(r.issue), isNew: r.is_new, isRegression: r.is_regression, unignored: r.unignored }
    }
    return results
  }
}

/** Checks one record input and turns it into the record function's arguments. */
function recordRow(input: RecordInput): RecordRow {
  checkRecordInput(input)
  const { grouping } = input
  let event = input.event
  const parsed = Date.parse(event.timestamp)
  // an unreadable time becomes the time of recording, as in every store
  if (Number.isNaN(parsed)) event = { ...event, timestamp: new Date().toISOString() }
  const at = new Date(Number.isNaN(parsed) ? event.timestamp : parsed)
  const level: Level = LEVELS.includes(event.level) ? event.level : grouping.level
  const text = (value: unknown) => clean(typeof value === 'string' ? value : '')
  const user = countedUser(input)
  const details = userDetails(input)
  return {
    eventId: clean(event.event_id),
    issueId: grouping.hash,
    at,
    // the JSON made when the event was built, unless it changed since; a shed event's body is never serialised
    data: input.shed === true ? null : jsonbSafe(eventJson(event)),
    shed: input.shed === true,
    fingerprint: toJson(Array.isArray(grouping.fingerprint) ? grouping.fingerprint.map(String) : []),
    title: text(grouping.title),
    culprit: text(grouping.culprit),
    type: text(grouping.type),
    message: text(grouping.message),
    level,
    release: typeof event.release === 'string' && event.release !== '' ? clean(event.release) : null,
    environment: typeof event.environment === 'string' && event.environment !== '' ? clean(event.environment) : null,
    platform: event.platform === 'javascript' ? 'javascript' : 'node',
    user,
    userKey: details === null ? null : clean(details.key),
    userData: details === null ? null : toJson(details.user),
    tags: toJson(tagList(event, level)),
    hour: new Date(Math.floor(at.getTime() / HOUR) * HOUR),
  }
}
