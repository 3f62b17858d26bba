import { afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import diagnostics from 'node:diagnostics_channel'
import express5 from 'express'
import express4 from 'express4'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(options = {}) {
  const tracker = createTracker({ store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false, ...options })
  trackers.push(tracker)
  return tracker
}

async function issues(tracker: Tracker) {
  expect(await tracker.flush()).toBe(true)
  return (await tracker.store.listIssues({ status: 'all' })).issues
}

async function latestEvent(tracker: Tracker, issueId: string) {
  return (await tracker.store.listEvents(issueId, { limit: 1 })).events[0]
}

class NotFound extends Error {
  status = 404
}

type Express = typeof express5

/** The same app, built with or without faultline, so responses can be compared. */
function buildApp(express: Express, tracker: Tracker | null, { ownHandler = false } = {}) {
  const app = express()
  if (tracker) app.use(tracker.express())
  app.use(express.json())
  app.get('/ok', (_req, res) => {
    res.set('x-app', 'yes').json({ ok: true })
  })
  app.get('/sync', () => {
    throw new TypeError('sync failure')
  })
  app.get('/next', (_req, _res, next) => {
    next(new Error('passed to next'))
  })
  app.get('/async-next', (_req, _res, next) => {
    setTimeout(() => next(new Error('later, through next')), 1)
  })
  app.get('/not-found', () => {
    throw new NotFound('no such thing')
  })
  app.post('/orders', (req) => {
    throw new Error(`order for ${req.body.item} failed`)
  })
  const router = express.Router()
  router.get('/deep/:id', () => {
    throw new Error('inside a router')
  })
  app.use('/nested', router)
  if (ownHandler) {
    app.use((err: Error & { status?: number }, _req: unknown, res: { status(n: number): { json(v: unknown): void } }, _next: unknown) => {
      res.status(err.status ?? 418).json({ handled: err.message })
    })
  }
  return app
}

const versions: Array<[string, Express]> = [
  ['Express 4', express4 as unknown as Express],
  ['Express 5', express5],
]

for (const [name, express] of versions) {
  describe(name, () => {
    it('captures a synchronous throw from a route registered after it, with request context', async () => {
      const tracker = newTracker()
      const app = buildApp(express, tracker)
      const res = await request(app).get('/sync?page=2&token=abc').set('user-agent', 'test-agent').set('cookie', 'sid=secret')
      expect(res.status).toBe(500)
      const [issue] = await issues(tracker)
      expect(issue.title).toBe('TypeError: sync failure')
      const event = await latestEvent(tracker, issue.id)
      expect(event.request?.method).toBe('GET')
      expect(event.request?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sync\?page=2/)
      expect(event.request?.headers?.['user-agent']).toBe('test-agent')
      expect(event.request?.headers?.cookie).toBe('[Filtered]')
      expect(JSON.stringify(event)).not.toContain('secret')
      expect(JSON.stringify(event.request?.query_string)).not.toContain('abc')
      expect(event.request?.env?.REMOTE_ADDR).toMatch(/127\.0\.0\.1/)
      expect(event.transaction).toBe('GET /sync')
      expect(event.exception?.mechanism).toEqual({ type: 'express', handled: false })
    })

    it('captures errors passed to next(), synchronously and later', async () => {
      const tracker = newTracker()
      const app = buildApp(express, tracker)
      await request(app).get('/next').expect(500)
      await request(app).get('/async-next').expect(500)
      const titles = (await issues(tracker)).map((i) => i.title).sort()
      expect(titles).toEqual(['Error: later, through next', 'Error: passed to next'])
    })

    it('captures errors from a nested router and keeps the parsed body', async () => {
      const tracker = newTracker()
      const app = buildApp(express, tracker)
      await request(app).get('/nested/deep/7').expect(500)
      await request(app).post('/orders').send({ item: 'lamp', password: 'hunter2' }).expect(500)
      const all = await issues(tracker)
      expect(all.map((i) => i.title).sort()).toEqual(['Error: inside a router', 'Error: order for lamp failed'])
      const order = all.find((i) => i.title.includes('lamp'))!
      const event = await latestEvent(tracker, order.id)
      expect(event.request?.data).toEqual({ item: 'lamp', password: '[Filtered]' })
      const nested = all.find((i) => i.title.includes('router'))!
      expect((await latestEvent(tracker, nested.id)).transaction).toBe('GET /nested/deep/:id')
    })

    it('takes the signed-in user from req.user (id, username and email only), unless the app set one', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.use((req, _res, next) => {
        // as Passport leaves it: the whole user record (secrets joined here, so the source context shown with the frame does not hold them)
        ;(req as unknown as { user: object }).user = { id: 42, email: 'ana@example.com', passwordHash: ['h4', 'sh'].join(''), apiToken: ['t0', 'k'].join('') }
        next()
      })
      app.get('/mine', () => {
        throw new Error('as the signed-in user')
      })
      app.get('/explicit', () => {
        tracker.setUser({ id: 'chosen-by-the-app' })
        throw new Error('with a user the app set')
      })
      await request(app).get('/mine').expect(500)
      await request(app).get('/mine').expect(500)
      await request(app).get('/explicit').expect(500)
      const all = await issues(tracker)
      const mine = all.find((i) => i.title.includes('signed-in'))!
      expect(mine.userCount).toBe(1)
      const event = await latestEvent(tracker, mine.id)
      expect(event.user).toEqual({ id: 42, email: 'ana@example.com' })
      expect(JSON.stringify(event)).not.toMatch(/h4sh|t0k/)
      const explicit = all.find((i) => i.title.includes('the app set'))!
      expect((await latestEvent(tracker, explicit.id)).user).toEqual({ id: 'chosen-by-the-app' })
    })

    it('records the error without a user when req.user cannot be read, and hides it when the app cleared the user', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/broken-session', (req) => {
        Object.defineProperty(req, 'user', { get() { throw new Error('session store down') } })
        throw new Error('with an unreadable user')
      })
      app.get('/signed-out', (req) => {
        ;(req as unknown as { user: object }).user = { id: 42 }
        tracker.setUser(null)
        throw new Error('after the app cleared the user')
      })
      await request(app).get('/broken-session').expect(500)
      await request(app).get('/signed-out').expect(500)
      const all = await issues(tracker)
      expect(all.map((i) => i.title).sort()).toEqual(['Error: after the app cleared the user', 'Error: with an unreadable user'])
      for (const issue of all) {
        const event = await latestEvent(tracker, issue.id)
        expect(event.user).toBeUndefined()
        expect(event.request?.url).toMatch(/\/(broken-session|signed-out)$/)
      }
    })

    it('names an error in a middleware after a route that passed the request on by its path, not that route', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/items/:id', (_req, _res, next) => next())
      app.use(() => {
        throw new Error('after the route')
      })
      await request(app).get('/items/5?x=1').expect(500)
      const [issue] = await issues(tracker)
      expect(issue.title).toBe('Error: after the route')
      expect((await latestEvent(tracker, issue.id)).transaction).toBe('GET /items/5')
    })

    it("captures when the app's own error handler answers, and the response is exactly as without faultline", async () => {
      const tracker = newTracker()
      const withFaultline = buildApp(express, tracker, { ownHandler: true })
      const without = buildApp(express, null, { ownHandler: true })
      for (const path of ['/ok', '/sync', '/next', '/not-found', '/nothing-here']) {
        const a = await request(withFaultline).get(path)
        const b = await request(without).get(path)
        expect(a.status, path).toBe(b.status)
        expect(a.text, path).toBe(b.text)
        expect(a.headers['content-type'], path).toBe(b.headers['content-type'])
        expect(a.headers['x-app'], path).toBe(b.headers['x-app'])
      }
      const titles = (await issues(tracker)).map((i) => i.title).sort()
      // the 404-status error and the unmatched route are not captured; the 500s are, once each
      expect(titles).toEqual(['Error: passed to next', 'TypeError: sync failure'])
      const counts = (await issues(tracker)).map((i) => i.count)
      expect(counts).toEqual([1, 1])
    })

    it('leaves out request errors a custom shouldCapture declines, and takes 4xx ones it accepts', async () => {
      const tracker = newTracker({ shouldCapture: (err: Error) => err.message !== 'passed to next' })
      const app = buildApp(express, tracker, { ownHandler: true })
      for (const path of ['/sync', '/next', '/not-found']) await request(app).get(path)
      expect((await issues(tracker)).map((i) => i.title).sort()).toEqual(['NotFound: no such thing', 'TypeError: sync failure'])
    })

    it("answers with Express's own error page when the app has no handler", async () => {
      const tracker = newTracker()
      const withFaultline = buildApp(express, tracker)
      const without = buildApp(express, null)
      for (const app of [withFaultline, without]) app.set('env', 'production')
      const a = await request(withFaultline).get('/sync')
      const b = await request(without).get('/sync')
      expect(a.status).toBe(500)
      expect(a.text).toBe(b.text)
      // in development Express prints the stack, which then shows faultline's layer wrapper
      for (const app of [withFaultline, without]) app.set('env', 'development')
      const devA = await request(withFaultline).get('/sync')
      const devB = await request(without).get('/sync')
      expect(devA.text.split('<br>')[0]).toBe(devB.text.split('<br>')[0])
      expect(devA.text.split('<br>')[0]).toContain('TypeError: sync failure')
    })

    it("keeps each request's scope when a middleware calls next from an event emitter", async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      // as a hand-written body or multipart parser does: next from the request stream's 'end'
      app.use((req, _res, next) => {
        req.on('data', () => {})
        req.on('end', () => next())
      })
      app.post('/upload/:n', async (req, _res, next) => {
        tracker.setTag('upload', req.params.n)
        await new Promise((resolve) => setTimeout(resolve, 5))
        next(new Error('upload failed'))
      })
      app.use((_err: Error, _req: unknown, res: { status(n: number): { end(): void } }, _next: unknown) => res.status(500).end())
      await Promise.all(Array.from({ length: 20 }, (_, n) => request(app).post(`/upload/${n}`).send('x'.repeat(100)).expect(500)))
      tracker.captureMessage('outside any request')
      const found = await issues(tracker)
      const upload = found.find((i) => i.title === 'Error: upload failed')!
      const { events } = await tracker.store.listEvents(upload.id, { limit: 100 })
      expect(events).toHaveLength(20)
      for (const event of events) expect(event.request?.url).toMatch(new RegExp(`/upload/${event.tags.upload}$`))
      const outside = found.find((i) => i.title === 'outside any request')!
      expect((await tracker.store.listEvents(outside.id)).events[0].tags.upload).toBeUndefined()
    })

    it("captures an error thrown in app.param that the app's own error handler answers", async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.param('id', () => {
        throw new Error('param lookup failed')
      })
      app.get('/users/:id', (_req, res) => res.send('never'))
      app.use((_err: Error, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => res.status(500).send('oops'))
      await request(app).get('/users/7').expect(500, 'oops')
      expect((await issues(tracker)).map((i) => [i.title, i.count])).toEqual([['Error: param lookup failed', 1]])
    })

    it('takes next(false) as Express does, no error, and a thrown string once', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/fine', (_req, _res, next) => next(false as unknown as Error))
      app.get('/fine', (_req, res) => res.send('fine'))
      app.get('/string', () => {
        throw 'plain string thrown'
      })
      app.use((_req, _res, next) => next())
      app.use((_err: unknown, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => res.status(500).send('oops'))
      await request(app).get('/fine').expect(200, 'fine')
      await request(app).get('/string').expect(500)
      expect((await issues(tracker)).map((i) => i.count)).toEqual([1])
    })

    it('shares the request scope with a second faultline middleware in a sub-app', async () => {
      const tracker = newTracker()
      const app = express()
      const sub = express()
      app.use(tracker.express())
      app.use((_req, _res, next) => {
        tracker.setUser({ id: 'u-42' })
        tracker.setTag('tenant', 'acme')
        next()
      })
      sub.use(tracker.express())
      sub.get('/boom', () => {
        throw new Error('inside the sub-app')
      })
      app.use('/sub', sub)
      await request(app).get('/sub/boom').expect(500)
      const [issue] = await issues(tracker)
      const event = (await tracker.store.listEvents(issue.id)).events[0]
      expect(event.user).toMatchObject({ id: 'u-42' })
      expect(event.tags.tenant).toBe('acme')
    })

    it('captures an error once even when it passes through several layers', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/x', () => {
        throw new Error('once')
      })
      app.use((_req: unknown, _res: unknown, next: () => void) => next())
      app.use((err: Error, _req: unknown, _res: unknown, next: (e: Error) => void) => next(err))
      app.use((err: Error, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => res.status(500).send(err.message))
      await request(app).get('/x').expect(500, 'once')
      const [issue] = await issues(tracker)
      expect(issue.count).toBe(1)
    })

    it('places capture explicitly with expressErrorHandler()', async () => {
      const tracker = newTracker()
      const app = express()
      app.get('/boom', () => {
        throw new Error('explicit')
      })
      app.use(tracker.expressErrorHandler())
      app.use((err: Error, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => res.status(503).send('down'))
      await request(app).get('/boom').expect(503, 'down')
      const [issue] = await issues(tracker)
      expect(issue.title).toBe('Error: explicit')
      expect((await latestEvent(tracker, issue.id)).request?.method).toBe('GET')
    })

    it("with expressErrorHandler() alone, keeps each request's user and tags on that request", async () => {
      const tracker = newTracker()
      const app = express()
      // an auth middleware, as a Sentry user writes it: setUser on the current scope
      app.use((req: { query: Record<string, string> }, _res: unknown, next: () => void) => {
        tracker.setUser({ id: req.query.user })
        tracker.setTag('plan', req.query.plan)
        next()
      })
      app.get('/boom', async (req: { query: Record<string, string> }, _res: unknown, next: (err: Error) => void) => {
        await new Promise((resolve) => setTimeout(resolve, req.query.user === 'alice' ? 20 : 1))
        next(new Error('explicit'))
      })
      app.use(tracker.expressErrorHandler())
      await Promise.all([request(app).get('/boom?user=alice&plan=pro').expect(500), request(app).get('/boom?user=bob&plan=free').expect(500)])
      tracker.captureMessage('outside any request')
      const events = (await Promise.all((await issues(tracker)).map(async (i) => (await tracker.store.listEvents(i.id)).events))).flat()
      const byUser = Object.fromEntries(events.map((e) => [e.user?.id ?? 'none', e]))
      expect(Object.keys(byUser).sort()).toEqual(['alice', 'bob', 'none'])
      expect(byUser.alice.tags.plan).toBe('pro')
      expect(byUser.bob.tags.plan).toBe('free')
      expect(byUser.alice.request?.url).toMatch(/user=alice/)
      expect(byUser.none.tags).not.toHaveProperty('plan')
      // close() lets go of the HTTP servers' requests
      expect(diagnostics.hasSubscribers('http.server.request.start')).toBe(true)
      await tracker.close()
      expect(diagnostics.hasSubscribers('http.server.request.start')).toBe(false)
    })

    it('keeps tags set during one request out of another', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/tagged/:who', async (req, _res, next) => {
        tracker.setTag('who', req.params.who)
        await new Promise((resolve) => setTimeout(resolve, req.params.who === 'a' ? 20 : 1))
        next(new Error(`failed for ${req.params.who}`))
      })
      await Promise.all([request(app).get('/tagged/a'), request(app).get('/tagged/b')])
      const [issue] = await issues(tracker)
      const { events } = await tracker.store.listEvents(issue.id)
      expect(events.map((e) => [e.exception?.value, e.tags.who]).sort()).toEqual([['failed for a', 'a'], ['failed for b', 'b']])
      tracker.captureMessage('outside any request')
      const outside = (await issues(tracker)).find((i) => i.title.includes('outside'))!
      expect((await latestEvent(tracker, outside.id)).tags.who).toBeUndefined()
    })
  })
}

describe('Express 5 async routes', () => {
  it('captures a rejected promise from an async route and keeps the 500', async () => {
    const tracker = newTracker()
    const app = express5()
    app.use(tracker.express())
    app.get('/async', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      throw new Error('async failure')
    })
    await request(app).get('/async').expect(500)
    const [issue] = await issues(tracker)
    expect(issue.title).toBe('Error: async failure')
  })
})
