import { afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import express5 from 'express'
import express4 from 'express4'
import Koa3 from 'koa'
import Koa2 from 'koa2'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import { csrfFrom } from './helpers.js'
import type { TrackerOptions } from '../../lib/types.js'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(options: TrackerOptions = {}): Tracker {
  const tracker = createTracker({ store: memoryStore(), environment: 'development', captureUncaught: false, captureUnhandledRejections: false, ...options })
  trackers.push(tracker)
  return tracker
}

function checkoutFailed(): never {
  throw new Error('Card declined for order 42')
}

type Build = (tracker: Tracker) => { server: http.Server; base: string; trigger: string }

const apps: Array<[string, Build]> = [
  ['Express 5', (tracker) => {
    const app = express5()
    app.use(tracker.express())
    app.get('/checkout', () => checkoutFailed())
    return { server: http.createServer(app), base: '/errors', trigger: '/checkout' }
  }],
  ['Express 4, after the app’s own body parsers', (tracker) => {
    const app = express4()
    app.use(express4.urlencoded({ extended: false }))
    app.use(express4.json())
    app.use(tracker.express())
    app.get('/checkout', () => checkoutFailed())
    return { server: http.createServer(app), base: '/errors', trigger: '/checkout' }
  }],
  ['Express 5 mounted under a router at /admin', (tracker) => {
    const app = express5()
    const admin = express5.Router()
    admin.use(tracker.express())
    admin.get('/checkout', () => checkoutFailed())
    app.use('/admin', admin)
    return { server: http.createServer(app), base: '/admin/errors', trigger: '/admin/checkout' }
  }],
  ['Koa 3', (tracker) => {
    const app = new Koa3()
    app.silent = true
    app.use(tracker.koa())
    app.use((ctx) => { if (ctx.path === '/checkout') checkoutFailed() })
    return { server: http.createServer(app.callback()), base: '/errors', trigger: '/checkout' }
  }],
  ['Koa 2', (tracker) => {
    const app = new Koa2()
    app.silent = true
    app.use(tracker.koa())
    app.use((ctx) => { if (ctx.path === '/checkout') checkoutFailed() })
    return { server: http.createServer(app.callback()), base: '/errors', trigger: '/checkout' }
  }],
]

describe.each(apps)('the panel in %s', (_name, build) => {
  it('lists a captured error, shows it, resolves it by form, and sees it come back as a regression', async () => {
    const tracker = newTracker()
    const { server, base, trigger } = build(tracker)
    await request(server).get(trigger).expect(500)
    await tracker.flush()

    const list = await request(server).get(base).expect(200)
    expect(list.headers['content-security-policy']).toContain("default-src 'none'")
    expect(list.headers['cache-control']).toBe('no-store')
    expect(list.text).toContain('Error: Card declined for order 42')
    const href = new RegExp(`<a class="title" href="(${base}/issues/[^"]+)">`).exec(list.text)![1]
    const { cookie, token } = csrfFrom(list)
    expect(list.headers['set-cookie'][0]).toContain(`Path=${base};`)

    const issue = await request(server).get(href).expect(200)
    expect(issue.text).toContain('checkoutFailed')
    expect(issue.text).toContain(`GET</b> http://127.0.0.1`)

    const css = /<link rel="stylesheet" href="([^"]+)"/.exec(list.text)![1]
    expect((await request(server).get(css).expect(200)).headers['content-type']).toBe('text/css; charset=utf-8')

    await request(server).post(href).set('Cookie', cookie).type('form').send(`_csrf=${token}&action=resolve`)
      .expect(303).expect('Location', `${href}?done=resolve`)
    expect(await request(server).get(base).then((r) => r.text)).toContain('No unresolved issues.')

    await request(server).get(trigger).expect(500)
    await tracker.flush()
    const back = await request(server).get(base).expect(200)
    expect(back.text).toContain('<span class="badge regressed" title="A resolved issue came back">Regression</span>')
  })

  it('serves the JSON API: list, one issue, events, PATCH and DELETE', async () => {
    const tracker = newTracker()
    const { server, base, trigger } = build(tracker)
    await request(server).get(trigger).expect(500)
    await tracker.flush()
    const list = await request(server).get(`${base}/api/issues`).expect(200)
    expect(list.body.issues).toHaveLength(1)
    const id = list.body.issues[0].id
    const one = await request(server).get(`${base}/api/issues/${id}`).expect(200)
    expect(one.body.histogram.hourly.at(-1)).toBe(1)
    expect((await request(server).get(`${base}/api/issues/${id}/events`).expect(200)).body.events).toHaveLength(1)
    const patched = await request(server).patch(`${base}/api/issues/${id}`).send({ status: 'ignored', until: { events: 5 } }).expect(200)
    expect(patched.body).toMatchObject({ status: 'ignored', ignoreUntil: { count: 6 } })
    await request(server).patch(`${base}/api/issues/${id}`).type('form').send('status=resolved').expect(415)
    await request(server).delete(`${base}/api/issues/${id}`).expect(204)
    await request(server).get(`${base}/api/issues/${id}`).expect(404)
    await request(server).get(`${base}/api/issues/__proto__`).expect(404)
  })

  it('asks for Basic credentials when auth is set, and refuses forwarded requests without it', async () => {
    const locked = newTracker({ panel: { auth: { username: 'ops', password: 'hunter22' } } })
    const app = build(locked)
    await request(app.server).get(app.base).expect(401).expect('WWW-Authenticate', /Basic/)
    await request(app.server).get(app.base).auth('ops', 'hunter22').expect(200)
    await request(app.server).get(`${app.base}/api/issues`).auth('ops', 'wrong').expect(401)

    const open = build(newTracker())
    await request(open.server).get(open.base).set('X-Forwarded-For', '198.51.100.4').expect(403)
  })
})

describe('what the panel says about load', () => {
  it('shows how many of an issue’s events were shed, and the counts of the process serving it', async () => {
    const tracker = newTracker({ retention: { maxEventsPerIssue: 100 } })
    const app = express5()
    app.use(tracker.express())
    const server = http.createServer(app)
    // 150 errors of one issue at once: the issue's budget is 100 full events a minute
    for (let i = 0; i < 150; i++) {
      try {
        checkoutFailed()
      } catch (err) {
        tracker.captureException(err)
      }
    }
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await tracker.store.listIssues()).issues
    expect(issue).toMatchObject({ count: 150, shed: 50 })
    const list = await request(server).get('/errors').expect(200)
    expect(list.text).toContain('This process since it started: 150 captured, 100 stored in full, 50 counted without details (shed), <span class="">0 given up</span>, 0 waiting.')
    const page = await request(server).get(`/errors/issues/${issue.id}`).expect(200)
    expect(page.text).toContain('50 counted without details (shed under load)')
  })
})
