/**
 * The PostgreSQL store's connection to its database: the pool (made here, loading `pg`, unless
 * the app hands one in), the timeouts every statement runs under, the share of the pool reads may
 * hold, transactions, and errors that say what failed and where. Setup (making the pool and
 * migrating) happens on first use and is retried by the next call after a failure.
 */
import { createHash } from 'node:crypto'
import { parseDuration } from '../../common/duration.js'
import { ReadShare, readShareOf } from './read-share.js'

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

/** Runs one statement inside a transaction; `timeout` (ms) bounds the wait on the client side. */
export type Querier = (text: string, values: unknown[], timeout?: number) => Promise<PgResult>

/** Runs one statement after setup; `action` names the store method in the error if it fails. */
export type Query = (action: string, text: string, values?: unknown[]) => Promise<PgResult>

/** The store's options that concern the connection. */
export interface ConnectionOptions {
  connectionString?: string
  pool?: PgPoolLike
  statementTimeout?: number | string
  connectionTimeout?: number | string
  max?: number
}

const DEFAULT_TIMEOUT_MS = 5000
/** pg.Pool's own default size, for the store's pool and for a pool handed in that does not say */
const DEFAULT_POOL_SIZE = 10

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '53300'])

export class Connection {
  /** the longest one statement may run on the server */
  readonly timeoutMs: number
  /** the longest to wait for a connection */
  #connectTimeoutMs: number
  /** connections in the pool, the store's own or the one handed in */
  #poolSize: number
  #connectionString: string | undefined
  #pool: PgPoolLike | null
  #ownsPool: boolean
  #where: string
  /** the connections reads may hold; writes always find the rest (see read-share.ts) */
  #reads: ReadShare
  #setUpDatabase: (connection: Connection) => Promise<void>
  #ready: Promise<void> | null = null
  #closed = false

  /** `setUpDatabase` runs once the pool is there, before any statement of the store's (the migrations). */
  constructor(options: ConnectionOptions, setUpDatabase: (connection: Connection) => Promise<void>) {
    const { connectionString, pool } = options
    this.timeoutMs = timeoutOption('statementTimeout', options.statementTimeout)
    this.#connectTimeoutMs = timeoutOption('connectionTimeout', options.connectionTimeout)
    this.#connectionString = connectionString
    this.#pool = pool ?? null
    this.#ownsPool = pool === undefined
    this.#poolSize = pool === undefined ? options.max ?? DEFAULT_POOL_SIZE : sizeOf(pool)
    this.#reads = new ReadShare(readShareOf(this.#poolSize))
    this.#where = connectionString ? describeTarget(connectionString) : 'the given pool'
    this.#setUpDatabase = setUpDatabase
  }

