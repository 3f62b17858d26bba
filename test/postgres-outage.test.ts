/**
 * The database misbehaving under a running app: PostgreSQL unreachable at start, then back.
 * The app starts and answers at once, captures wait in the queue and are written when the
 * database returns, the panel says "store unavailable" instead of hanging, and faultline's own
 * database errors go to onInternalError, never into the store.
 */
import { afterAll, describe, expect, it } from 'vitest'
import request from 'supertest'
import express from 'express'
import { createTracker } from '../lib/index.js'
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
})
