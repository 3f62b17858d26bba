/**
 * Bringing the database up to this release's schema (see schema.ts), once per store on first use.
 * Several instances may start at once on an empty database: advisory locks let one migrate while
 * the others wait and then find it done.
 */
import { MAX_TAG_KEYS, MAX_TAG_VALUES } from '../shared/issue-index.js'
import { advisoryLockKey, type PgResult, type Querier } from './connection.js'
import { migrations, type Tables } from './schema.js'

/** migrations may wait for another instance migrating, and DDL may take a while on big tables */
const MIGRATION_TIMEOUT_MS = 60_000

/** What migrating needs of the connection while it is being set up. */
export interface MigrationConnection {
  querySettingUp(text: string): Promise<PgResult>
  transaction<T>(fn: (q: Querier) => Promise<T>, timeout: number): Promise<T>
}

export async function migrate(connection: MigrationConnection, t: Tables): Promise<void> {
  const list = migrations(t, { keys: MAX_TAG_KEYS, values: MAX_TAG_VALUES })
  const latest = list[list.length - 1].version
  // fast path: an up-to-date schema needs no lock, so many instances start without queueing
  try {
    const { rows } = await connection.querySettingUp(`SELECT max(version) AS v FROM ${t.migrations}`)
    if (rows[0]?.v >= latest) return
  } catch (err) {
    if ((err as { code?: string }).code !== '42P01') throw err // 42P01: no migrations table yet
  }
  await connection.transaction(async (q) => {
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`, [], MIGRATION_TIMEOUT_MS + 1000)
    // several instances starting at once: one migrates, the others wait here and then find it done
    // (one advisory lock per schema and prefix: stores on other tables migrate independently)
    await q('SELECT pg_advisory_xact_lock($1)', [advisoryLockKey(`faultline:${t.issues}`)], MIGRATION_TIMEOUT_MS + 1000)
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
