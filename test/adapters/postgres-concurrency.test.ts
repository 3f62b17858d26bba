/**
 * Several instances on one database: separate stores with separate pools, as separate app
 * processes would have, writing the same new error at once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { postgresStore } from '../../adapters/postgres.js'
import type { Activity, Retention, Store } from '../../lib/types.js'
import { testPostgres } from '../helpers/postgres.js'
import { recordInput } from './postgres-fixtures.js'

const pg = await testPostgres()
const INSTANCES = 4

describe.skipIf(!pg.available)('postgresStore with several instances', () => {
  const schemas: string[] = []
  const stores: Store[] = []

  function instances(schema: string, retention?: Retention): Store[] {
    // 16 connections queue on one hot row: on a machine busy with other tests a statement can wait
    // longer than the 5 s default, which is about a stalled database, not what is tested here
    const list = Array.from({ length: INSTANCES }, () => postgresStore({ connectionString: pg.url, schema, max: 4, retention, statementTimeout: '30s' }))
    stores.push(...list)
    return list
  }

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()))
    for (const schema of schemas) await pg.dropSchema(schema)
  })

  it('migrates once when four instances start on an empty database at the same moment', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const counts = await Promise.all(instances(schema).map((s) => s.countIssues()))
    expect(counts).toEqual(Array(INSTANCES).fill({ unresolved: 0, resolved: 0, ignored: 0, all: 0 }))
    const { rows } = await pg.query(`SELECT version, count(*)::int AS n FROM "${schema}".faultline_migrations GROUP BY version ORDER BY version`)
    expect(rows).toEqual([{ version: 1, n: 1 }, { version: 2, n: 1 }, { version: 3, n: 1 }])
  })

  it('records one new error from four instances 500 times each: one issue, exact counts, one isNew', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    const hash = 'concurrent000001'
    const started = performance.now()
    const results = await Promise.all(writers.map((store, w) =>
      Promise.all(Array.from({ length: 500 }, (_, i) => store.record(recordInput({ hash, user: `user-${(w * 500 + i) % 300}` }))))))
    const seconds = (performance.now() - started) / 1000
    const flat = results.flat()
    expect(flat.filter((r) => r.isNew)).toHaveLength(1)
    expect(flat.filter((r) => r.isRegression)).toHaveLength(0)
    // each record saw its own increment: the counts it returned are all different
    expect(new Set(flat.map((r) => r.issue.count)).size).toBe(2000)
    const issue = await writers[0].getIssue(hash)
    expect(issue).toMatchObject({ count: 2000, userCount: 300, countSinceRegression: 2000, usersSinceRegression: 300 })
    expect((await writers[1].listIssues({ status: 'all' })).issues.map((i) => i.id)).toEqual([hash])
    expect((await writers[2].histogram(hash, { interval: 'hour', buckets: 2 })).reduce((a, b) => a + b)).toBe(2000)
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "${schema}".faultline_events`)
    expect(rows[0].n).toBe(2000)
    console.log(`postgres store: 4 instances recorded 2,000 events of one issue in ${seconds.toFixed(2)} s (${Math.round(2000 / seconds)} events/s)`)
  }, 120_000)

  it('records many issues from four instances at once, batched, with exact counts and no deadlock', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    const issues = Array.from({ length: 20 }, (_, i) => `manyissues${String(i).padStart(6, '0')}`)
    // each instance records the issues in its own order, so naive batches would lock rows crosswise
    const results = await Promise.all(writers.map((store, w) =>
      Promise.all(Array.from({ length: 500 }, (_, i) => store.record(recordInput({ hash: issues[(i * (w + 1) * 7) % 20], user: `u${i % 10}` }))))))
    expect(results.flat()).toHaveLength(2000)
    expect(results.flat().filter((r) => r.isNew)).toHaveLength(20)
    const { issues: listed } = await writers[0].listIssues({ status: 'all', limit: 100 })
    expect(listed.reduce((sum, issue) => sum + issue.count, 0)).toBe(2000)
    for (const issue of listed) expect(issue.count).toBe(results.flat().filter((r) => r.issue.id === issue.id).length)
  }, 60_000)

  it('fails only the event the database refuses, not the others written with it', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const [store] = instances(schema)
    await store.countIssues()
    // PostgreSQL's timestamps end at 4713 BC; JavaScript's go further back
    const refused = recordInput({ hash: 'refusedbatch0001' })
    refused.event.timestamp = '-010000-01-01T00:00:00.000Z'
    const inputs = Array.from({ length: 9 }, () => recordInput({ hash: 'goodbatch0000001' }))
    inputs.splice(4, 0, refused)
    const settled = await Promise.allSettled(inputs.map((input) => store.record(input)))
    expect(settled.map((r) => r.status)).toEqual([...Array(4).fill('fulfilled'), 'rejected', ...Array(5).fill('fulfilled')])
    expect(String((settled[4] as PromiseRejectedResult).reason)).toMatch(/out of range/)
    expect(await store.getIssue('goodbatch0000001')).toMatchObject({ count: 9 })
    expect(await store.getIssue('refusedbatch0001')).toBeNull()
  })

  it('lets one of four instances maintaining at once do the pruning, while records go on', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema, { maxEventsPerIssue: 10, maxAgeMs: 86_400_000 })
    const hashes = ['prunehot00000001', 'prunehot00000002', 'prunehot00000003']
    for (const hash of hashes) await Promise.all(Array.from({ length: 300 }, () => writers[0].record(recordInput({ hash }))))
    const now = Date.now()
    const [maintained, recorded] = await Promise.all([
      Promise.all(writers.map((store) => store.maintain({ now: new Date(now), autoResolveBefore: new Date(now - 1) }))),
      Promise.all(writers.map((store) => Promise.all(Array.from({ length: 50 }, (_, i) => store.record(recordInput({ hash: hashes[i % 3] })))))),
    ])
    expect(recorded.flat()).toHaveLength(200)
    // the backlog (290 events past retention on each of 3 issues) was pruned by one instance, the
    // one holding the lock; an instance that came after it may prune what was recorded meanwhile
    expect(maintained.filter((r) => r.prunedEvents >= 870)).toHaveLength(1)
    const last = await writers[1].maintain({ now: new Date() })
    // nothing pruned twice: 1,100 recorded, 30 kept
    expect(maintained.reduce((sum, r) => sum + r.prunedEvents, last.prunedEvents)).toBe(1070)
    const { rows } = await pg.query(`SELECT issue_id, count(*)::int AS n FROM "${schema}".faultline_events GROUP BY issue_id ORDER BY issue_id`)
    expect(rows).toEqual(hashes.map((issue_id) => ({ issue_id, n: 10 })))
    // i % 3 over 50 records per instance: 17, 17 and 16, four times
    expect(await Promise.all(hashes.map(async (hash) => (await writers[2].getIssue(hash))!.count))).toEqual([368, 368, 364])
  }, 60_000)

  it('maintains with a pool of one connection, the one its lock holds', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const store = postgresStore({ connectionString: pg.url, schema, max: 1, retention: { maxEventsPerIssue: 2, maxAgeMs: 86_400_000 } })
    stores.push(store)
    for (let i = 0; i < 5; i++) await store.record(recordInput({ hash: 'poolofone0000001' }))
    const started = Date.now()
    expect((await store.maintain({ now: new Date() })).prunedEvents).toBe(3)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('starts stores with different table prefixes on one new schema at the same moment', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const list = ['a_', 'b_', 'c_', 'd_'].map((tablePrefix) => postgresStore({ connectionString: pg.url, schema, tablePrefix }))
    stores.push(...list)
    const counts = await Promise.all(list.map((s) => s.countIssues()))
    expect(counts.map((c) => c.all)).toEqual([0, 0, 0, 0])
  })

  it('counts a regression once when four instances bring back a resolved issue together', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    const hash = 'regressconcur01'
    await writers[0].record(recordInput({ hash, user: 'old-user' }))
    await writers[0].updateIssue(hash, { status: 'resolved' })
    const results = (await Promise.all(writers.map((store, w) =>
      Promise.all(Array.from({ length: 50 }, (_, i) => store.record(recordInput({ hash, user: `u${(w * 50 + i) % 30}` }))))))).flat()
    expect(results.filter((r) => r.isRegression)).toHaveLength(1)
    expect(await writers[3].getIssue(hash)).toMatchObject({ count: 201, userCount: 31, countSinceRegression: 200, usersSinceRegression: 30, regressed: true })
  }, 60_000)

  it('gives an alert to exactly one of four instances claiming it at once', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    await Promise.all(writers.map((s) => s.countIssues()))
    for (let round = 0; round < 20; round++) {
      const claims = await Promise.all(writers.map((s) => s.claimAlert(`new:issue${round}`, { issueId: `issue${round}` })))
      expect(claims.filter(Boolean)).toHaveLength(1)
    }
    const expired = new Date(Date.now() - 1000)
    await writers[0].claimAlert('throttled', { issueId: 'i', expiresAt: expired })
    const reclaims = await Promise.all(writers.map((s) => s.claimAlert('throttled', { issueId: 'i', expiresAt: new Date(Date.now() + 60_000) })))
    expect(reclaims.filter(Boolean)).toHaveLength(1)
  }, 60_000)
  it('gives every instance claiming a setting at once the same value, the one stored', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    await Promise.all(writers.map((s) => s.countIssues()))
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(writers.map((s, w) => s.claimSetting(`key${round}`, `from-instance-${w}`)))
      expect(new Set(answers).size).toBe(1)
      expect(answers[0]).toMatch(/^from-instance-[0-3]$/)
      const { rows } = await pg.query(`SELECT value FROM "${schema}".faultline_settings WHERE name = $1`, [`key${round}`])
      expect(rows).toEqual([{ value: answers[0] }])
    }
  }, 60_000)

  it('logs resolves and regressions in the order they happened while instances record and resolve one issue at once', async () => {
    const schema = pg.newSchema()
    schemas.push(schema)
    const writers = instances(schema)
    const hash = 'raceresolve00001'
    await writers[0].record(recordInput({ hash, release: '1.0' }))
    // three instances record events of releases 1.0 and 2.0 while the fourth resolves the issue
    // over and over, half the time "in the next release" (1.0)
    let recording = true
    const resolving = (async () => {
      for (let i = 0; i < 30; i++) {
        await writers[3].updateIssue(hash, i % 2 === 0 ? { status: 'resolved', actor: 'ann' } : { status: 'resolved', inRelease: '1.0', actor: 'ann' })
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      recording = false
    })()
    const recorded = await Promise.all(writers.slice(0, 3).map(async (store, w) => {
      const results = []
      for (let i = 0; recording; i++) results.push(await store.record(recordInput({ hash, release: (w + i) % 2 === 0 ? '1.0' : '2.0' })))
      return results
    }))
    await resolving
    const results = recorded.flat()
    const issue = (await writers[0].getIssue(hash))!
    expect(issue.count).toBe(results.length + 1)

    const log: Activity[] = []
    for (let cursor: string | null = null; ;) {
      const page: { activity: Activity[]; nextCursor: string | null } = (await writers[1].listActivity(hash, { limit: 100, cursor }))!
      log.push(...page.activity)
      if ((cursor = page.nextCursor) === null) break
    }
    expect(log[0].kind).toBe('first_seen')
    expect(log.filter((line) => line.kind === 'resolved')).toHaveLength(30)
    const regressions = log.filter((line) => line.kind === 'regressed')
    expect(regressions.length).toBe(results.filter((r) => r.isRegression).length)
    expect(regressions.length).toBeGreaterThan(0)
    // each regression follows a resolve, says when that resolve was, and came from an event it could come from
    let lastResolve: Activity | null = null
    for (const line of log.slice(1)) {
      if (line.kind === 'resolved') lastResolve = line
      else {
        expect(line.kind).toBe('regressed')
        expect(lastResolve).not.toBeNull()
        expect(line.resolvedAt).toBe(lastResolve!.at)
        if (lastResolve!.release === '1.0') expect(line.release).toBe('2.0')
        lastResolve = null
      }
    }
    // the issue is as the last line says
    expect(issue.status).toBe(log[log.length - 1].kind === 'resolved' ? 'resolved' : 'unresolved')
    expect(issue.resolvedInRelease).toBe(log[log.length - 1].kind === 'resolved' ? log[log.length - 1].release ?? null : null)
  }, 60_000)
})
