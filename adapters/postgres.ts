/**
 * The PostgreSQL store: for apps on several instances or machines sharing one database.
 * Recording is one transaction that upserts the issue row (which holds every count), so N
 * instances writing the same new error at once create one issue with exact counts, and
 * exactly one of them is told it is new. `pg` is loaded only here, and only when this store
 * makes its own pool.
 */
import { createHash } from 'node:crypto'
import { DAY, HOUR, parseDuration } from '../lib/duration.js'
import { eventJson } from '../lib/event.js'
import { foldedEventId } from '../lib/event-id.js'
import { mentionsStatus, parseQuery, type SearchTerm } from '../lib/search.js'
import {
  LEVELS, STATUSES, type EventPage, type FaultlineEvent, type HistogramOptions, type IgnoreUntil, type Issue, type IssuePage, type IssueSort,
  type IssueStatus, type IssueUpdate, type Level, type ListIssuesOptions, type MaintainOptions, type MaintainResult, type RecordInput,
  type RecordResult, type Retention, type StatusCounts, type Store, type TagBreakdown,
} from '../lib/types.js'
import { checkDate, checkRetention, checkUpdate, DEFAULT_RETENTION, histogramArguments, isIssueId, listArguments, maintainArguments, pageLimit } from './shared/arguments.js'
import { decodeCursor, encodeCursor } from './shared/cursor.js'
import { checkRecordInput, MAX_TAG_KEYS, MAX_TAG_VALUES } from './shared/issue-index.js'
import { countedUser, ownTags, withImplicitTags } from './shared/counted-facts.js'
import { migrations, tableNames, type Tables } from './postgres/schema.js'
import { ReadShare, readShareOf } from './postgres/read-share.js'

/** What this store needs of a `pg` result. */
export interface PgResult {
  rows: any[]
  rowCount: number | null
}
/** A query config as `pg` takes it; `query_timeout` bounds the wait on the client side. */
export interface PgQuery {
  text: string
  values?: unknown[]
  query_timeout?: number
}
/** What this store needs of a `pg` client checked out of a pool. */
export interface PgClientLike {
  query(config: PgQuery): Promise<PgResult>
  release(err?: Error | boolean): void
}
/** What this store needs of a `pg.Pool` (or anything shaped like one). */
export interface PgPoolLike {
  query(config: PgQuery): Promise<PgResult>
  connect(): Promise<PgClientLike>
  end(): Promise<void>
  /** pg.Pool's settings: `max` tells the store how many connections it may count on */
  options?: { max?: unknown }
}

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
const DEFAULT_TIMEOUT_MS = 5000
/** pg.Pool's own default size, for the store's pool and for a pool handed in that does not say */
const DEFAULT_POOL_SIZE = 10
/** migrations may wait for another instance migrating, and DDL may take a while on big tables */
const MIGRATION_TIMEOUT_MS = 60_000
/** statements of maintain() delete at most this many rows each, so no lock is held for long */
const PRUNE_BATCH = 1000
/** countEventsSince is exact for windows up to a day; an hour more of margin is kept */
const RECENT_KEEP_MS = DAY + HOUR
/** hourly counters feed the 30-day histogram, whatever the event retention */
const HOURLY_KEEP_MS = 31 * DAY
/**
 * A shed event's body-less row is only there so that a retry of it counts once. Retries come from
 * the capturing process's queue, which holds an event for as long as the database is down: a day
 * covers any outage an app keeps running through, and a storm's rows do not pile up for longer.
 */
const SHED_KEEP_MS = DAY

/** record statements in flight at once, and the most events one of them carries */
const MAX_WRITERS = 2
const MAX_BATCH = 200

const SORT_COLUMNS: Record<IssueSort, string> = {
  lastSeen: 'last_seen',
  firstSeen: 'first_seen',
  events: 'count',
  users: 'user_count',
}

/** Runs one statement inside a transaction; `timeout` (ms) bounds the wait on the client side. */
type Querier = (text: string, values: unknown[], timeout?: number) => Promise<PgResult>

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '53300'])

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
  user: string | null
  tags: string
  hour: Date
}

