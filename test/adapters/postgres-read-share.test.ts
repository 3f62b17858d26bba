/**
 * The panel must not take the connections that event writes need: reads hold at most half the
 * pool, so with a table locked and the panel hammering the store, events are still written the
 * moment the lock goes.
 */
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { postgresStore } from '../../adapters/postgres.js'
import { ReadShare, readShareOf } from '../../adapters/postgres/read-share.js'
import { testPostgres } from '../helpers/postgres.js'
import { recordInput } from './postgres-fixtures.js'

const db = await testPostgres()

describe('the read share of the pool', () => {
  it('is half the pool, at least one', () => {
    expect([1, 2, 3, 4, 10, 11].map(readShareOf)).toEqual([1, 1, 1, 2, 5, 5])
  })

  it('hands slots out first come, first served, and lets a waiter give up in time', async () => {
    const share = new ReadShare(1)
    expect(await share.acquire(10)).toBe(true)
    const order: string[] = []
    const first = share.acquire(1000).then((ok) => order.push(`first ${ok}`))
    const late = share.acquire(20).then((ok) => order.push(`late ${ok}`))
    const second = share.acquire(1000).then((ok) => order.push(`second ${ok}`))
    await late
    share.release()
    await first
    share.release()
    await second
    expect(order).toEqual(['late false', 'first true', 'second true'])
  })
})

describe.skipIf(!db.available)('postgresStore under a table lock while the panel reads', () => {
  const schema = db.newSchema()
  afterAll(() => db.dropSchema(schema))

  it('keeps reads to their share of the pool, so records are written as soon as the lock goes', async () => {
    // the app's own pool, handed in: the store reads its size from pool.options.max
    const pool = new pg.Pool({ connectionString: db.url, max: 4, connectionTimeoutMillis: 1000, statement_timeout: 10_000 })
    pool.on('error', () => {})
    const store = postgresStore({ pool, schema, connectionTimeout: 1000, statementTimeout: 10_000 })
    const holder = new pg.Client({ connectionString: db.url })
    await holder.connect()
    try {
      const hash = 'lockedpanel00001'
      await store.record(recordInput({ hash }))
      await holder.query('BEGIN')
      await holder.query(`LOCK TABLE "${schema}".faultline_issues IN ACCESS EXCLUSIVE MODE`)

      // what a few panel pages ask for at once, each stuck behind the lock
      const reads = Array.from({ length: 30 }, (_, i) => {
        const read = [() => store.listIssues({ status: 'all' }), () => store.countIssues(), () => store.getIssue(hash)][i % 3]
        return read().then(() => null, (error: Error) => error)
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      // two connections (half of 4) read, the other reads wait for a slot, not for the pool
      expect({ total: pool.totalCount, waiting: pool.waitingCount }).toEqual({ total: 2, waiting: 0 })

      const writtenAt: number[] = []
      const records = Array.from({ length: 10 }, () => store.record(recordInput({ hash })).then(() => writtenAt.push(Date.now())))
      await new Promise((resolve) => setTimeout(resolve, 200))
      // the records took the connections the reads left
      expect(pool.totalCount).toBeLessThanOrEqual(4)
      expect(pool.waitingCount).toBe(0)

      // held past the connection timeout: reads without a slot give up, records wait on
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const releasedAt = Date.now()
      await holder.query('ROLLBACK')
      await Promise.all(records)
      const lastWrite = Math.max(...writtenAt) - releasedAt
      console.log(`postgres store: 10 records under a held table lock were written ${lastWrite} ms after it was released, while 30 reads hammered the pool`)
      expect(lastWrite).toBeLessThan(500)

      const outcomes = await Promise.all(reads)
      // the two that held a slot answered once the lock went; the rest gave up like a busy pool does
      expect(outcomes.filter((e) => e === null)).toHaveLength(2)
      for (const error of outcomes.filter((e) => e !== null)) {
        expect(error!.message).toMatch(/found no free connection within 1000 ms: the 2 of 4 that reads may use are busy/)
      }
      expect(await store.getIssue(hash)).toMatchObject({ count: 11 })
    } finally {
      await holder.end()
      await store.close()
      await pool.end()
    }
  }, 20_000)
})
