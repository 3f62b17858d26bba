import { afterEach, describe, expect, it, vi } from 'vitest'
import request from 'supertest'
import { Readable } from 'node:stream'
import Koa3 from 'koa'
import Koa2 from 'koa2'
import Router from '@koa/router'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker() {
  const tracker = createTracker({ store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false })
  trackers.push(tracker)
  return tracker
}

async function issues(tracker: Tracker) {
  expect(await tracker.flush()).toBe(true)
  return (await tracker.store.listIssues({ status: 'all' })).issues
}

type KoaClass = typeof Koa3

function buildApp(Koa: KoaClass, tracker: Tracker | null, seen: unknown[]) {
  const app = new Koa()
  app.silent = true
  if (tracker) app.use(tracker.koa())
  app.use(async (ctx) => {
    if (ctx.path === '/ok') ctx.body = { ok: true }
    else if (ctx.path === '/sync') throw new Error('koa sync')
    else if (ctx.path === '/async') {
      await new Promise((resolve) => setTimeout(resolve, 1))
      throw new TypeError('koa async')
    } else if (ctx.path === '/forbidden') ctx.throw(403, 'not yours')
    else if (ctx.path === '/teapot') ctx.throw(418)
  })
  app.on('error', (err: unknown) => seen.push(err))
  return app
}

const versions: Array<[string, KoaClass]> = [
  ['Koa 2', Koa2 as unknown as KoaClass],
  ['Koa 3', Koa3],
]

