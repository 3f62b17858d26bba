/**
 * PostgreSQL for tests: where it is (FAULTLINE_TEST_PG, else the local default), whether it is
 * up, and a throwaway schema per test file so parallel runs never collide.
 *
 *   const pg = await testPostgres()
 *   describe.skipIf(!pg.available)('...', () => { ... pg.url ... pg.newSchema() ... })
 *
 * Unreachable and CI unset: the tests skip, with one line saying how to enable them.
 * Unreachable and CI set: this throws, so CI fails rather than silently skipping.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

export const TEST_PG_URL = process.env.FAULTLINE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
/** the URL for messages: a password in it is not printed */
const SHOWN_URL = TEST_PG_URL.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@')

export interface TestPostgres {
  available: boolean
  url: string
  /** a fresh schema name, `faultline_test_<random>`; drop it with dropSchema */
  newSchema(): string
  dropSchema(schema: string): Promise<void>
  /** runs one statement on a short-lived connection (for setup and inspection) */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>
}

let probe: Promise<boolean> | null = null

/** Checks once per test file whether PostgreSQL answers; see the header for CI behaviour. */
export async function testPostgres(): Promise<TestPostgres> {
  probe ??= reachable(TEST_PG_URL)
  const available = await probe
  if (!available) {
    if (process.env.CI) {
      throw new Error(`PostgreSQL is unreachable at ${SHOWN_URL} and CI is set: the PostgreSQL tests must run in CI. Start PostgreSQL or set FAULTLINE_TEST_PG.`)
    }
    sayOnce(`PostgreSQL tests skipped: nothing answers at ${SHOWN_URL}. Start PostgreSQL there or set FAULTLINE_TEST_PG=postgres://user@host:port/db to run them.`)
  }
  return {
    available,
    url: TEST_PG_URL,
    newSchema: () => `faultline_test_${randomBytes(5).toString('hex')}`,
    dropSchema: async (schema) => {
      if (!/^faultline_test_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}: not a test schema`)
      await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    },
    query,
  }
}

async function query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await client.query(text, values)
  } finally {
    await client.end()
  }
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/** One line per test run, not one per test file: the first worker to get here says it. */
function sayOnce(line: string): void {
  const marker = path.join(os.tmpdir(), `faultline-pg-skip-${process.ppid}`)
  try {
    closeSync(openSync(marker, 'wx'))
  } catch {
    return
  }
  console.warn(line)
}