interface WaitingRecord {
  row: RecordRow
  resolve(result: RecordResult): void
  reject(error: unknown): void
}

/** Makes a PostgreSQL store. Tables are created (or migrated) on first use, not here. */
export function postgresStore(options: PostgresStoreOptions): Store {
  return new PostgresStore(options)
}

export default postgresStore

class PostgresStore implements Store {
  #options: PostgresStoreOptions
  #tables: Tables
  #timeoutMs: number
  #connectTimeoutMs: number
  #lockKey: string
  #maintainLockKey: string
  #pool: PgPoolLike | null
  #ownsPool: boolean
  #ready: Promise<void> | null = null
  #closed = false
  #where: string
  #retention: Retention
  #waiting: WaitingRecord[] = []
  #writers = 0
  /** connections in the pool, the store's own or the one handed in */
  #poolSize: number
  /** the connections reads may hold; writes always find the rest (see postgres/read-share.ts) */
  #reads: ReadShare

  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError("faultline postgresStore: pass options like { connectionString: 'postgres://user@localhost/app' } or { pool }")
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) throw new TypeError(`faultline postgresStore: unknown option \`${key}\`. Known options: ${OPTION_KEYS.join(', ')}.`)
    }
    const { connectionString, pool } = options
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new TypeError("faultline postgresStore: pass exactly one of `connectionString` ('postgres://user@localhost/app') or `pool` (a pg.Pool)")
    }
    if (connectionString !== undefined && (typeof connectionString !== 'string' || !connectionString)) {
      throw new TypeError("faultline postgresStore: `connectionString` must be a URL like 'postgres://user:password@localhost:5432/app'")
    }
    if (pool !== undefined && (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function' || typeof pool.connect !== 'function')) {
      throw new TypeError('faultline postgresStore: `pool` must be a pg.Pool (something with query() and connect())')
    }
    if (options.max !== undefined && (!Number.isInteger(options.max) || options.max < 1)) {
      throw new TypeError(`faultline postgresStore: \`max\` must be a positive integer, got ${String(options.max)}`)
    }
    this.#options = options
    this.#tables = tableNames(options.schema ?? 'public', options.tablePrefix ?? 'faultline_')
    this.#timeoutMs = timeoutOption('statementTimeout', options.statementTimeout)
    this.#connectTimeoutMs = timeoutOption('connectionTimeout', options.connectionTimeout)
    // one advisory lock per schema and prefix: stores on other tables migrate independently
    this.#lockKey = advisoryLockKey(`faultline:${this.#tables.issues}`)
    this.#maintainLockKey = advisoryLockKey(`faultline maintenance:${this.#tables.issues}`)
    this.#pool = pool ?? null
    this.#ownsPool = pool === undefined
    this.#poolSize = pool === undefined ? options.max ?? DEFAULT_POOL_SIZE : sizeOf(pool)
    this.#reads = new ReadShare(readShareOf(this.#poolSize))
    this.#where = connectionString ? describeTarget(connectionString) : 'the given pool'
    this.#retention = options.retention === undefined ? DEFAULT_RETENTION : checkRetention(options.retention)
  }

  // -- plumbing ---------------------------------------------------------------------------------

  /** Creates the pool (loading pg) and migrates, once; a failure is retried by the next call. */
  #ensureReady(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('faultline postgres store: the store is closed'))
    if (!this.#ready) {
      this.#ready = this.#setUp().catch((err) => {
        this.#ready = null
        throw this.#wrap(err, 'connecting and migrating')
      })
    }
    return this.#ready
  }

  async #setUp(): Promise<void> {
    if (!this.#pool) this.#pool = await this.#createPool()
    await this.#migrate()
  }

  async #createPool(): Promise<PgPoolLike> {
    let pg: any
    try {
      pg = await import('pg')
    } catch (err) {
      const e = new Error('faultline postgres store: the `pg` package is not installed. Run: npm install pg', { cause: err })
      ;(e as any).code = 'FAULTLINE_PG_MISSING'
      throw e
    }
    const Pool = pg.Pool ?? pg.default?.Pool
    const pool = new Pool({
      connectionString: this.#options.connectionString,
      max: this.#poolSize,
      connectionTimeoutMillis: this.#connectTimeoutMs,
      // the server cancels a slow statement; the client gives up a second later if the network stalled
      statement_timeout: this.#timeoutMs,
      query_timeout: this.#timeoutMs + 1000,
      // a client that died mid-transaction must not hold an issue row locked
      idle_in_transaction_session_timeout: this.#timeoutMs * 2,
      application_name: 'faultline',
      // idle connections must never keep the host process alive
      allowExitOnIdle: true,
    })
    // An idle connection dropped by the server emits 'error' on the pool, which would crash the
    // host app without a listener. The next query reports the outage, so nothing is lost here.
    pool.on('error', () => {})
    return pool
  }

  async #migrate(): Promise<void> {
    const t = this.#tables
    const list = migrations(t, { keys: MAX_TAG_KEYS, values: MAX_TAG_VALUES })
    const latest = list[list.length - 1].version
    // fast path: an up-to-date schema needs no lock, so many instances start without queueing
    try {
      const { rows } = await this.#pool!.query({ text: `SELECT max(version) AS v FROM ${t.migrations}`, query_timeout: this.#timeoutMs + 1000 })
      if (rows[0]?.v >= latest) return
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01') throw err // 42P01: no migrations table yet
    }
    await this.#transaction(async (q) => {
      await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`, [], MIGRATION_TIMEOUT_MS + 1000)
      // several instances starting at once: one migrates, the others wait here and then find it done
      await q('SELECT pg_advisory_xact_lock($1)', [this.#lockKey], MIGRATION_TIMEOUT_MS + 1000)
      // stores with other table prefixes migrate under other locks, but share the schema
      await q('SELECT pg_advisory_xact_lock($1)', [advisoryLockKey(`faultline schema:${t.schema}`)], MIGRATION_TIMEOUT_MS + 1000)
      await q(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`, [])
      await q(`CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`, [])
      const { rows } = await q(`SELECT coalesce(max(version), 0) AS v FROM ${t.migrations}`, [])
      for (const migration of list) {
        if (migration.version <= rows[0].v) continue
        for (const statement of migration.statements) await q(statement, [], MIGRATION_TIMEOUT_MS + 1000)
        await q(`INSERT INTO ${t.migrations} (version) VALUES ($1)`, [migration.version])
      }
    }, MIGRATION_TIMEOUT_MS + 1000)
  }

  /** One statement on any pooled connection, after setup. */
  async #query(action: string, text: string, values: unknown[] = []): Promise<PgResult> {
    await this.#ensureReady()
    try {
      return await this.#pool!.query({ text, values, query_timeout: this.#timeoutMs + 1000 })
    } catch (err) {
      throw this.#wrap(err, action)
    }
  }

  /**
   * A read: one statement within the read share of the pool. A read that finds no slot in time
   * fails as one that finds no free connection does, so the panel says the store is busy.
   */
  async #read(action: string, text: string, values: unknown[] = []): Promise<PgResult> {
    await this.#ensureReady()
    if (!(await this.#reads.acquire(this.#connectTimeoutMs))) {
      const error = new Error(`faultline postgres store: ${action} found no free connection within ${this.#connectTimeoutMs} ms: ` +
        `the ${this.#reads.size} of ${this.#poolSize} that reads may use are busy (the rest are kept for writing events); ` +
        'the database is slow, or raise max or connectionTimeout')
      throw Object.assign(error, { faultline: true })
    }
    try {
      return await this.#query(action, text, values)
    } finally {
      this.#reads.release()
    }
  }

  /** Runs `fn` in one transaction on one connection; rolls back (or drops the connection) on failure. */
  async #transaction<T>(fn: (q: Querier) => Promise<T>, timeout = this.#timeoutMs + 1000): Promise<T> {
    const client = await this.#pool!.connect()
    const q: Querier = (text, values, t = timeout) => client.query({ text, values, query_timeout: t })
    let result: T
    try {
      await q('BEGIN', [])
      result = await fn(q)
      await q('COMMIT', [])
    } catch (err) {
      try {
        await q('ROLLBACK', [], this.#timeoutMs)
        client.release()
      } catch {
        // the connection is in an unknown state (timed out, cut off): destroy it rather than reuse it
        client.release(true)
      }
      throw err
    }
    client.release()
    return result
  }

  /** A transaction after setup, with errors that say what failed. */
  async #inTransaction<T>(action: string, fn: (q: Querier) => Promise<T>): Promise<T> {
    await this.#ensureReady()
    try {
      return await this.#transaction(fn)
    } catch (err) {
      throw this.#wrap(err, action)
    }
  }

  /** Turns driver errors into ones that say what failed and where, without the password. */
  #wrap(err: unknown, action: string): Error {
    if (err instanceof TypeError || (err as any)?.faultline) return err as Error
    const e = err as { code?: string; message?: string }
    const message = String(e?.message ?? err)
    let text: string
    if (e?.code === 'FAULTLINE_PG_MISSING') return err as Error
    if (e?.code === '57014' || /Query read timeout/.test(message)) {
      text = `${action} timed out after ${this.#timeoutMs} ms (${message}); the database is stalled or overloaded, or raise statementTimeout`
    } else if (/timeout exceeded when trying to connect/.test(message) && this.#poolIsFull()) {
      // pg-pool gives the same message for a busy pool as for a slow connect
      text = `${action} found no free connection within ${this.#connectTimeoutMs} ms: all ${this.#poolSize} are busy; the database is slow, or raise max or connectionTimeout`
    } else if (CONNECTION_CODES.has(e?.code ?? '') || /timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(message)) {
      text = `${action} failed: PostgreSQL at ${this.#where} is unreachable (${message}); check that it is running and that connectionString is right`
    } else {
      text = `${action} failed: ${message}`
    }
    const wrapped = new Error(`faultline postgres store: ${text}`, { cause: err })
    Object.assign(wrapped, { code: e?.code, faultline: true })
    return wrapped
  }

  #poolIsFull(): boolean {
    const pool = this.#pool as { totalCount?: number } | null
    // a pool handed in is measured too: its size is known (see sizeOf), and the app's own queries fill it as well
    return typeof pool?.totalCount === 'number' && pool.totalCount >= this.#poolSize
  }

  // -- writing ----------------------------------------------------------------------------------

  /**
   * Group commit: while a write is in flight, further records wait and go into the next one,
   * so one statement (one transaction, one commit) stores many events. A lone event is written
   * at once. Each caller still gets its own result, and one event the database refuses fails alone.
   */
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
      `SELECT x.n, ${this.#tables.record}(x.event_id, x.issue_id, x.ts, x.data, x.shed, x.fingerprint, x.title, x.culprit, x.type, x.message,
           x.level, x.release, x.environment, x.user_key, x.tags, x.hour, $17) AS r
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::boolean[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
           $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[], $16::timestamptz[])
           WITH ORDINALITY AS x(event_id, issue_id, ts, data, shed, fingerprint, title, culprit, type, message, level, release, environment, user_key, tags, hour, n)`,
      [column('eventId'), column('issueId'), column('at'), column('data'), column('shed'), column('fingerprint'), column('title'), column('culprit'),
        column('type'), column('message'), column('level'), column('release'), column('environment'), column('user'), column('tags'),
        column('hour'), new Date()],
    )
    const results: Array<RecordResult | Error> = new Array(rows.length)
    for (const { n, r } of recorded) {
      const i = order[Number(n) - 1]
      results[i] = r.issue?.id == null
        ? new Error(`faultline postgres store: record failed: event ${rows[i].eventId} is stored under another issue`)
        : { issue: toIssue(r.issue), isNew: r.is_new, isRegression: r.is_regression, unignored: r.unignored }
    }
    return results
  }

  async updateIssue(id: string, update: IssueUpdate): Promise<Issue | null> {
    const checked = checkUpdate(update)
    if (!isIssueId(id)) return null
    const until = checked.status === 'ignored' ? checked.until : null
    const { rows } = await this.#query('updateIssue',
      `UPDATE ${this.#tables.issues} SET
         status = $2,
         resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END,
         regressed = CASE WHEN $2 = 'resolved' THEN false ELSE regressed END,
         until_count = count + $4::bigint,
         until_users = user_count + $5::bigint,
         until_at = $6::timestamptz
       WHERE id = $1 RETURNING *`,
      [id, checked.status, new Date(),
        until && 'events' in until ? until.events : null,
        until && 'users' in until ? until.users : null,
        until && 'forMs' in until ? new Date(Date.now() + until.forMs) : null],
    )
    return rows[0] ? toIssue(rows[0]) : null
  }

  async deleteIssue(id: string): Promise<boolean> {
    if (!isIssueId(id)) return false
    const t = this.#tables
    return this.#inTransaction<boolean>('deleteIssue', async (q) => {
      // not while an instance prunes events: the two deletes would take event rows in different orders
      await q('SELECT pg_advisory_xact_lock_shared($1)', [this.#maintainLockKey])
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
    const { rows } = await this.#query('claimAlert',
      `INSERT INTO ${t.alerts} AS a (key, issue_id, claimed_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key) DO UPDATE SET issue_id = excluded.issue_id, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
         WHERE a.expires_at IS NOT NULL AND a.expires_at <= excluded.claimed_at
       RETURNING 1`,
      [clean(key), clean(options.issueId), new Date(), expiresAt],
    )
    return rows.length === 1
  }

  /**
   * Instances sharing the database take turns: the one holding the maintenance lock does the
   * work and the others skip the round, so their deletes never deadlock each other.
   */
  async maintain(options: MaintainOptions): Promise<MaintainResult> {
    const args = maintainArguments(options, this.#retention)
    this.#retention = args.retention
    await this.#ensureReady()
    let client: PgClientLike
    try {
      client = await this.#pool!.connect()
    } catch (err) {
      throw this.#wrap(err, 'maintain')
    }
    const lock = (fn: string) => client.query({ text: `SELECT ${fn}($1) AS ok`, values: [this.#maintainLockKey], query_timeout: this.#timeoutMs + 1000 })
    let broken = false
    try {
      if (!(await lock('pg_try_advisory_lock')).rows[0].ok) return { prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 }
      try {
        // on the lock's own connection: a pool of one must not wait for a second
        const run: Querier = (text, values) => client.query({ text, values, query_timeout: this.#timeoutMs + 1000 })
        return await this.#maintainLocked(args, run)
      } finally {
        await lock('pg_advisory_unlock')
      }
    } catch (err) {
      // a connection that failed mid-way may still hold the lock: destroying it releases the lock
      broken = true
      throw this.#wrap(err, 'maintain')
    } finally {
      client.release(broken)
    }
  }

  async #maintainLocked({ now, retention, autoResolveBefore }: ReturnType<typeof maintainArguments>, run: Querier): Promise<MaintainResult> {
    const t = this.#tables
    const result: MaintainResult = { prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 }

    // issue rows are locked in id order, as record locks them, so these updates never deadlock with a record
    if (autoResolveBefore !== null) {
      const resolved = await run(
        `UPDATE ${t.issues} SET status = 'resolved', resolved_at = $2, regressed = false
         WHERE id IN (SELECT id FROM ${t.issues} WHERE status = 'unresolved' AND last_seen < $1 ORDER BY id FOR UPDATE)
           AND status = 'unresolved' AND last_seen < $1`, [new Date(autoResolveBefore), new Date(now)])
      result.resolvedIssues = resolved.rowCount ?? 0
    }
    const unignored = await run(
      `UPDATE ${t.issues} SET status = 'unresolved', until_count = NULL, until_users = NULL, until_at = NULL
       WHERE id IN (SELECT id FROM ${t.issues} WHERE status = 'ignored' AND until_at <= $1 ORDER BY id FOR UPDATE)
         AND status = 'ignored' AND until_at <= $1`, [new Date(now)])
    result.unignoredIssues = unignored.rowCount ?? 0

    const max = retention.maxEventsPerIssue
    // the cap is on kept events (data IS NOT NULL); shed rows go by age below. Only issues that ever
    // kept more events than the cap can be over it; count at most cap+1 rows each
    const { rows: over } = await run(
      `SELECT id FROM ${t.issues} i WHERE i.count - i.shed > $1
         AND (SELECT count(*) FROM (SELECT 1 FROM ${t.events} e WHERE e.issue_id = i.id AND e.data IS NOT NULL LIMIT $1 + 1) x) > $1`, [max])
    for (const { id } of over) {
      result.prunedEvents += await this.#deleteInBatches(run,
        `DELETE FROM ${t.events} WHERE event_id IN (
           SELECT event_id FROM ${t.events} WHERE issue_id = $1 AND data IS NOT NULL ORDER BY ts DESC, event_id DESC OFFSET $2 LIMIT ${PRUNE_BATCH})`, [id, max])
    }
    result.prunedEvents += await this.#deleteInBatches(run,
      `DELETE FROM ${t.events} WHERE event_id IN (SELECT event_id FROM ${t.events} WHERE ts < $1 AND data IS NOT NULL LIMIT ${PRUNE_BATCH})`,
      [new Date(now - retention.maxAgeMs)])
    // shed rows counted their event already and hold no body: not pruned events, only the gate against retries
    await this.#deleteInBatches(run,
      `DELETE FROM ${t.events} WHERE event_id IN (SELECT event_id FROM ${t.events} WHERE ts < $1 AND data IS NULL LIMIT ${PRUNE_BATCH})`,
      [new Date(now - SHED_KEEP_MS)])
    await this.#deleteInBatches(run,
      `DELETE FROM ${t.hourly} WHERE ctid = ANY (ARRAY (SELECT ctid FROM ${t.hourly} WHERE hour < $1 LIMIT ${PRUNE_BATCH}))`,
      [new Date(now - Math.max(retention.maxAgeMs, HOURLY_KEEP_MS))])
    await this.#deleteInBatches(run,
      `DELETE FROM ${t.recent} WHERE ctid = ANY (ARRAY (SELECT ctid FROM ${t.recent} WHERE at < $1 LIMIT ${PRUNE_BATCH}))`,
      [new Date(now - RECENT_KEEP_MS)])
    await this.#deleteInBatches(run,
      `DELETE FROM ${t.alerts} WHERE key IN (SELECT key FROM ${t.alerts} WHERE expires_at <= $1 LIMIT ${PRUNE_BATCH})`, [new Date(now)])
    return result
  }

  /** Repeats a DELETE of at most PRUNE_BATCH rows until it deletes fewer; returns the total. */
  async #deleteInBatches(run: Querier, text: string, values: unknown[]): Promise<number> {
    let total = 0
    for (;;) {
      const { rowCount } = await run(text, values)
      total += rowCount ?? 0
      if ((rowCount ?? 0) < PRUNE_BATCH) return total
    }
  }

  // -- reading ----------------------------------------------------------------------------------

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

  /** SQL conditions for search terms (see lib/search.ts); values are pushed as parameters. */
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

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // a pool handed in belongs to the app, which may still use it
    if (this.#ownsPool && this.#pool) await this.#pool.end()
  }
}