for (const [name, Koa] of versions) {
  describe(name, () => {
    it('captures thrown and rejected errors, rethrows the same error, and app.on("error") still fires', async () => {
      const tracker = newTracker()
      const seen: unknown[] = []
      const app = buildApp(Koa, tracker, seen)
      await request(app.callback()).get('/sync').expect(500)
      await request(app.callback()).get('/async?x=1').expect(500)
      const titles = (await issues(tracker)).map((i) => i.title).sort()
      expect(titles).toEqual(['Error: koa sync', 'TypeError: koa async'])
      expect(seen.map((e) => (e as Error).message).sort()).toEqual(['koa async', 'koa sync'])
      const issue = (await issues(tracker)).find((i) => i.title.includes('async'))!
      const event = (await tracker.store.listEvents(issue.id)).events[0]
      expect(event.request?.url).toMatch(/\/async\?x=1$/)
      expect(event.transaction).toBe('GET /async')
      expect(event.exception?.mechanism).toEqual({ type: 'koa', handled: false })
    })

    it('leaves status codes, bodies and the error event exactly as without faultline', async () => {
      const tracker = newTracker()
      const seenWith: unknown[] = []
      const seenWithout: unknown[] = []
      const withFaultline = buildApp(Koa, tracker, seenWith)
      const without = buildApp(Koa, null, seenWithout)
      for (const path of ['/ok', '/sync', '/async', '/forbidden', '/teapot', '/missing']) {
        const a = await request(withFaultline.callback()).get(path)
        const b = await request(without.callback()).get(path)
        expect(a.status, path).toBe(b.status)
        expect(a.text, path).toBe(b.text)
      }
      expect(seenWith.length).toBe(seenWithout.length)
      // 403 and 418 are the app speaking, not failures
      expect((await issues(tracker)).map((i) => i.title).sort()).toEqual(['Error: koa sync', 'TypeError: koa async'])
    })

    it('takes the signed-in user from ctx.state.user (a JWT payload: its sub as the id)', async () => {
      const tracker = newTracker()
      const app = new Koa()
      app.silent = true
      app.use(tracker.koa())
      app.use(async (ctx, next) => {
        // as koa-jwt leaves it: the token's payload
        ctx.state.user = { sub: 'user-7', email: 'ana@example.com', scope: 'admin', iat: 1 }
        await next()
      })
      app.use(() => {
        throw new Error('as the token holder')
      })
      await request(app.callback()).get('/account').expect(500)
      const [issue] = await issues(tracker)
      expect(issue.userCount).toBe(1)
      expect((await tracker.store.listEvents(issue.id)).events[0].user).toEqual({ id: 'user-7', email: 'ana@example.com' })
    })

    it("names an error after the route @koa/router matched, with the router's prefix", async () => {
      const tracker = newTracker()
      const app = new Koa()
      app.silent = true
      app.use(tracker.koa())
      const router = new Router({ prefix: '/api' })
      router.get('/orders/:id', () => {
        throw new Error('order lookup failed')
      })
      app.use(router.routes())
      await request(app.callback()).get('/api/orders/42?full=1').expect(500)
      const [issue] = await issues(tracker)
      expect((await tracker.store.listEvents(issue.id)).events[0].transaction).toBe('GET /api/orders/:id')
    })

    it("captures an error the app's own middleware answers and emits on the app, once", async () => {
      const tracker = newTracker()
      const seen: unknown[] = []
      const app = new Koa()
      app.silent = true
      app.use(tracker.koa())
      // the error middleware of Koa's guide: it answers, then emits the error on the app
      app.use(async (ctx, next) => {
        try {
          await next()
        } catch (err) {
          ctx.status = 500
          ctx.body = 'sorry'
          ctx.app.emit('error', err, ctx)
        }
      })
      app.use(async (ctx) => {
        if (ctx.path === '/handled') throw new Error('answered by the app')
        if (ctx.path === '/string') throw 'a thrown string'
      })
      app.on('error', (err: unknown) => seen.push(err))
      await request(app.callback()).get('/handled?order=7').expect(500, 'sorry')
      await request(app.callback()).get('/string').expect(500, 'sorry')
      expect(seen).toHaveLength(2)
      const found = await issues(tracker)
      expect(found.map((i) => [i.title, i.count]).sort()).toEqual([['Error: a thrown string', 1], ['Error: answered by the app', 1]])
      const issue = found.find((i) => i.title.includes('answered'))!
      const event = (await tracker.store.listEvents(issue.id)).events[0]
      expect(event.request?.url).toMatch(/\/handled\?order=7$/)
      expect(event.transaction).toBe('GET /handled')
    })

    it('captures an error once when it passes the middleware, ctx.onerror and the error event', async () => {
      const tracker = newTracker()
      const seen: unknown[] = []
      const app = new Koa()
      app.silent = true
      app.use(tracker.koa())
      app.use(async (ctx) => {
        if (ctx.path === '/sync') throw new Error('koa sync')
        if (ctx.path === '/string') throw 'a thrown string'
      })
      app.on('error', (err: unknown) => seen.push(err))
      await request(app.callback()).get('/sync').expect(500)
      await request(app.callback()).get('/string').expect(500)
      expect(seen).toHaveLength(2)
      expect((await issues(tracker)).map((i) => [i.title, i.count]).sort()).toEqual([['Error: a thrown string', 1], ['Error: koa sync', 1]])
    })

    it('records a thrown undefined, which leaves the request unanswered, and nothing for a request the client gave up on', async () => {
      const tracker = newTracker()
      const app = new Koa()
      app.silent = true
      app.use(tracker.koa())
      let arrived!: () => void
      const slowArrived = new Promise<void>((resolve) => (arrived = resolve))
      app.use(async (ctx) => {
        if (ctx.path === '/undefined') throw undefined
        arrived()
        await new Promise((resolve) => setTimeout(resolve, 200))
        ctx.body = 'late'
      })
      const server = app.listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      const { port } = server.address() as { port: number }
      try {
        // Koa never answers it: the client times out
        await expect(fetch(`http://127.0.0.1:${port}/undefined`, { signal: AbortSignal.timeout(300) })).rejects.toThrow()
        const abort = new AbortController()
        const slow = fetch(`http://127.0.0.1:${port}/slow`, { signal: abort.signal })
        await slowArrived
        abort.abort()
        await expect(slow).rejects.toThrow()
        await new Promise((resolve) => setTimeout(resolve, 300))
      } finally {
        server.closeAllConnections()
        server.close()
      }
      expect((await issues(tracker)).map((i) => [i.count, i.culprit])).toEqual([[1, 'GET /undefined']])
    })

    it("keeps what the app logs in app.on('error') on that request, out of other requests' events", async () => {
      const log = vi.spyOn(console, 'log').mockImplementation(() => {})
      try {
        const tracker = newTracker()
        const app = new Koa()
        app.silent = true
        app.use(tracker.koa())
        app.use(async (ctx) => {
          ctx.state.user = { id: ctx.query.user }
          throw new Error(`failed for ${ctx.query.user}`)
        })
        // Koa calls this after the middleware chain has returned
        app.on('error', (err: Error, ctx: { state: { user: { id: string } } }) => console.log(`error for user=${ctx.state.user.id}: ${err.message}`))
        await request(app.callback()).get('/a?user=alice').expect(500)
        await request(app.callback()).get('/b?user=bob').expect(500)
        tracker.captureMessage('outside any request')
        expect(log).toHaveBeenCalledWith('error for user=alice: failed for alice')
        const events = (await Promise.all((await issues(tracker)).map(async (i) => (await tracker.store.listEvents(i.id)).events))).flat()
        expect(events).toHaveLength(3)
        for (const event of events) expect(JSON.stringify(event.breadcrumbs)).not.toContain('user=')
      } finally {
        log.mockRestore()
      }
    })

    it('captures errors Koa meets outside the middleware chain: a response stream that fails', async () => {
      const tracker = newTracker()
      const build = (t: Tracker | null, seen: unknown[]) => {
        const app = new Koa()
        app.silent = true
        if (t) app.use(t.koa())
        app.use((ctx) => {
          ctx.body = new Readable({
            read() {
              this.destroy(new Error('report stream broke'))
            },
          })
        })
        app.on('error', (err: unknown) => seen.push(err))
        return app
      }
      const seenWith: unknown[] = []
      const seenWithout: unknown[] = []
      // Koa 2 answers 500; Koa 3 has sent the headers and cuts the connection: either way, the same with faultline
      const outcome = (app: InstanceType<KoaClass>) => request(app.callback()).get('/report').ok(() => true).then((r) => r.status, (e: Error) => e.message)
      expect(await outcome(build(tracker, seenWith))).toBe(await outcome(build(null, seenWithout)))
      expect(seenWith.map((e) => (e as Error).message)).toEqual(seenWithout.map((e) => (e as Error).message))
      const found = await issues(tracker)
      expect(found.map((i) => [i.title, i.count])).toEqual([['Error: report stream broke', 1]])
      const event = (await tracker.store.listEvents(found[0].id)).events[0]
      expect(event.request?.url).toMatch(/\/report$/)
    })
  })
}

