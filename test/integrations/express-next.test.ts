/**
 * Express exactly as without faultline: every handler gets the very `next` Express gives it, and
 * every error Express passes on is captured once, whether or not the app has an error handler of
 * its own (Express 4 and 5).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import diagnostics from 'node:diagnostics_channel'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express5 from 'express'
import express4 from 'express4'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'

const views = fileURLToPath(new URL('./fixtures/views', import.meta.url))
// a file Express cannot send, and answers 500 for (a missing file is a 404, which faultline skips by default)
const loops = mkdtempSync(path.join(os.tmpdir(), 'faultline-send-'))
symlinkSync(path.join(loops, 'b'), path.join(loops, 'a'))
symlinkSync(path.join(loops, 'a'), path.join(loops, 'b'))
afterAll(() => rmSync(loops, { recursive: true, force: true }))
const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(internal: Error[] = []) {
  const tracker = createTracker({
    store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false,
    onInternalError: (err) => internal.push(err),
  })
  trackers.push(tracker)
  return tracker
}

/** Titles of the issues and their counts, once everything captured is stored. */
async function recorded(tracker: Tracker): Promise<Record<string, number>> {
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all' })
  return Object.fromEntries(issues.map((i) => [i.title, i.count]))
}

const versions = [['Express 4', express4], ['Express 5', express5]] as const

