/**
 * The database misbehaving: unreachable at start, answering nothing, stalled on a lock, or
 * cut off mid-query. Every call must reject promptly with an error that says what happened,
 * nothing may reject unhandled, and the store must work again once the database is back.
 */
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { postgresStore } from '../../adapters/postgres.js'
import type { Store } from '../../lib/types.js'
import { testPostgres } from '../helpers/postgres.js'
import { recordInput } from './postgres-fixtures.js'
import { freePort, PgProxy as Proxy } from '../helpers/pg-proxy.js'

const db = await testPostgres()
const target = new URL(db.url)

async function timed<T>(promise: Promise<T>): Promise<{ ms: number; error: Error | null }> {
  const start = performance.now()
  try {
    await promise
    return { ms: performance.now() - start, error: null }
  } catch (error) {
    return { ms: performance.now() - start, error: error as Error }
  }
}

describe.skipIf(!db.available)('postgresStore when the database misbehaves', () => {
  const schema = db.newSchema()
  const stores: Store[] = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  beforeEach(() => {
    unhandled.length = 0
    process.on('unhandledRejection', onUnhandled)
  })
  afterEach(async () => {
    await new Promise((resolve) => setTimeout(resolve, 50))
    process.off('unhandledRejection', onUnhandled)
    expect(unhandled).toEqual([])
  })
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()))
    await db.dropSchema(schema)
  })

  function store(connectionString: string, more: { statementTimeout?: number; connectionTimeout?: number } = {}): Store {
    const s = postgresStore({ connectionString, schema, ...more })
    stores.push(s)
    return s
  }

  it('rejects promptly with a clear error while nothing listens, then works once the database is back', async () => {
    const proxy = new Proxy(await freePort())
    const s = store(proxy.url().replace('postgres@', 'postgres:hunter2@'))
    const calls = await Promise.all([timed(s.record(recordInput({ hash: 'down00000000001' }))), timed(s.listIssues()), timed(s.getIssue('down00000000001'))])
    for (const { ms, error } of calls) {
      expect(ms).toBeLessThan(2000)
      expect(error?.message).toMatch(/faultline: postgres store: .*PostgreSQL at 127\.0\.0\.1:\d+\/\w+ is unreachable/)
      expect(error?.message).not.toContain('hunter2')
    }
    await proxy.open()
    try {
      const result = await s.record(recordInput({ hash: 'down00000000001' }))
      expect(result).toMatchObject({ isNew: true, issue: { count: 1 } })
    } finally {
      await proxy.close()
    }
  })

  it('gives up on a server that accepts connections but never answers, after connectionTimeout', async () => {
    const silent = net.createServer((socket) => socket.on('error', () => {}))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const url = new URL(db.url)
    url.port = String((silent.address() as net.AddressInfo).port)
    url.hostname = '127.0.0.1'
    try {
      const { ms, error } = await timed(store(url.href, { connectionTimeout: 500 }).countIssues())
      expect(ms).toBeGreaterThanOrEqual(450)
      expect(ms).toBeLessThan(2500)
      expect(error?.message).toMatch(/unreachable \(.*timeout/i)
    } finally {
      silent.close()
    }
  })

  it('times out a statement stalled behind a lock, and answers again once the lock is gone', async () => {
    const s = store(db.url, { statementTimeout: 400 })
    await s.record(recordInput({ hash: 'stalled00000001' }))
    const holder = new pg.Client({ connectionString: db.url })
    await holder.connect()
    try {
      await holder.query('BEGIN')
      await holder.query(`LOCK TABLE "${schema}".faultline_issues IN ACCESS EXCLUSIVE MODE`)
      const read = await timed(s.getIssue('stalled00000001'))
      const write = await timed(s.record(recordInput({ hash: 'stalled00000001' })))
      for (const { ms, error } of [read, write]) {
        expect(ms).toBeGreaterThanOrEqual(350)
        expect(ms).toBeLessThan(2000)
        expect(error?.message).toMatch(/timed out after 400 ms/)
      }
    } finally {
      await holder.query('ROLLBACK')
      await holder.end()
    }
    // the timed-out record left nothing half-written
    expect(await s.getIssue('stalled00000001')).toMatchObject({ count: 1 })
    expect((await s.listEvents('stalled00000001')).events).toHaveLength(1)
  })

  it('gives up on a connection whose network froze mid-query, a second after statementTimeout', async () => {
    const proxy = new Proxy(await freePort())
    await proxy.open()
    try {
      const s = store(proxy.url(), { statementTimeout: 300 })
      await s.countIssues()
      proxy.frozen = true
      const { ms, error } = await timed(s.getIssue('frozen000000001'))
      expect(ms).toBeGreaterThanOrEqual(1200)
      expect(ms).toBeLessThan(3000)
      expect(error?.message).toMatch(/timed out after 300 ms/)
      proxy.frozen = false
      expect(await s.getIssue('frozen000000001')).toBeNull()
    } finally {
      await proxy.close()
    }
  })

  it('says to install pg when the package is missing', async () => {
    const dist = path.resolve('dist')
    expect(existsSync(path.join(dist, 'adapters/postgres.js')), 'build first: npx tsc -p .').toBe(true)
    // the package as npm installs it (dist, views, package.json) far from any node_modules, so `import('pg')` cannot resolve
    const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-nopg-'))
    try {
      cpSync(dist, path.join(dir, 'dist'), { recursive: true })
      cpSync(path.resolve('views'), path.join(dir, 'views'), { recursive: true })
      cpSync(path.resolve('package.json'), path.join(dir, 'package.json'))
      const script = `import { postgresStore } from './dist/adapters/postgres.js'
        const store = postgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none' })
        store.countIssues().then(() => console.log('no error'), (err) => console.log(err.message))`
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir })
      expect(stdout.trim()).toBe('faultline: postgres store: the `pg` package is not installed. Run: npm install pg')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