for (const [name, Koa] of versions) {
  describe(`${name}: faultline's line after a router or a failing middleware`, () => {
    const fix = 'Call app.use(tracker.koa()) first, right after const app = new Koa().'
    function trackerSaying(internal: Error[]) {
      const tracker = createTracker({ store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false, onInternalError: (err) => internal.push(err) })
      trackers.push(tracker)
      return tracker
    }
    const said = (internal: Error[]) => internal.map((e) => e.message).filter((m) => m.includes('tracker.koa()'))

    it("says once, with the fix, when a router's routes come first", async () => {
      const internal: Error[] = []
      const tracker = trackerSaying(internal)
      const app = new Koa()
      app.silent = true
      const router = new Router()
      router.get('/boom', () => {
        throw new Error('thrown before faultline')
      })
      app.use(router.routes())
      app.use(tracker.koa())
      await request(app.callback()).get('/boom').expect(500)
      await request(app.callback()).get('/missing').expect(404)
      await request(app.callback()).get('/boom').expect(500)
      expect(await issues(tracker)).toEqual([])
      expect(said(internal)).toEqual([
        "faultline: app.use(tracker.koa()) comes after a router's routes (app.use(router.routes())), so errors from them pass faultline by and are not recorded. " + fix,
        "faultline: an error reached Koa's error handling without passing app.use(tracker.koa()), so it was not recorded: it came from a middleware or router mounted before it. " + fix,
      ])
    })

    it('says nothing when it comes first, or after middleware whose errors it still sees on their way out', async () => {
      const internal: Error[] = []
      const tracker = trackerSaying(internal)
      const app = new Koa()
      app.silent = true
      app.use(async (ctx, next) => {
        ctx.set('x-timing', 'on')
        await next()
      })
      app.use(tracker.koa())
      const router = new Router()
      router.get('/boom', () => {
        throw new Error('recorded')
      })
      router.get('/forbidden', (ctx) => ctx.throw(403))
      app.use(router.routes())
      await request(app.callback()).get('/boom').expect(500)
      await request(app.callback()).get('/forbidden').expect(403)
      expect((await issues(tracker)).map((i) => i.title)).toEqual(['Error: recorded'])
      expect(said(internal)).toEqual([])
    })
  })
}

describe('the panel under Koa', () => {
  it("hands an auth function Koa's ctx, so the app's own session or state decides", async () => {
    const tracker = createTracker({
      store: memoryStore(),
      captureUncaught: false,
      captureUnhandledRejections: false,
      panel: { auth: (ctx: { state: { user?: string } }) => ctx.state.user === 'admin' },
    })
    trackers.push(tracker)
    const app = new Koa3()
    // the app's own login middleware runs first, as a session middleware would
    app.use(async (ctx, next) => {
      ctx.state.user = ctx.get('x-user')
      await next()
    })
    app.use(tracker.koa())
    await request(app.callback()).get('/errors').set('x-user', 'admin').expect(200)
    await request(app.callback()).get('/errors').set('x-user', 'guest').expect(403)
  })
})