for (const [name, express] of versions) {
  describe(`${name}: the same next`, () => {
    it('hands every middleware and route the next Express gives it: in middleware, next === req.next', async () => {
      const build = (tracker: Tracker | null) => {
        const app = express()
        if (tracker) app.use(tracker.express())
        app.use((req, res, next) => {
          res.locals.middleware = next === req.next
          next()
        })
        // a route's handlers get the route's own next, with faultline or without
        app.get('/same', (req, res, next) => {
          res.json({ middleware: res.locals.middleware, route: next === req.next })
        })
        return app
      }
      const bare = await request(build(null)).get('/same').expect(200)
      const withFaultline = await request(build(newTracker())).get('/same').expect(200)
      expect(withFaultline.body).toEqual(bare.body)
      expect(withFaultline.body.middleware).toBe(true)
    })

    it('lets res.format call the handler it picks with req.next, as without faultline', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/format', (req, res, next) => {
        res.format({
          'application/json': () => res.json({ picked: 'json' }),
          default: () => next(Object.assign(new Error('cannot answer that'), { status: 406 })),
        })
      })
      app.use((err: Error & { status?: number }, req: unknown, res: express5.Response, next: unknown) => {
        res.status(err.status ?? 500).json({ error: err.message })
      })
      await request(app).get('/format').set('accept', 'application/json').expect(200, { picked: 'json' })
      await request(app).get('/format').set('accept', 'image/png').expect(406, { error: 'cannot answer that' })
    })
  })

  describe(`${name}: every error Express passes on is captured once, with no error handler of the app's`, () => {
    function build(tracker: Tracker) {
      const app = express()
      app.set('views', views)
      app.set('view engine', 'ejs')
      app.use(tracker.express())
      app.param('order', (req, res, next, id) => {
        if (id === 'bad') throw new Error('bad order id')
        next()
      })
      app.get('/orders/:order', (req, res) => res.send('order'))
      app.get('/req-next', (req) => req.next!(new Error('passed to req.next')))
      app.get('/render', (req, res) => res.render('hello', { name: 'Ada' }))
      app.get('/render-broken', (req, res) => res.render('broken'))
      app.get('/send-missing', (req, res) => res.sendFile(path.join(views, 'no-such-file.txt')))
      app.get('/send-loop', (req, res) => res.sendFile(path.join(loops, 'a')))
      app.get('/download-loop', (req, res) => res.download(path.join(loops, 'b')))
      const router = express.Router()
      router.get('/inner', () => {
        throw new Error('inside a router')
      })
      app.use('/router', router)
      const sub = express()
      sub.get('/inner', () => {
        throw new Error('inside a sub-app')
      })
      app.use('/sub', sub)
      app.get('/string', () => {
        throw 'a thrown string'
      })
      return app
    }

    it('captures req.next(err), a template error, files it cannot send, app.param, routers and sub-apps; Express answers as before', async () => {
      const tracker = newTracker()
      const app = build(tracker)
      await request(app).get('/render').expect(200, '<p>Hello Ada</p>\n')
      // a missing file is Express's 404, not recorded (shouldCapture skips what is below 500)
      await request(app).get('/send-missing').expect(404)
      for (const url of ['/req-next', '/render-broken', '/send-loop', '/download-loop', '/orders/bad', '/router/inner', '/sub/inner', '/string']) {
        await request(app).get(url).expect(500)
      }
      const issues = await recorded(tracker)
      expect(issues['Error: passed to req.next']).toBe(1)
      expect(issues[`ReferenceError: ${path.join(views, 'broken.ejs')}:1`]).toBe(1)
      expect(Object.entries(issues).filter(([t]) => /ELOOP/.test(t)).reduce((sum, [, n]) => sum + n, 0)).toBe(2)
      expect(issues['Error: bad order id']).toBe(1)
      expect(issues['Error: inside a router']).toBe(1)
      expect(issues['Error: inside a sub-app']).toBe(1)
      expect(issues['Error: a thrown string']).toBe(1)
      // each failing request once: eight of them, the two ELOOP errors in one issue (they fail in one place)
      expect(Object.values(issues).reduce((sum, n) => sum + n, 0)).toBe(8)
    })

    it('shows a template error of an app without an error handler as an issue in the panel', async () => {
      const tracker = createTracker({
        store: memoryStore(), panel: { auth: { username: 'admin', password: 'pw' } },
        captureUncaught: false, captureUnhandledRejections: false,
      })
      trackers.push(tracker)
      const app = build(tracker)
      await request(app).get('/render-broken').expect(500)
      expect(await tracker.flush()).toBe(true)
      const panel = await request(app).get('/errors').auth('admin', 'pw').expect(200)
      expect(panel.text).toContain(`ReferenceError: ${path.join(views, 'broken.ejs')}:1`)
    })

    it('keeps its catch-all the last layer when the app adds routes after its first request', async () => {
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/first', (req, res) => res.send('first'))
      await request(app).get('/first').expect(200)
      app.get('/later', (req) => req.next!(new Error('from a route added later')))
      await request(app).get('/later').expect(500)
      expect(await recorded(tracker)).toEqual({ 'Error: from a route added later': 1 })
    })
  })

  describe(`${name}: faultline's line after the routes`, () => {
    const advice = 'so errors from them pass faultline by and are not recorded. Call app.use(tracker.express()) before the routes, right after const app = express().'
    /** What faultline said about the order, once the responses so far have ended on the server too. */
    async function saidAboutOrder(internal: Error[]): Promise<string[]> {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return internal.map((e) => e.message).filter((m) => m.includes('tracker.express()'))
    }

    it('says once, with the fix, though no request ever reaches faultline', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.get('/', (req, res) => res.send('home'))
      app.get('/boom', () => {
        throw new Error('thrown before faultline')
      })
      app.use(tracker.express())
      await request(app).get('/').expect(200, 'home')
      await request(app).get('/boom').expect(500)
      await request(app).get('/boom').expect(500)
      expect(await recorded(tracker)).toEqual({})
      expect(await saidAboutOrder(internal)).toEqual([`faultline: app.use(tracker.express()) comes after 2 routes (/, /boom), ${advice}`])
    })

    it('says so when the first request passes faultline (a 404), naming routers and the count past three', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      const api = express.Router()
      api.get('/orders', (req, res) => res.json([]))
      app.use('/api', api)
      app.route('/cart').get((req, res) => res.send('cart')).post((req, res) => res.send('added'))
      app.all('/any', (req, res) => res.send('any'))
      app.get('/help', (req, res) => res.send('help'))
      app.use(tracker.express())
      await request(app).get('/missing').expect(404)
      await request(app).get('/missing').expect(404)
      expect(await saidAboutOrder(internal)).toEqual([`faultline: app.use(tracker.express()) comes after 4 routes (a router, /cart, /any and 1 more), ${advice}`])
    })

    it('says once, with the fix, when an error comes from a middleware before it; not for a client error', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.use((req, res, next) => {
        if (req.path === '/early') throw new Error('from a middleware before faultline')
        if (req.path === '/bad') throw Object.assign(new Error('bad request'), { status: 400 })
        next()
      })
      app.use(tracker.express())
      app.get('/', (req, res) => res.send('home'))
      await request(app).get('/').expect(200, 'home')
      await request(app).get('/bad').expect(400)
      expect(await saidAboutOrder(internal)).toEqual([])
      await request(app).get('/early').expect(500)
      await request(app).get('/early').expect(500)
      expect(await recorded(tracker)).toEqual({})
      expect(await saidAboutOrder(internal)).toEqual([
        "faultline: an error reached Express's error handling without passing app.use(tracker.express()), so it was not recorded: " +
          'it came from a middleware, route or sub-app mounted before it. Call app.use(tracker.express()) before them, right after const app = express().',
      ])
    })

    it('says nothing when the app places capture itself with expressErrorHandler() after the routes', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.get('/', (req, res) => res.send('home'))
      app.get('/boom', () => {
        throw new Error('recorded by the error handler')
      })
      app.use(tracker.express())
      app.use(tracker.expressErrorHandler())
      await request(app).get('/').expect(200, 'home')
      await request(app).get('/missing').expect(404)
      await request(app).get('/boom').expect(500)
      expect(await recorded(tracker)).toEqual({ 'Error: recorded by the error handler': 1 })
      expect(await saidAboutOrder(internal)).toEqual([])
    })

    it('stops watching arriving requests once a request passed faultline, and at close()', async () => {
      const arrivals = 'http.server.request.start'
      const tracker = newTracker()
      const app = express()
      app.use(tracker.express())
      app.get('/', (req, res) => res.send('home'))
      expect(diagnostics.hasSubscribers(arrivals)).toBe(true)
      await request(app).get('/').expect(200, 'home')
      expect(diagnostics.hasSubscribers(arrivals)).toBe(false)
      const unused = newTracker()
      unused.express()
      expect(diagnostics.hasSubscribers(arrivals)).toBe(true)
      await unused.close()
      expect(diagnostics.hasSubscribers(arrivals)).toBe(false)
    })

    it('says nothing when it comes before the routes, after other middleware, or beside an app without faultline', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const other = express()
      other.get('/', (req, res) => res.send('other app'))
      const app = express()
      app.use(express.json())
      app.use(tracker.express())
      app.get('/', (req, res) => res.send('home'))
      app.get('/boom', () => {
        throw new Error('recorded')
      })
      await request(other).get('/').expect(200, 'other app')
      await request(app).get('/').expect(200, 'home')
      await request(app).get('/boom').expect(500)
      expect(await recorded(tracker)).toEqual({ 'Error: recorded': 1 })
      expect(await saidAboutOrder(internal)).toEqual([])
    })
  })

  describe(`${name}: routing settings set after faultline's line`, () => {
    it('says once that Express ignores them, with the fix', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.use(tracker.express())
      app.set('strict routing', true)
      app.get('/path/', (req, res) => res.send('with slash'))
      await request(app).get('/path/').expect(200)
      await request(app).get('/path/').expect(200)
      const said = internal.map((e) => e.message).filter((m) => m.includes('strict routing'))
      expect(said).toHaveLength(1)
      expect(said[0]).toMatch(/app\.set\('strict routing', true\) came after the app's router was built, so Express ignores it .*before the first app\.use/)
    })

    it('says nothing when the settings come first', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.set('strict routing', true)
      app.set('case sensitive routing', true)
      app.use(tracker.express())
      app.get('/path/', (req, res) => res.send('with slash'))
      await request(app).get('/path/').expect(200)
      await request(app).get('/path').expect(404)
      expect(internal).toEqual([])
    })

    it('says nothing about a sub-app that inherits them from its parent', async () => {
      const internal: Error[] = []
      const tracker = newTracker(internal)
      const app = express()
      app.set('strict routing', true)
      app.use(tracker.express())
      const admin = express()
      admin.use(tracker.express())
      admin.get('/home', (req, res) => res.send('admin home'))
      app.use('/admin', admin)
      await request(app).get('/admin/home').expect(200, 'admin home')
      expect(internal).toEqual([])
    })
  })
}