// -- helpers ------------------------------------------------------------------------------------

function param(values: unknown[], value: unknown): string {
  values.push(typeof value === 'string' ? clean(value) : value)
  return `$${values.length}`
}

/** The size of a pool handed in, as pg.Pool keeps it in `options.max`; pg's default when it does not say. */
function sizeOf(pool: PgPoolLike): number {
  const max = pool.options?.max
  return typeof max === 'number' && Number.isInteger(max) && max >= 1 ? max : DEFAULT_POOL_SIZE
}

function timeoutOption(name: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS
  const ms = parseDuration(value)
  if (ms === null || ms > 2_147_483_647) throw new TypeError(`faultline postgresStore: \`${name}\` must be milliseconds or a duration like '5s', got ${JSON.stringify(value)}`)
  return Math.ceil(ms)
}

/** host:port/database of a connection string, never its password. */
function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString)
    return `${url.hostname || 'localhost'}:${url.port || 5432}${url.pathname}`
  } catch {
    return 'the configured database'
  }
}

/** The tags the event counts under (see shared/counted-facts.ts), with what PostgreSQL's text cannot hold replaced. */
function tagList(event: FaultlineEvent, level: Level): Array<[string, string]> {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  const implicit = { environment: text(event.environment), release: text(event.release), server_name: text(event.server_name), level }
  return withImplicitTags(ownTags(event.tags), implicit).map(([key, value]) => [clean(key), clean(value)])
}

