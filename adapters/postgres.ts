/**
 * The PostgreSQL store: for apps on several instances or machines sharing one database.
 * Recording is one transaction that upserts the issue row (which holds every count), so N
 * instances writing the same new error at once create one issue with exact counts, and
 * exactly one of them is told it is new. `pg` is loaded only by this store, and only when it
 * makes its own pool.
 *
 * Its parts are in postgres/: the pool, its timeouts, transactions and errors that say what failed
 * (postgres/connection.ts); the tables (postgres/schema.ts) and bringing a database up to them
 * (postgres/migrate.ts); recording, many events to a statement (postgres/record.ts); the reads
 * (postgres/reads.ts); maintenance (postgres/maintenance.ts); each issue's activity log
 * (postgres/activity.ts); rule firings and settings (postgres/settings.ts); and turning rows into
 * issues and values into what PostgreSQL accepts (postgres/rows.ts).
 */
import type {
  Activity, ActivityPage, EventPage, FaultlineEvent, HistogramOptions, Issue, IssuePage, IssueUpdate, ListIssuesOptions, MaintainOptions,
  MaintainResult, RecordInput, RecordResult, Retention, StatusCounts, Store, TagBreakdown, UserPage,
} from '../lib/types.js'
import { checkDate, checkNote, checkRetention, checkUpdate, DEFAULT_RETENTION, isIssueId } from './shared/arguments.js'
import { Connection, type PgPoolLike } from './postgres/connection.js'
import { migrate } from './postgres/migrate.js'
import { tableNames, type Tables } from './postgres/schema.js'
import { GroupCommit } from './postgres/record.js'
import { Reads } from './postgres/reads.js'
import { Maintenance } from './postgres/maintenance.js'
import { appendActivity, listActivity } from './postgres/activity.js'
import { Settings } from './postgres/settings.js'
import { clean, toIgnoreUntil, toIssue } from './postgres/rows.js'

export type { PgClientLike, PgPoolLike, PgQuery, PgResult } from './postgres/connection.js'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; the store makes (and closes) its own pool */
  connectionString?: string
  /** a `pg.Pool` you own instead; `close()` leaves it open */
  pool?: PgPoolLike
  /** default 'public'; created if missing */
  schema?: string
  /** default 'faultline_' */
  tablePrefix?: string
  /** the longest one statement may run, in ms or a duration ('5s'); default 5 s */
  statementTimeout?: number | string
  /** the longest to wait for a connection, in ms or a duration; default 5 s */
  connectionTimeout?: number | string
  /** connections in the store's own pool; default 10 */
  max?: number
  /** what maintain() keeps when it is not given a retention; default 100 events per issue, 90 days */
  retention?: Retention
}

const OPTION_KEYS = ['connectionString', 'pool', 'schema', 'tablePrefix', 'statementTimeout', 'connectionTimeout', 'max', 'retention']

/** Makes a PostgreSQL store. Tables are created (or migrated) on first use, not here. */
export function postgresStore(options: PostgresStoreOptions): Store {
  return new PostgresStore(options)
}

export default postgresStore

