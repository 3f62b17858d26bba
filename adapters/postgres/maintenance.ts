/**
 * The PostgreSQL store's maintenance: auto-resolving and un-ignoring issues, then deleting what
 * retention no longer keeps (events beyond the cap or too old, shed events' rows, old counters,
 * expired alert claims), in short batches so that no lock is held for long.
 */
import { DAY, HOUR } from '../../common/duration.js'
import type { MaintainOptions, MaintainResult, Retention } from '../../lib/types.js'
import { maintainArguments } from '../shared/arguments.js'
import { advisoryLockKey, type PgClientLike, type Querier } from './connection.js'
import { trimActivity, type Tables } from './schema.js'

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

/** What maintenance needs of the connection. */
export interface MaintenanceConnection {
  /** the longest one statement may run on the server */
  readonly timeoutMs: number
  connect(action: string): Promise<PgClientLike>
  wrap(err: unknown, action: string): Error
}

export class Maintenance {
  #connection: MaintenanceConnection
  #tables: Tables
  /** what maintain() keeps when it is not given a retention: the last one it was given, else the store's option */
  #retention: Retention
  /** held by the instance maintaining; deleteIssue takes it shared */
  readonly lockKey: string

  constructor(connection: MaintenanceConnection, tables: Tables, retention: Retention) {
    this.#connection = connection
    this.#tables = tables
    this.#retention = retention
    this.lockKey = advisoryLockKey(`faultline maintenance:${tables.issues}`)
  }

  /**
   * Instances sharing the database take turns: the one holding the maintenance lock does the
   * work and the others skip the round, so their deletes never deadlock each other.
   */
  async maintain(options: MaintainOptions): Promise<MaintainResult> {
    const args = maintainArguments(options, this.#retention)
    this.#retention = args.retention
    const client = await this.#connection.connect('maintain')
    const lock = (fn: string) => client.query({ text: `SELECT ${fn}($1) AS ok`, values: [this.lockKey], query_timeout: this.#connection.timeoutMs + 1000 })
    let broken = false
    try {
      if (!(await lock('pg_try_advisory_lock')).rows[0].ok) return { prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 }
      try {
        // on the lock's own connection: a pool of one must not wait for a second
        const run: Querier = (text, values) => client.query({ text, values, query_timeout: this.#connection.timeoutMs + 1000 })
        return await this.#maintainLocked(args, run)
      } finally {
        await lock('pg_advisory_unlock')
      }
    } catch (err) {
      // a connection that failed mid-way may still hold the lock: destroying it releases the lock
      broken = true
      throw this.#connection.wrap(err, 'maintain')
    } finally {
      client.release(broken)
    }
  }

  async #maintainLocked({ now, retention, autoResolveBefore }: ReturnType<typeof maintainArguments>, run: Querier): Promise<MaintainResult> {
    const t = this.#tables
    const result: MaintainResult = { prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 }

    // issues given a line in the log this round, whose logs are trimmed at the end
    const logged = new Set<string>()
    const at = new Date(now)

    // issue rows are locked in id order, as record locks them, so these updates never deadlock with a
    // record; each change and its line in the log are one statement, so they commit together
    if (autoResolveBefore !== null) {
      const { rows } = await run(
        `WITH resolved AS (
           UPDATE ${t.issues} SET status = 'resolved', resolved_at = $2, regressed = false, resolved_in_release = NULL
           WHERE id IN (SELECT id FROM ${t.issues} WHERE status = 'unresolved' AND last_seen < $1 ORDER BY id FOR UPDATE)
             AND status = 'unresolved' AND last_seen < $1
           RETURNING id),
         logged AS (INSERT INTO ${t.activity} (issue_id, kind, at, actor) SELECT id, 'auto_resolved', $2, 'faultline' FROM resolved)
         SELECT id FROM resolved`, [new Date(autoResolveBefore), at])
      result.resolvedIssues = rows.length
      for (const { id } of rows) logged.add(id)
    }
    const { rows: unignored } = await run(
      `WITH unignored AS (
         UPDATE ${t.issues} SET status = 'unresolved', until_count = NULL, until_users = NULL, until_at = NULL
         WHERE id IN (SELECT id FROM ${t.issues} WHERE status = 'ignored' AND until_at <= $1 ORDER BY id FOR UPDATE)
           AND status = 'ignored' AND until_at <= $1
         RETURNING id),
       logged AS (INSERT INTO ${t.activity} (issue_id, kind, at, actor) SELECT id, 'unignored', $1, 'faultline' FROM unignored)
       SELECT id FROM unignored`, [at])
    result.unignoredIssues = unignored.length
    for (const { id } of unignored) logged.add(id)

    const max = retention.maxEventsPerIssue
    // the cap is on kept events (data IS NOT NULL); shed rows go by age below. Only issues that ever
    // kept more events than the cap can be over it; count at most cap+1 rows each
    const { rows: over } = await run(
      `SELECT id FROM ${t.issues} i WHERE i.count - i.shed > $1
         AND (SELECT count(*) FROM (SELECT 1 FROM ${t.events} e WHERE e.issue_id = i.id AND e.data IS NOT NULL LIMIT $1 + 1) x) > $1`, [max])
    for (const { id } of over) {
      result.prunedEvents += await this.#pruneInBatches(run,
        `DELETE FROM ${t.events} WHERE event_id IN (
           SELECT event_id FROM ${t.events} WHERE issue_id = $2 AND data IS NOT NULL ORDER BY ts DESC, event_id DESC OFFSET $3 LIMIT ${PRUNE_BATCH})`,
        [at, id, max], logged)
    }
    result.prunedEvents += await this.#pruneInBatches(run,
      `DELETE FROM ${t.events} WHERE event_id IN (SELECT event_id FROM ${t.events} WHERE ts < $2 AND data IS NOT NULL LIMIT ${PRUNE_BATCH})`,
      [at, new Date(now - retention.maxAgeMs)], logged)
    if (logged.size > 0) await run(trimActivity(t, '$1::text[]'), [[...logged]])
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

  /**
   * Deletes kept events in batches like #deleteInBatches, each batch in one statement with its
   * events_pruned lines in the log (`$1` is the round's time). As in every store, pruning right
   * after pruning adds to the issue's last line instead of writing another, so an issue nobody
   * looks at does not fill its log with them. Returns how many events went.
   */
  async #pruneInBatches(run: Querier, deleteEvents: string, values: unknown[], logged: Set<string>): Promise<number> {
    const t = this.#tables
    const text = `WITH deleted AS (${deleteEvents} RETURNING issue_id),
       pruned AS (SELECT issue_id, count(*) AS n FROM deleted GROUP BY issue_id),
       merged AS (
         UPDATE ${t.activity} a SET count = a.count + p.n, at = $1 FROM pruned p
         WHERE a.id = (SELECT max(id) FROM ${t.activity} WHERE issue_id = p.issue_id) AND a.kind = 'events_pruned'
         RETURNING a.issue_id),
       added AS (
         INSERT INTO ${t.activity} (issue_id, kind, at, actor, count)
         SELECT issue_id, 'events_pruned', $1, 'faultline', n FROM pruned WHERE issue_id NOT IN (SELECT issue_id FROM merged))
       SELECT issue_id, n FROM pruned`
    let total = 0
    for (;;) {
      const { rows } = await run(text, values)
      let deleted = 0
      for (const { issue_id, n } of rows) {
        deleted += Number(n)
        logged.add(issue_id)
      }
      total += deleted
      if (deleted < PRUNE_BATCH) return total
    }
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
}