  /** Creates the pool (loading pg) and sets the database up (migrates), once; a failure is retried by the next call. */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('faultline: postgres store: the store is closed'))
    if (!this.#ready) {
      this.#ready = this.#setUp().catch((err) => {
        this.#ready = null
        throw this.wrap(err, 'connecting and migrating')
      })
    }
    return this.#ready
  }

  async #setUp(): Promise<void> {
    if (!this.#pool) this.#pool = await this.#createPool()
    await this.#setUpDatabase(this)
  }

  async #createPool(): Promise<PgPoolLike> {
    let pg: any
    try {
      pg = await import('pg')
    } catch (err) {
      const e = new Error('faultline: postgres store: the `pg` package is not installed. Run: npm install pg', { cause: err })
      ;(e as any).code = 'FAULTLINE_PG_MISSING'
      throw e
    }
    const Pool = pg.Pool ?? pg.default?.Pool
    const pool = new Pool({
      connectionString: this.#connectionString,
      max: this.#poolSize,
      connectionTimeoutMillis: this.#connectTimeoutMs,
      // the server cancels a slow statement; the client gives up a second later if the network stalled
      statement_timeout: this.timeoutMs,
      query_timeout: this.timeoutMs + 1000,
      // a client that died mid-transaction must not hold an issue row locked
      idle_in_transaction_session_timeout: this.timeoutMs * 2,
      application_name: 'faultline',
      // idle connections must never keep the host process alive
      allowExitOnIdle: true,
    })
    // An idle connection dropped by the server emits 'error' on the pool, which would crash the
    // host app without a listener. The next query reports the outage, so nothing is lost here.
    pool.on('error', () => {})
    return pool
  }

  /** One statement on any pooled connection, during setup: unwrapped, as setup wraps its own failure. */
  querySettingUp(text: string): Promise<PgResult> {
    return this.#pool!.query({ text, query_timeout: this.timeoutMs + 1000 })
  }

  /** One statement on any pooled connection, after setup. */
  async query(action: string, text: string, values: unknown[] = []): Promise<PgResult> {
    await this.ready()
    try {
      return await this.#pool!.query({ text, values, query_timeout: this.timeoutMs + 1000 })
    } catch (err) {
      throw this.wrap(err, action)
    }
  }

  /**
   * A read: one statement within the read share of the pool. A read that finds no slot in time
   * fails as one that finds no free connection does, so the panel says the store is busy.
   */
  async read(action: string, text: string, values: unknown[] = []): Promise<PgResult> {
    await this.ready()
    if (!(await this.#reads.acquire(this.#connectTimeoutMs))) {
      const error = new Error(`faultline: postgres store: ${action} found no free connection within ${this.#connectTimeoutMs} ms: ` +
        `the ${this.#reads.size} of ${this.#poolSize} that reads may use are busy (the rest are kept for writing events); ` +
        'the database is slow, or raise max or connectionTimeout')
      throw Object.assign(error, { faultline: true })
    }
    try {
      return await this.query(action, text, values)
    } finally {
      this.#reads.release()
    }
  }

  /** A connection of the pool to itself, after setup; give it back with `release`. */
  async connect(action: string): Promise<PgClientLike> {
    await this.ready()
    try {
      return await this.#pool!.connect()
    } catch (err) {
      throw this.wrap(err, action)
    }
  }

  /** Runs `fn` in one transaction on one connection; rolls back (or drops the connection) on failure. */
  async transaction<T>(fn: (q: Querier) => Promise<T>, timeout = this.timeoutMs + 1000): Promise<T> {
    const client = await this.#pool!.connect()
    const q: Querier = (text, values, t = timeout) => client.query({ text, values, query_timeout: t })
    let result: T
    try {
      await q('BEGIN', [])
      result = await fn(q)
      await q('COMMIT', [])
    } catch (err) {
      try {
        await q('ROLLBACK', [], this.timeoutMs)
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
  async inTransaction<T>(action: string, fn: (q: Querier) => Promise<T>): Promise<T> {
    await this.ready()
    try {
      return await this.transaction(fn)
    } catch (err) {
      throw this.wrap(err, action)
    }
  }

  /** Turns driver errors into ones that say what failed and where, without the password. */
  wrap(err: unknown, action: string): Error {
    if (err instanceof TypeError || (err as any)?.faultline) return err as Error
    const e = err as { code?: string; message?: string }
    const message = String(e?.message ?? err)
    let text: string
    if (e?.code === 'FAULTLINE_PG_MISSING') return err as Error
    if (e?.code === '57014' || /Query read timeout/.test(message)) {
      text = `${action} timed out after ${this.timeoutMs} ms (${message}); the database is stalled or overloaded, or raise statementTimeout`
    } else if (/timeout exceeded when trying to connect/.test(message) && this.#poolIsFull()) {
      // pg-pool gives the same message for a busy pool as for a slow connect
      text = `${action} found no free connection within ${this.#connectTimeoutMs} ms: all ${this.#poolSize} are busy; the database is slow, or raise max or connectionTimeout`
    } else if (CONNECTION_CODES.has(e?.code ?? '') || /timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(message)) {
      text = `${action} failed: PostgreSQL at ${this.#where} is unreachable (${message}); check that it is running and that connectionString is right`
    } else {
      text = `${action} failed: ${message}`
    }
    const wrapped = new Error(`faultline: postgres store: ${text}`, { cause: err })
    Object.assign(wrapped, { code: e?.code, faultline: true })
    return wrapped
  }

  #poolIsFull(): boolean {
    const pool = this.#pool as { totalCount?: number } | null
    // a pool handed in is measured too: its size is known (see sizeOf), and the app's own queries fill it as well
    return typeof pool?.totalCount === 'number' && pool.totalCount >= this.#poolSize
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // a pool handed in belongs to the app, which may still use it
    if (this.#ownsPool && this.#pool) await this.#pool.end()
  }
}

/** Whether an error means the database is out of reach or stalled (as opposed to refusing one statement). */
export function isOutage(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return CONNECTION_CODES.has(e?.code ?? '') || e?.code === '57014' || /timed out|timeout|unreachable|terminated|no free connection|closed/i.test(String(e?.message ?? ''))
}

/** A 64-bit advisory lock key for a name: locks of stores on other tables never collide. */
export function advisoryLockKey(name: string): string {
  return BigInt.asIntN(64, BigInt('0x' + createHash('sha256').update(name).digest('hex').slice(0, 16))).toString()
}

/** The size of a pool handed in, as pg.Pool keeps it in `options.max`; pg's default when it does not say. */
function sizeOf(pool: PgPoolLike): number {
  const max = pool.options?.max
  return typeof max === 'number' && Number.isInteger(max) && max >= 1 ? max : DEFAULT_POOL_SIZE
}

function timeoutOption(name: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS
  const ms = parseDuration(value)
  if (ms === null || ms > 2_147_483_647) throw new TypeError(`faultline: postgresStore: \`${name}\` must be milliseconds or a duration like '5s', got ${JSON.stringify(value)}`)
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