class PostgresStore implements Store {
  #tables: Tables
  #connection: Connection
  #groupCommit: GroupCommit
  #reads: Reads
  #maintenance: Maintenance
  #settings: Settings

  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError("faultline: postgresStore: pass options like { connectionString: 'postgres://user@localhost/app' } or { pool }")
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) throw new TypeError(`faultline: postgresStore: unknown option \`${key}\`. Known options: ${OPTION_KEYS.join(', ')}.`)
    }
    const { connectionString, pool } = options
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new TypeError("faultline: postgresStore: pass exactly one of `connectionString` ('postgres://user@localhost/app') or `pool` (a pg.Pool)")
    }
    if (connectionString !== undefined && (typeof connectionString !== 'string' || !connectionString)) {
      throw new TypeError("faultline: postgresStore: `connectionString` must be a URL like 'postgres://user:password@localhost:5432/app'")
    }
    if (pool !== undefined && (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function' || typeof pool.connect !== 'function')) {
      throw new TypeError('faultline: postgresStore: `pool` must be a pg.Pool (something with query() and connect())')
    }
    if (options.max !== undefined && (!Number.isInteger(options.max) || options.max < 1)) {
      throw new TypeError(`faultline: postgresStore: \`max\` must be a positive integer, got ${String(options.max)}`)
    }
    const tables = tableNames(options.schema ?? 'public', options.tablePrefix ?? 'faultline_')
    const connection = new Connection(options, (setUp) => migrate(setUp, tables))
    const retention = options.retention === undefined ? DEFAULT_RETENTION : checkRetention(options.retention)
    this.#tables = tables
    this.#connection = connection
    this.#groupCommit = new GroupCommit((action, text, values) => connection.query(action, text, values), tables.record)
    this.#reads = new Reads((action, text, values) => connection.read(action, text, values), tables)
    this.#maintenance = new Maintenance(connection, tables, retention)
    this.#settings = new Settings((action, text, values) => connection.query(action, text, values), (action, text, values) => connection.read(action, text, values), tables)
  }

  // -- writing ----------------------------------------------------------------------------------

  record(input: RecordInput): Promise<RecordResult> {
    return this.#groupCommit.record(input)
  }

  async updateIssue(id: string, update: IssueUpdate): Promise<Issue | null> {
    const checked = checkUpdate(update)
    if (!isIssueId(id)) return null
    const until = checked.status === 'ignored' ? checked.until : null
    const inRelease = checked.status === 'resolved' ? checked.inRelease ?? null : null
    const now = new Date()
    const t = this.#tables
    // the change and its line in the log commit together; the update takes the issue's row lock first
    return this.#connection.inTransaction<Issue | null>('updateIssue', async (q) => {
      const { rows } = await q(
        `UPDATE ${t.issues} SET
           status = $2,
           resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END,
           regressed = CASE WHEN $2 = 'resolved' THEN false ELSE regressed END,
           resolved_in_release = $7,
           until_count = count + $4::bigint,
           until_users = user_count + $5::bigint,
           until_at = $6::timestamptz
         WHERE id = $1 RETURNING *`,
        [id, checked.status, now,
          until && 'events' in until ? until.events : null,
          until && 'users' in until ? until.users : null,
          until && 'forMs' in until ? new Date(now.getTime() + until.forMs) : null,
          inRelease === null ? null : clean(inRelease)],
      )
      if (!rows[0]) return null
      await appendActivity(q, t, id, {
        kind: checked.status, at: now, actor: checked.actor,
        until: checked.status === 'ignored' ? toIgnoreUntil(rows[0]) : undefined,
        release: inRelease,
      })
      return toIssue(rows[0])
    })
  }

  async addNote(issueId: string, note: { text: string; actor: string }): Promise<Activity | null> {
    const { text, actor } = checkNote(note)
    if (!isIssueId(issueId)) return null
    const t = this.#tables
    return this.#connection.inTransaction<Activity | null>('addNote', async (q) => {
      // the issue's row lock orders the note with the changes the log records around it
      const { rows } = await q(`SELECT 1 FROM ${t.issues} WHERE id = $1 FOR NO KEY UPDATE`, [issueId])
      if (rows.length === 0) return null
      return appendActivity(q, t, issueId, { kind: 'note', at: new Date(), actor, note: text })
    })
  }

  noteRuleFired(ruleKey: string, at: Date): Promise<void> {
    return this.#settings.noteRuleFired(ruleKey, at)
  }

  ruleFirings(): Promise<Record<string, string>> {
    return this.#settings.ruleFirings()
  }

  claimSetting(name: string, value: string): Promise<string> {
    return this.#settings.claimSetting(name, value)
  }

  async deleteIssue(id: string): Promise<boolean> {
    if (!isIssueId(id)) return false
    const t = this.#tables
    return this.#connection.inTransaction<boolean>('deleteIssue', async (q) => {
      // not while an instance prunes events: the two deletes would take event rows in different orders
      await q('SELECT pg_advisory_xact_lock_shared($1)', [this.#maintenance.lockKey])
      // events, users, tags and counters go with the issue (ON DELETE CASCADE); alert claims are keyed apart
      const { rowCount } = await q(`DELETE FROM ${t.issues} WHERE id = $1`, [id])
      await q(`DELETE FROM ${t.alerts} WHERE issue_id = $1`, [id])
      return (rowCount ?? 0) > 0
    })
  }

  async claimAlert(key: string, options: { issueId: string; expiresAt?: Date }): Promise<boolean> {
    if (typeof key !== 'string' || key === '' || key.length > 1000) throw new TypeError('alert key must be a non-empty string of at most 1000 characters')
    if (typeof options !== 'object' || options === null || typeof options.issueId !== 'string') throw new TypeError('claimAlert needs { issueId } naming the issue the alert is about')
    const expiresAt = options.expiresAt === undefined || options.expiresAt === null ? null : new Date(checkDate('expiresAt', options.expiresAt))
    const t = this.#tables
    // one statement: a concurrent claimer of the same key waits for this one, then finds it standing
    const { rows } = await this.#connection.query('claimAlert',
      `INSERT INTO ${t.alerts} AS a (key, issue_id, claimed_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key) DO UPDATE SET issue_id = excluded.issue_id, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
         WHERE a.expires_at IS NOT NULL AND a.expires_at <= excluded.claimed_at
       RETURNING 1`,
      [clean(key), clean(options.issueId), new Date(), expiresAt],
    )
    return rows.length === 1
  }

  maintain(options: MaintainOptions): Promise<MaintainResult> {
    return this.#maintenance.maintain(options)
  }

  // -- reading ----------------------------------------------------------------------------------

  getIssue(id: string): Promise<Issue | null> {
    return this.#reads.getIssue(id)
  }

  listIssues(options?: ListIssuesOptions): Promise<IssuePage> {
    return this.#reads.listIssues(options)
  }

  countIssues(q?: string): Promise<StatusCounts> {
    return this.#reads.countIssues(q)
  }

  listEvents(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<EventPage> {
    return this.#reads.listEvents(issueId, options)
  }

  getEvent(issueId: string, eventId: string): Promise<FaultlineEvent | null> {
    return this.#reads.getEvent(issueId, eventId)
  }

  eventNeighbors(issueId: string, eventId: string): Promise<{ older: string | null; newer: string | null } | null> {
    return this.#reads.eventNeighbors(issueId, eventId)
  }

  listUsers(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<UserPage | null> {
    return this.#reads.listUsers(issueId, options)
  }

  listActivity(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<ActivityPage | null> {
    return listActivity((action, text, values) => this.#connection.read(action, text, values), this.#tables, issueId, options)
  }

  histogram(issueId: string, options: HistogramOptions): Promise<number[]> {
    return this.#reads.histogram(issueId, options)
  }

  countEventsSince(issueId: string, since: Date): Promise<number> {
    return this.#reads.countEventsSince(issueId, since)
  }

  tagBreakdown(issueId: string, options?: { limit?: number }): Promise<TagBreakdown[]> {
    return this.#reads.tagBreakdown(issueId, options)
  }

  close(): Promise<void> {
    return this.#connection.close()
  }
}
