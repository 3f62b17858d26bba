/**
 * The database misbehaving under a running app: PostgreSQL unreachable at start, then back.
 * The app starts and answers at once, captures wait in the queue and are written when the
 * database returns, the panel says "store unavailable" instead of hanging, and faultline's own
 * database errors go to onInternalError, never into the store.
 *
 * The database "stops" through a TCP proxy (test/helpers/pg-proxy.ts) that cuts every connection
 * and refuses new ones, as a stopped server does: stopping the server itself would fail the other
 * test files, which vitest runs at the same time against the same server.
 */
import { afterAll, describe, expect, it } from 'vitest'
import request from 'supertest'
import express from 'express'
import { createTracker, type Tracker } from '../lib/index.js'
import { postgresStore } from '../adapters/postgres.js'
import { testPostgres } from './helpers/postgres.js'
import { freePort, PgProxy } from './helpers/pg-proxy.js'

const pg = await testPostgres()

describe.skipIf(!pg.available)('an app whose PostgreSQL is down', () => {
  const schema = pg.newSchema()
  afterAll(() => pg.dropSchema(schema))

  it('keeps serving, queues captures, shows "store unavailable", and stores everything once the database is back', async () => {
    const proxy = new PgProxy(await freePort())
    const internal: Error[] = []
    const tracker = createTracker({
      store: postgresStore({ connectionString: proxy.url(), schema, connectionTimeout: 1000, statementTimeout: 2000 }),
      captureUncaught: false,
      captureUnhandledRejections: false,
      onInternalError: (err) => internal.push(err),
    })
    const app = express()
    app.use(tracker.express())
    app.get('/ok', (_req, res) => res.send('ok'))
    app.get('/fail', () => {
      throw new Error('Checkout failed while the database was down')
    })

    // the database is unreachable from the start: the app answers at once all the same
    for (let i = 0; i < 5; i++) {
      const started = Date.now()
      await request(app).get('/ok').expect(200, 'ok')
      await request(app).get('/fail').expect(500)
      // well under the store's 1 s connection timeout: nothing on the request path waits for it
      expect(Date.now() - started).toBeLessThan(500)
    }

    const page = await request(app).get('/errors').expect(503)
    expect(page.text).toContain('Store unavailable')
    await request(app).get('/errors/api/issues').expect(503)

    expect(await tracker.flush(1500)).toBe(false)
    expect(internal.some((e) => /could not store an event/.test(e.message))).toBe(true)

    // the database comes back: the queued events are written
    await proxy.open()
    expect(await tracker.flush(15_000)).toBe(true)
    const { issues } = await tracker.store.listIssues({ status: 'all' })
    // only the app's error: faultline's own connection errors were reported, not recorded
    expect(issues.map((i) => [i.title, i.count])).toEqual([['Error: Checkout failed while the database was down', 5]])
    await request(app).get('/errors').expect(200)
    await tracker.close()
    await proxy.close()
  }, 60_000)

  it('through a 10 s outage under load: close() accounts for every event, and a new tracker writes again within a second of the database coming back', async () => {
    // 10 s, not 30: long enough for the old backoff (doubling to 30 s) to have reached 6.4 s, so
    // writing again within a second shows the cap; 30 s would only make the test slower
    const OUTAGE_MS = 10_000
    const proxy = new PgProxy(await freePort())
    await proxy.open()
    const store = () => postgresStore({ connectionString: proxy.url(), schema, connectionTimeout: 1000, statementTimeout: 2000 })
    const tracker = (internal: Error[]) => createTracker({
      store: store(),
      captureUncaught: false,
      captureUnhandledRejections: false,
      // a small budget, so that under this load most bodies are shed and shed events go through the outage too
      retention: { maxEventsPerIssue: 20, maxAge: '1d' },
      onInternalError: (err) => internal.push(err),
    })
    const issueCount = async (fingerprint: string) => {
      const { rows } = await pg.query(`SELECT count, shed FROM "${schema}".faultline_issues WHERE fingerprint = $1`, [JSON.stringify([fingerprint])])
      return rows.map((r) => ({ count: Number(r.count), shed: Number(r.shed) }))
    }

    // (a) an instance under a steady load of failing requests when the database stops
    const internalA: Error[] = []
    const a = tracker(internalA)
    const loadA = steadyLoad(a, 'outage-first-instance')
    await sleep(500)
    // cut while nothing is in flight, so that no statement is cut between its commit and its answer
    while (a.stats().queued > 0) await sleep(1)
    const down = Date.now()
    await proxy.close()
    await sleep(1500)
    loadA.stop()
    const closing = performance.now()
    await a.close(3000)
    const closeMs = performance.now() - closing
    const sa = a.stats()
    expect(sa.captured).toBe(loadA.count)
    expect(sa.stored + sa.shed).toBeGreaterThan(0)
    expect(sa.dropped).toBeGreaterThan(0)
    expect(sa.queued).toBe(0)
    expect(sa.captured).toBe(sa.stored + sa.shed + sa.dropped)
    // the whole of its time, retrying: not given up after the first few backoff steps
    expect(closeMs).toBeGreaterThanOrEqual(2990)
    expect(closeMs).toBeLessThan(4000)
    expect(internalA.filter((e) => e.message.startsWith('faultline: close()')).map((e) => e.message)).toEqual([
      `faultline: close(): ${sa.dropped} captured events were not stored within 3000 ms and are lost; the store is down or slow (pass close() a longer timeout)`,
    ])

    // (b) another instance starts during the outage, captures all through it, and writes once the database is back
    const internalB: Error[] = []
    const b = tracker(internalB)
    const loadB = steadyLoad(b, 'outage-second-instance')
    await sleep(down + OUTAGE_MS - Date.now())
    expect(b.stats()).toMatchObject({ stored: 0, shed: 0 })
    await proxy.open()
    const back = performance.now()
    while (b.stats().stored + b.stats().shed === 0 && performance.now() - back < 5000) await sleep(1)
    const resumeMs = performance.now() - back
    loadB.stop()
    expect(await b.flush(10_000)).toBe(true)
    const sb = b.stats()
    expect(sb).toMatchObject({ captured: loadB.count, dropped: 0, discarded: 0, queued: 0 })
    expect(sb.stored + sb.shed).toBe(sb.captured)
    expect(sb.shed).toBeGreaterThan(0)
    // each event once: the database holds exactly what each tracker says it stored
    expect(await issueCount('outage-second-instance')).toEqual([{ count: sb.captured, shed: sb.shed }])
    expect(await issueCount('outage-first-instance')).toEqual([{ count: sa.stored + sa.shed, shed: sa.shed }])
    expect(internalB.filter((e) => /the store answers again/.test(e.message))).toHaveLength(1)
    console.log(`postgres outage: ${OUTAGE_MS / 1000} s down; close(3000) took ${Math.round(closeMs)} ms and reported ${sa.dropped} of ${sa.captured} events lost; ` +
      `the second tracker wrote again ${Math.round(resumeMs)} ms after the database came back and stored all ${sb.captured} (${sb.shed} shed) once`)
    // the queue retries at least once a second; the first write then needs a connection and a statement
    expect(resumeMs).toBeLessThan(1250)
    await b.close()
    await proxy.close()
  }, 45_000)
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
}

/** A failing request every 20 ms, each captured under one fingerprint; `count` is how many were captured. */
function steadyLoad(tracker: Tracker, fingerprint: string): { count: number; stop(): void } {
  const load = { count: 0, stop: () => clearInterval(timer) }
  const timer = setInterval(() => {
    tracker.captureException(new Error(`Checkout failed (${fingerprint})`), { fingerprint: [fingerprint] })
    load.count++
  }, 20)
  return load
}