/** PostgreSQL text refuses NUL characters (and lone surrogates cannot be UTF-8); attacker-controlled strings may hold them. */
function clean(value: string): string {
  return String(value ?? '').replace(/\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD')
}

/**
 * JSON for a jsonb column: jsonb refuses the escapes \u0000 and lone surrogates (\ud800), which
 * JSON.stringify writes for such characters, so they become U+FFFD. Escapes preceded by an odd
 * number of backslashes are real escapes; an even number means a literal backslash before "u".
 */
function toJson(value: unknown): string {
  return jsonbSafe(JSON.stringify(value))
}

function jsonbSafe(json: string): string {
  return json.replace(/(\\+)u(0000|d[89a-f][0-9a-f]{2})/gi, (match, slashes: string) =>
    slashes.length % 2 === 1 ? slashes.slice(1) + '\\ufffd' : match)
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string)
}

function iso(value: unknown): string {
  return toDate(value).toISOString()
}

function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value)
}

function toIssue(r: any): Issue {
  let ignoreUntil: IgnoreUntil | null = null
  if (r.until_count !== null || r.until_users !== null || r.until_at !== null) {
    ignoreUntil = {}
    if (r.until_count !== null) ignoreUntil.count = Number(r.until_count)
    if (r.until_users !== null) ignoreUntil.userCount = Number(r.until_users)
    if (r.until_at !== null) ignoreUntil.at = iso(r.until_at)
  }
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    title: r.title,
    culprit: r.culprit,
    type: r.type,
    message: r.message,
    level: r.level,
    status: r.status,
    regressed: r.regressed,
    count: Number(r.count),
    userCount: Number(r.user_count),
    firstSeen: iso(r.first_seen),
    lastSeen: iso(r.last_seen),
    firstRelease: r.first_release,
    lastRelease: r.last_release,
    environments: r.environments,
    resolvedAt: isoOrNull(r.resolved_at),
    ignoreUntil,
    regressedAt: isoOrNull(r.regressed_at),
    countSinceRegression: Number(r.count_since_regression),
    usersSinceRegression: Number(r.users_since_regression),
    shed: Number(r.shed ?? 0),
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
    user: countedUser(input),
    tags: toJson(tagList(event, level)),
    hour: new Date(Math.floor(at.getTime() / HOUR) * HOUR),
  }
}

/** Whether an error means the database is out of reach or stalled (as opposed to refusing one statement). */
function isOutage(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return CONNECTION_CODES.has(e?.code ?? '') || e?.code === '57014' || /timed out|timeout|unreachable|terminated|no free connection|closed/i.test(String(e?.message ?? ''))
}

/** A 64-bit advisory lock key for a name: locks of stores on other tables never collide. */
function advisoryLockKey(name: string): string {
  return BigInt.asIntN(64, BigInt('0x' + createHash('sha256').update(name).digest('hex').slice(0, 16))).toString()
}
