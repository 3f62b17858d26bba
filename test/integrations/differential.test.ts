/**
 * The differential test of issue 16: the same app built twice, with and without faultline's one
 * line, and a corpus of requests over what the Express and Koa guides document. For every request,
 * the response (status, headers but Date, body bytes), what the framework logs on stderr and, for
 * Koa, what the app's 'error' listener and ctx.onerror see must be the same with faultline as
 * without it; and with faultline, a request whose handling produced an error must be recorded as
 * exactly one event (none when it produced none).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { format } from 'node:util'
import express5 from 'express'
import express4 from 'express4'
import Koa3 from 'koa'
import Koa2 from 'koa2'
import Router from '@koa/router'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'

const fixtures = fileURLToPath(new URL('./fixtures/differential/', import.meta.url))
const viewsDir = path.join(fixtures, 'views')
const staticDir = path.join(fixtures, 'static')
const filesDir = path.join(fixtures, 'files')
/** The app's own code: this file and its fixtures. Frames elsewhere are the framework's or faultline's. */
const appCode = path.dirname(fileURLToPath(import.meta.url))

type Status = number | 'cut'
type Method = 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

/** One request of the corpus. */
interface Case {
  /** what it exercises */
  name: string
  method?: Method
  path: string
  headers?: Record<string, string>
  body?: string
  /**
   * the status the bare app answers with ('cut' when it cuts the connection), or one per major
   * version of the framework where they differ
   */
  status: Status | Record<number, Status>
  /** events faultline must record for it: 1 when its handling produced an error, else 0 */
  errors: 0 | 1
  /** the status when the app's own error handler answers, where it differs from the framework's */
  handledStatus?: Status
  /** only on this major version of the framework */
  only?: number
  /** a request that hangs (in both builds): how long to wait for it, in ms */
  timeout?: number
}

/** What one build did with one request. */
interface Outcome {
  status?: number
  headers?: Record<string, unknown>
  /** the body's bytes, one character each */
  body?: string
  /** the request failed: the connection was cut or never answered */
  failure?: string
  /** what the process wrote through console.error meanwhile (the frameworks' default logging) */
  stderr: string[]
  /** Koa: what the app's 'error' listener saw */
  appErrors?: unknown[]
  /** Koa: the errors Koa handed to ctx.onerror */
  onerror?: unknown[]
}

// ---------------------------------------------------------------------------------------------
// Comparing

/**
 * Keeps only the frames of the app's own code in the stack traces a text holds (Express's error
 * page outside production, what Express and Koa log). Normalised, and said here, because a stack is
 * the one thing faultline cannot leave alike: its middleware is a layer of the app, so the frames
 * of that layer (Express's Layer.handle, trim_prefix, next, and faultline's own functions, or
 * koa-compose's dispatch) sit between the app's frames and the server's. The message and every
 * frame of the app's own code must still be identical, in order.
 */
const FRAME = /(?:\r?\n|<br>)[ \t]*(?:&nbsp;[ \t]*)*at (?:(?!<br>|<\/pre>)[^\n])*/g
function appFramesOnly(text: string): string {
  // V8 adds "[as onerror]" to a frame when the function was called as a property of another name,
  // which faultline's wrapper of ctx.onerror (a .call) changes: the name itself is kept
  return text.replace(FRAME, (frame) => (frame.includes(appCode) ? frame.replace(/ \[as [^\]]+\]/, '') : ''))
}

function normalise(outcome: Outcome): Outcome {
  const stderr = outcome.stderr.map(appFramesOnly)
  if (outcome.body === undefined) return { ...outcome, stderr }
  const body = appFramesOnly(outcome.body)
  if (body === outcome.body) return { ...outcome, stderr }
  // the page held a stack: its length is said as "the body's own" when it is, instead of compared
  const headers = { ...outcome.headers }
  if (headers['content-length'] === String(Buffer.byteLength(outcome.body, 'latin1'))) headers['content-length'] = '(the length of the body)'
  return { ...outcome, headers, body, stderr }
}

/** Gathers the body's bytes whatever its type. */
function raw(res: NodeJS.ReadableStream, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = []
  res.on('data', (chunk: Buffer) => chunks.push(chunk))
  res.on('end', () => done(null, Buffer.concat(chunks)))
  res.on('error', (err: Error) => done(err, Buffer.concat(chunks)))
}

const logged: string[] = []

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function send(base: string, c: Case): Promise<Omit<Outcome, 'stderr'>> {
  const method = (c.method ?? 'GET').toLowerCase() as 'get'
  let test = request(base)[method](c.path).buffer(true).parse((res, done) => raw(res as unknown as NodeJS.ReadableStream, done)).ok(() => true).redirects(0).timeout(c.timeout ?? 5000)
  for (const [name, value] of Object.entries(c.headers ?? {})) test = test.set(name, value)
  if (c.body !== undefined) test = test.send(c.body)
  try {
    const res = await test
    const headers: Record<string, unknown> = { ...res.headers }
    delete headers.date
    return { status: res.status, headers, body: Buffer.isBuffer(res.body) ? res.body.toString('latin1') : '' }
  } catch (err) {
    const e = err as { code?: string; timeout?: number; message: string }
    return { failure: e.timeout !== undefined ? 'no answer' : (e.code ?? e.message) }
  }
}

// ---------------------------------------------------------------------------------------------
// What faultline recorded

interface StoredEvent {
  event_id: string
  request?: { method?: string; url?: string }
}

async function storedEvents(tracker: Tracker): Promise<StoredEvent[]> {
  expect(await tracker.flush()).toBe(true)
  const events: StoredEvent[] = []
  let cursor: string | null | undefined = null
  do {
    const page = await tracker.store.listIssues({ status: 'all', limit: 100, cursor })
    for (const issue of page.issues) {
      let at: string | null | undefined = null
      do {
        const list = await tracker.store.listEvents(issue.id, { limit: 100, cursor: at })
        events.push(...(list.events as StoredEvent[]))
        at = list.nextCursor
      } while (at)
    }
    cursor = page.nextCursor
  } while (cursor)
  return events
}

function newTracker(internal: unknown[]): Tracker {
  return createTracker({
    store: memoryStore(),
    captureUncaught: false,
    captureUnhandledRejections: false,
    environment: 'development',
    // every error the app's handling produced is to be recorded here, the 4xx ones included
    // (by default faultline skips errors whose status is below 500; that rule is tested elsewhere)
    shouldCapture: () => true,
    onInternalError: (err) => internal.push(err),
  })
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function stop(server: http.Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

beforeAll(() => {
  // stacks cut at Node's 10 frames would be cut at different places with faultline's frames among them
  Error.stackTraceLimit = 100
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    logged.push(format(...args))
  })
})

afterAll(() => {
  Error.stackTraceLimit = 10
  vi.restoreAllMocks()
})

/** A thrown value as the apps' own error handlers and listeners describe it. */
function describeThrown(err: unknown): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { value: String(err) }
  const e = err as { name?: unknown; message?: unknown; status?: unknown; statusCode?: unknown; expose?: unknown; headerSent?: unknown }
  return { name: e.name, message: e.message, status: e.status, statusCode: e.statusCode, expose: e.expose, headerSent: e.headerSent }
}

function statusOf(err: unknown): number {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

/**
 * Runs a corpus against the two builds of one app, one test per request, each request in turn to
 * the bare app then to the app with faultline.
 */
function compare(corpus: Case[], major: number, ownHandler: boolean, setup: () => Promise<{ bare: string; withFaultline: string; tracker: Tracker; seen: { bare: Seen; withFaultline: Seen } }>) {
  let builds: Awaited<ReturnType<typeof setup>>
  const recorded = new Set<string>()
  beforeAll(async () => {
    builds = await setup()
  })
  for (const c of corpus) {
    const method = c.method ?? 'GET'
    it(`${method} ${c.path}: ${c.name}`, async () => {
      const run = async (base: string, seen: Seen): Promise<Outcome> => {
        const from = logged.length
        seen.appErrors.length = 0
        seen.onerror.length = 0
        const response = await send(base, c)
        await settle()
        return normalise({ ...response, stderr: logged.slice(from), appErrors: [...seen.appErrors], onerror: [...seen.onerror] })
      }
      const bare = await run(builds.bare, builds.seen.bare)
      const withFaultline = await run(builds.withFaultline, builds.seen.withFaultline)
      // the corpus exercises what it says it does
      const status = ownHandler && c.handledStatus !== undefined ? c.handledStatus : typeof c.status === 'object' ? c.status[major] : c.status
      expect.soft(bare.failure === undefined ? bare.status : 'cut', 'the bare app answered as the corpus says').toBe(status)
      expect.soft(withFaultline.status, 'status').toBe(bare.status)
      expect.soft(withFaultline.failure, 'failure').toBe(bare.failure)
      expect.soft(withFaultline.headers, 'headers').toEqual(bare.headers)
      expect.soft(withFaultline.body, 'body').toBe(bare.body)
      expect.soft(withFaultline.stderr, 'stderr (stack traces normalised to the app frames)').toEqual(bare.stderr)
      expect.soft(withFaultline.appErrors, "what app.on('error') saw").toEqual(bare.appErrors)
      expect.soft(withFaultline.onerror, 'what ctx.onerror was given').toEqual(bare.onerror)
      const fresh = (await storedEvents(builds.tracker)).filter((e) => !recorded.has(e.event_id))
      for (const e of fresh) recorded.add(e.event_id)
      const describeEvent = (e: StoredEvent) => `${e.request?.method} ${e.request?.url?.replace(/^http:\/\/[^/]+/, '')}`
      expect.soft(fresh.map(describeEvent), 'events faultline recorded for the request').toEqual(Array.from({ length: c.errors }, () => `${method} ${c.path}`))
    })
  }
}

interface Seen {
  appErrors: unknown[]
  onerror: unknown[]
}

const noSeen = (): Seen => ({ appErrors: [], onerror: [] })

// ---------------------------------------------------------------------------------------------
// Express

type Express = typeof express5
type Req = express5.Request
type Res = express5.Response
type Next = express5.NextFunction

interface ExpressFramework {
  name: string
  major: number
  express: Express
}

interface ExpressVariant {
  name: string
  /** the app's `env` setting: outside production Express's error page shows the stack */
  env: 'development' | 'production'
  /** the app has error handlers of its own after its routes */
  ownHandler: boolean
}

/**
 * The app, with faultline when `faultline` is given: the builds differ only in the lines marked
 * "faultline" (the app's, and a mounted sub-app's own).
 */
function build(framework: ExpressFramework, faultline: Tracker | null, variant: ExpressVariant) {
  const { express, major } = framework
  const app = express()
  // settings first: Express builds the app's router on the first app.use, with the settings of that moment
  app.set('env', variant.env)
  app.set('strict routing', true)
  app.set('case sensitive routing', true)
  app.set('views', viewsDir)
  app.set('view engine', 'ejs')
  app.set('trust proxy', 'loopback')
  if (faultline) app.use(faultline.express()) // faultline

  app.use(express.json())
  app.use(express.urlencoded({ extended: false }))
  app.use('/static', express.static(staticDir))
  app.use('/static-strict', express.static(staticDir, { fallthrough: false }))
  app.locals.place = 'the app'

  // responses
  app.get('/ok', (_req: Req, res: Res) => {
    res.set('x-app', 'yes').json({ ok: true })
  })
  app
    .route('/multi')
    .get((_req: Req, res: Res) => {
      res.send('got')
    })
    .post((_req: Req, res: Res) => {
      res.status(201).send('posted')
    })
    .delete((_req: Req, res: Res) => {
      res.sendStatus(204)
    })
  app.all('/all', (req: Req, res: Res) => {
    res.send(`all: ${req.method}`)
  })
  app.head('/only-head', (_req: Req, res: Res) => {
    res.set('x-head', 'yes').end()
  })
  app.get('/redirect', (_req: Req, res: Res) => res.redirect('/ok'))
  app.get('/redirect-301', (_req: Req, res: Res) => res.redirect(301, '/ok'))
  app.get('/cookie', (_req: Req, res: Res) => {
    res.cookie('theme', 'dark', { httpOnly: true }).send('a cookie')
  })
  app.get('/teapot', (_req: Req, res: Res) => {
    res.sendStatus(418)
  })
  app.get('/headers', (_req: Req, res: Res) => {
    res.vary('Accept').links({ next: '/page/2' }).location('/elsewhere').type('text').send('with headers')
  })
  app.get('/jsonp', (_req: Req, res: Res) => {
    res.jsonp({ padded: true })
  })
  app.get('/errorsx', (_req: Req, res: Res) => {
    res.send('an app route that merely starts like the panel')
  })
  app.get('/errors-list', (_req: Req, res: Res) => {
    res.send('another app route that starts like the panel')
  })
  app.get('/query', (req: Req, res: Res) => {
    res.json(req.query)
  })
  app.get('/whoami', (req: Req, res: Res) => {
    res.json({ ip: req.ip, ips: req.ips, protocol: req.protocol, secure: req.secure, hostname: req.hostname })
  })
  app.post('/echo', (req: Req, res: Res) => {
    res.json({ body: req.body ?? null })
  })
  app.post('/small', express.text({ limit: '10b' }), (req: Req, res: Res) => {
    res.send(`small: ${req.body}`)
  })

  // routing
  app.get('/users/:id', (req: Req, res: Res) => {
    res.json({ id: req.params.id })
  })
  app.get('/files/:dir/:name', (req: Req, res: Res) => {
    res.json(req.params)
  })
  app.get(/^\/re\/(\d+)$/, (req: Req, res: Res) => {
    res.json({ captured: req.params[0] })
  })
  if (major === 4) {
    app.get('/opt/:x?', (req: Req, res: Res) => {
      res.json({ x: req.params.x ?? null })
    })
    app.get('/wild/*', (req: Req, res: Res) => {
      res.json({ rest: req.params[0] })
    })
  } else {
    app.get('/opt{/:x}', (req: Req, res: Res) => {
      res.json({ x: req.params.x ?? null })
    })
    app.get('/wild/*rest', (req: Req, res: Res) => {
      res.json({ rest: req.params.rest })
    })
  }
  app.get('/strict/', (_req: Req, res: Res) => {
    res.send('with its trailing slash')
  })
  app.get('/Case', (_req: Req, res: Res) => {
    res.send('with a capital C')
  })
  app.param('user', (_req: Req, res: Res, next: Next, id: string) => {
    if (id === 'bad') return next(new Error(`no such user: ${id}`))
    if (id === 'throws') throw new Error('the user lookup threw')
    if (id === 'skip') return next('route')
    res.locals.user = { id, name: `user ${id}` }
    next()
  })
  app.get('/p/:user', (_req: Req, res: Res) => {
    res.json(res.locals.user)
  })
  app.get('/p/:user', (_req: Req, res: Res) => {
    res.send("the next route, after next('route') in app.param")
  })
  app.get(
    '/array',
    [
      (_req: Req, res: Res, next: Next) => {
        res.locals.steps = ['first']
        next()
      },
      (_req: Req, res: Res, next: Next) => {
        res.locals.steps.push('second')
        next()
      },
    ],
    (_req: Req, res: Res) => {
      res.json(res.locals.steps)
    },
  )
  app.get(
    '/skip',
    (_req: Req, _res: Res, next: Next) => next('route'),
    (_req: Req, res: Res) => {
      res.send('never')
    },
  )
  app.get('/skip', (_req: Req, res: Res) => {
    res.send('the second /skip route')
  })
  const leaving = express.Router()
  leaving.use((req: Req, _res: Res, next: Next) => (req.query.leave !== undefined ? next('router') : next()))
  leaving.get('/x', (_req: Req, res: Res) => {
    res.send('inside the router')
  })
  app.use('/leave', leaving)
  app.get('/leave/x', (_req: Req, res: Res) => {
    res.send('after the router it left')
  })

  // routers
  const api = express.Router()
  api.use((_req: Req, res: Res, next: Next) => {
    res.set('x-api', 'yes')
    next()
  })
  api.get('/items/:id', (req: Req, res: Res) => {
    res.json({ item: req.params.id, baseUrl: req.baseUrl })
  })
  api.get('/items/:id/fail', () => {
    throw new Error('failed inside the api router')
  })
  api.get('/req-next', (req: Req) => req.next!(new Error('passed to req.next in a router')))
  api.use('/same', (req: Req, res: Res, next: Next) => {
    res.json({ same: next === req.next })
  })
  app.use('/api', api)
  const outer = express.Router({ mergeParams: true })
  const inner = express.Router({ mergeParams: true })
  inner.get('/:leaf', (req: Req, res: Res) => {
    res.json(req.params)
  })
  inner.get('/:leaf/fail', (req: Req, _res: Res, next: Next) => next(new Error(`failed in nested routers at ${req.params.leaf}`)))
  outer.use('/:middle/inner', inner)
  app.use('/m/:top', outer)
  const answeringRouter = express.Router()
  answeringRouter.get('/fail', () => {
    throw new Error('failed in a router with an error handler of its own')
  })
  answeringRouter.use((err: Error, _req: Req, res: Res, _next: Next) => {
    res.status(500).send(`the router's handler: ${err.message}`)
  })
  app.use('/rh', answeringRouter)

  // mounted sub-apps
  const sub = express()
  sub.get('/hi', (req: Req, res: Res) => {
    res.json({ baseUrl: req.baseUrl, mountpath: sub.mountpath, originalUrl: req.originalUrl })
  })
  sub.get('/fail', () => {
    throw new Error('failed in a sub-app')
  })
  sub.get('/later', (_req: Req, _res: Res, next: Next) => {
    setTimeout(() => next(new Error('passed to next later, in a sub-app')), 1)
  })
  app.use('/sub', sub)
  const tracked = express()
  if (faultline) tracked.use(faultline.express()) // faultline, the sub-app's own
  tracked.get('/hi', (req: Req, res: Res) => {
    res.json({ baseUrl: req.baseUrl, originalUrl: req.originalUrl })
  })
  tracked.get('/fail', () => {
    throw new Error('failed in a sub-app with its own faultline line')
  })
  app.use('/tracked', tracked)
  const answeringApp = express()
  answeringApp.get('/fail', () => {
    throw new Error('failed in a sub-app with an error handler of its own')
  })
  answeringApp.use((err: Error, _req: Req, res: Res, _next: Next) => {
    res.status(502).json({ subApp: err.message })
  })
  app.use('/answering', answeringApp)

  // content negotiation
  app.get('/fmt', (_req: Req, res: Res) => {
    res.format({
      'text/plain': () => res.send('plain'),
      'application/json': () => res.json({ format: 'json' }),
    })
  })
  app.get('/fmt-default', (_req: Req, res: Res) => {
    res.format({
      'text/html': () => res.send('<p>html</p>'),
      default: () => res.send('the default'),
    })
  })
  // the handler res.format picks is called with req.next
  app.get('/fmt-next', (req: Req, res: Res) => {
    res.format({
      'text/plain': (_r: Req, _s: Res, next: Next) => res.json({ same: next === req.next }),
      'application/json': (_r: Req, _s: Res, next: Next) => next(new Error('the handler res.format picked failed')),
      'text/html': (_r: Req, _s: Res, next: Next) => next(),
    })
  })
  app.get('/fmt-next', (_req: Req, res: Res) => {
    res.send('the next route, after the format handler passed the request on')
  })
  // in a middleware, req.next is the middleware's own next
  app.use('/fmt-mw', (_req: Req, res: Res, next: Next) => {
    res.format({
      'text/plain': (_r: Req, _s: Res, picked: Next) => res.json({ same: picked === next }),
    })
  })

  // views and files
  app.get('/render/ok', (_req: Req, res: Res) => res.render('page', { name: 'Ana' }))
  app.get('/render/broken', (_req: Req, res: Res) => res.render('broken'))
  app.get('/render/missing', (_req: Req, res: Res) => res.render('no-such-view'))
  app.get('/render/broken-callback', (_req: Req, res: Res) =>
    res.render('broken', (err: Error | null, html?: string) => {
      if (err) res.status(500).type('text').send(`could not render: ${err.name}`)
      else res.send(html)
    }),
  )
  app.get('/send/hello', (_req: Req, res: Res) => res.sendFile('hello.txt', { root: staticDir }))
  app.get('/send/missing', (_req: Req, res: Res) => res.sendFile('missing.txt', { root: staticDir }))
  app.get('/send/missing-callback', (_req: Req, res: Res) =>
    res.sendFile('missing.txt', { root: staticDir }, (err) => {
      if (err) res.status(404).send(`no such file (${(err as NodeJS.ErrnoException).code})`)
    }),
  )
  app.get('/send/relative', (_req: Req, res: Res) => res.sendFile('hello.txt'))
  app.get('/download', (_req: Req, res: Res) => res.download(path.join(filesDir, 'report.csv')))
  app.get('/download/named', (_req: Req, res: Res) => res.download(path.join(filesDir, 'report.csv'), 'april.csv'))
  app.get('/download/missing', (_req: Req, res: Res) => res.download(path.join(filesDir, 'missing.csv')))

  // errors
  app.get(
    '/route-handler',
    (_req: Req, _res: Res, next: Next) => next(new Error("for the route's own error handler")),
    (err: Error, _req: Req, res: Res, _next: Next) => {
      res.status(500).send(`the route's handler answered: ${err.message}`)
    },
  )
  app.get(
    '/route-passes-on',
    (_req: Req, _res: Res, next: Next) => next(new Error('passed on by the route error handler')),
    (err: Error, _req: Req, res: Res, next: Next) => {
      res.set('x-seen-by', "the route's handler")
      next(err)
    },
  )
  app.get('/throw/error', () => {
    throw new TypeError('a plain throw')
  })
  app.get('/throw/string', () => {
    throw 'a thrown string'
  })
  app.get('/throw/number', () => {
    throw 42
  })
  app.get('/throw/object', () => {
    throw { status: 503, message: 'a plain object' }
  })
  app.get('/throw/null', () => {
    throw null
  })
  app.get('/throw/undefined', () => {
    throw undefined
  })
  app.get('/throw/route', () => {
    throw 'route'
  })
  app.get('/throw/route', (_req: Req, res: Res) => {
    res.send('the next route, after a thrown "route"')
  })
  app.get('/throw/status', () => {
    throw Object.assign(new Error('slow down'), { status: 429, headers: { 'Retry-After': '10' } })
  })
  app.get('/throw/bigint', (_req: Req, res: Res) => {
    res.json({ n: BigInt(1) })
  })
  app.get('/next', (_req: Req, _res: Res, next: Next) => next(new Error('passed to next')))
  app.get('/promise-catch', (_req: Req, _res: Res, next: Next) => {
    Promise.reject(new Error('rejected, then passed on by .catch(next)')).catch(next)
  })
  app.get('/later', (_req: Req, _res: Res, next: Next) => {
    setTimeout(() => next(new Error('passed to next from a timer')), 1)
  })
  app.get('/partial', (_req: Req, res: Res, next: Next) => {
    res.write('partial')
    next(new Error('passed to next after the headers went out'))
  })
  app.get('/req-next', (req: Req) => req.next!(new Error('passed to req.next in a route')))
  app.use('/req-next-mw', (req: Req) => req.next!(new Error('passed to req.next in a middleware')))
  app.use('/same', (req: Req, res: Res, next: Next) => {
    res.json({ same: next === req.next })
  })
  app.get('/same-route', (req: Req, res: Res, next: Next) => {
    res.json({ same: next === req.next })
  })
  if (major >= 5) {
    app.get('/async/ok', async (_req: Req, res: Res) => {
      await tick()
      res.send('resolved')
    })
    app.get('/async/reject', async () => {
      await tick()
      throw new Error('rejected after an await')
    })
    app.get('/async/reject-string', async () => {
      throw 'a rejected string'
    })
    app.get('/async/reject-null', async () => {
      throw null
    })
    app.use('/async-mw', async () => {
      await tick()
      throw new RangeError('rejected in a middleware')
    })
  }

  if (variant.ownHandler) {
    app.use((err: unknown, _req: Req, res: Res, next: Next) => {
      if (!res.headersSent) res.set('x-first-handler', 'passed it on')
      next(err)
    })
    app.use((err: unknown, req: Req, res: Res, next: Next) => {
      // as Express's guide says: once the headers are out, leave it to Express's default handler
      if (res.headersSent || req.query.default !== undefined) return next(err)
      res.status(statusOf(err)).json({ handled: describeThrown(err) })
    })
  }
  return app
}

/**
 * The Express corpus. The app's own error handler (in one variant) answers with the status Express
 * would, so `status` holds in every variant.
 */
const expressCorpus: Case[] = [
  // responses
  { name: 'a JSON response with a header', path: '/ok', status: 200, errors: 0 },
  { name: 'HEAD on a GET route', method: 'HEAD', path: '/ok', status: 200, errors: 0 },
  { name: "OPTIONS answered by Express with the route's Allow", method: 'OPTIONS', path: '/ok', status: 200, errors: 0 },
  { name: 'OPTIONS on app.route with several methods', method: 'OPTIONS', path: '/multi', status: 200, errors: 0 },
  { name: 'app.route: POST', method: 'POST', path: '/multi', status: 201, errors: 0 },
  { name: 'app.route: DELETE', method: 'DELETE', path: '/multi', status: 204, errors: 0 },
  { name: 'app.route: a method it lacks is a 404', method: 'PUT', path: '/multi', status: 404, errors: 0 },
  { name: 'app.all answers OPTIONS itself', method: 'OPTIONS', path: '/all', status: 200, errors: 0 },
  { name: 'app.head', method: 'HEAD', path: '/only-head', status: 200, errors: 0 },
  { name: 'a redirect', path: '/redirect', status: 302, errors: 0 },
  { name: 'a 301 redirect', path: '/redirect-301', status: 301, errors: 0 },
  { name: 'a cookie', path: '/cookie', status: 200, errors: 0 },
  { name: 'res.sendStatus', path: '/teapot', status: 418, errors: 0 },
  { name: 'res.vary, res.links, res.location, res.type', path: '/headers', status: 200, errors: 0 },
  { name: 'res.jsonp with a callback', path: '/jsonp?callback=cb', status: 200, errors: 0 },
  { name: 'an app route that merely starts like the panel path', path: '/errorsx', status: 200, errors: 0 },
  { name: 'another app route that starts like the panel path', path: '/errors-list', status: 200, errors: 0 },
  { name: 'the panel path in other letters (case-sensitive routing)', path: '/ERRORS', status: 404, errors: 0 },
  { name: 'the query string, parsed', path: '/query?a[b]=1&c=2&c=3', status: 200, errors: 0 },
  { name: "trust proxy: the client's address and protocol from X-Forwarded-*", path: '/whoami', headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' }, status: 200, errors: 0 },
  { name: 'a 404 for an unknown route', path: '/nope', status: 404, errors: 0 },
  { name: 'a 404 for an unknown route, HEAD', method: 'HEAD', path: '/nope', status: 404, errors: 0 },
  { name: 'a 404 for an unknown route, OPTIONS', method: 'OPTIONS', path: '/nope', status: 404, errors: 0 },
  { name: 'a 404 for a method no route has', method: 'POST', path: '/ok', status: 404, errors: 0 },
  // body parsers
  { name: 'express.json()', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}', status: 200, errors: 0 },
  { name: "express.json() with malformed JSON: a 400 with Express's message", method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":', status: 400, errors: 1 },
  { name: 'express.urlencoded()', method: 'POST', path: '/echo', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two', status: 200, errors: 0 },
  { name: 'a body of a type no parser reads', method: 'POST', path: '/echo', headers: { 'content-type': 'application/xml' }, body: '<a/>', status: 200, errors: 0 },
  { name: 'express.text() over its limit: a 413', method: 'POST', path: '/small', headers: { 'content-type': 'text/plain' }, body: 'far more than ten bytes', status: 413, errors: 1 },
  // routing
  { name: 'a route parameter', path: '/users/42', status: 200, errors: 0 },
  { name: 'a parameter that is decoded', path: '/users/a%20b', status: 200, errors: 0 },
  { name: 'a parameter that cannot be decoded: a 400', path: '/users/%E0%A4%A', status: 400, errors: 1 },
  { name: 'two parameters', path: '/files/docs/readme.md', status: 200, errors: 0 },
  { name: 'a regular expression route', path: '/re/123', status: 200, errors: 0 },
  { name: 'a regular expression route that does not match', path: '/re/abc', status: 404, errors: 0 },
  { name: 'an optional parameter, absent', path: '/opt', status: 200, errors: 0 },
  { name: 'an optional parameter, present', path: '/opt/7', status: 200, errors: 0 },
  { name: 'a wildcard', path: '/wild/a/b/c', status: 200, errors: 0 },
  { name: 'strict routing: the trailing slash', path: '/strict/', status: 200, errors: 0 },
  { name: 'strict routing: no trailing slash is another path', path: '/strict', status: 404, errors: 0 },
  { name: 'strict routing: a slash a route lacks', path: '/ok/', status: 404, errors: 0 },
  { name: 'case-sensitive routing: the same case', path: '/Case', status: 200, errors: 0 },
  { name: 'case-sensitive routing: another case is another path', path: '/case', status: 404, errors: 0 },
  { name: 'app.param loads the parameter', path: '/p/ana', status: 200, errors: 0 },
  { name: 'app.param passes an error to next', path: '/p/bad', status: 500, errors: 1 },
  { name: 'app.param throws', path: '/p/throws', status: 500, errors: 1 },
  { name: "app.param calls next('route')", path: '/p/skip', status: 404, errors: 0 },
  { name: 'an array of handlers', path: '/array', status: 200, errors: 0 },
  { name: "next('route') skips the rest of the route", path: '/skip', status: 200, errors: 0 },
  { name: 'a router, entered', path: '/leave/x', status: 200, errors: 0 },
  { name: "next('router') leaves the router", path: '/leave/x?leave', status: 200, errors: 0 },
  // routers
  { name: 'express.Router mounted at a path', path: '/api/items/5', status: 200, errors: 0 },
  { name: 'OPTIONS on a route of a router', method: 'OPTIONS', path: '/api/items/5', status: 200, errors: 0 },
  { name: 'a router is not strict unless told', path: '/api/items/5/', status: 200, errors: 0 },
  { name: 'a router is not case-sensitive unless told', path: '/api/ITEMS/5', status: 200, errors: 0 },
  { name: 'a throw in a router', path: '/api/items/5/fail', status: 500, errors: 1 },
  { name: 'req.next(err) in a router', path: '/api/req-next', status: 500, errors: 1 },
  { name: 'a middleware of a router: next === req.next', path: '/api/same', status: 200, errors: 0 },
  { name: 'an unknown path under a router', path: '/api/nothing', status: 404, errors: 0 },
  { name: 'nested routers with mergeParams', path: '/m/t1/m2/inner/leaf3', status: 200, errors: 0 },
  { name: 'next(err) in nested routers', path: '/m/t1/m2/inner/leaf3/fail', status: 500, errors: 1 },
  { name: 'a router with an error handler of its own that answers', path: '/rh/fail', status: 500, errors: 1 },
  // sub-apps
  { name: 'a mounted sub-app', path: '/sub/hi', status: 200, errors: 0 },
  { name: 'a throw in a mounted sub-app', path: '/sub/fail', status: 500, errors: 1 },
  { name: 'next(err) later in a mounted sub-app', path: '/sub/later', status: 500, errors: 1 },
  { name: 'an unknown path under a mounted sub-app', path: '/sub/nothing', status: 404, errors: 0 },
  { name: 'a mounted sub-app with its own tracker.express()', path: '/tracked/hi', status: 200, errors: 0 },
  { name: 'a throw in a mounted sub-app with its own tracker.express()', path: '/tracked/fail', status: 500, errors: 1 },
  { name: 'a mounted sub-app with an error handler of its own', path: '/answering/fail', status: 502, errors: 1 },
  // content negotiation
  { name: 'res.format: text/plain', path: '/fmt', headers: { accept: 'text/plain' }, status: 200, errors: 0 },
  { name: 'res.format: application/json', path: '/fmt', headers: { accept: 'application/json' }, status: 200, errors: 0 },
  { name: 'res.format: no match is a 406', path: '/fmt', headers: { accept: 'image/png' }, status: 406, errors: 1 },
  { name: 'res.format: no match, the default', path: '/fmt-default', headers: { accept: 'image/png' }, status: 200, errors: 0 },
  { name: 'res.format: the picked handler is given req.next', path: '/fmt-next', headers: { accept: 'text/plain' }, status: 200, errors: 0 },
  { name: 'res.format: the picked handler passes an error to req.next', path: '/fmt-next', headers: { accept: 'application/json' }, status: 500, errors: 1 },
  { name: 'res.format: the picked handler passes the request on with req.next()', path: '/fmt-next', headers: { accept: 'text/html' }, status: 200, errors: 0 },
  { name: "res.format in a middleware: the picked handler gets the middleware's next", path: '/fmt-mw', headers: { accept: 'text/plain' }, status: 200, errors: 0 },
  // views
  { name: 'res.render of an EJS view', path: '/render/ok', status: 200, errors: 0 },
  { name: 'res.render of a view that throws, without a callback', path: '/render/broken', status: 500, errors: 1 },
  { name: 'res.render of a view that does not exist, without a callback', path: '/render/missing', status: 500, errors: 1 },
  { name: 'res.render of a view that throws, with a callback that answers', path: '/render/broken-callback', status: 500, errors: 0 },
  // files
  { name: 'res.sendFile', path: '/send/hello', status: 200, errors: 0 },
  { name: 'res.sendFile, HEAD', method: 'HEAD', path: '/send/hello', status: 200, errors: 0 },
  { name: 'res.sendFile, a range', path: '/send/hello', headers: { range: 'bytes=0-4' }, status: 206, errors: 0 },
  { name: 'res.sendFile of a missing file, without a callback', path: '/send/missing', status: 404, errors: 1 },
  { name: 'res.sendFile of a missing file, with a callback that answers', path: '/send/missing-callback', status: 404, errors: 0 },
  { name: 'res.sendFile of a relative path without root: a throw', path: '/send/relative', status: 500, errors: 1 },
  { name: 'res.download', path: '/download', status: 200, errors: 0 },
  { name: 'res.download with a file name', path: '/download/named', status: 200, errors: 0 },
  { name: 'res.download of a missing file, without a callback', path: '/download/missing', status: 404, errors: 1 },
  { name: 'express.static: a file', path: '/static/hello.txt', status: 200, errors: 0 },
  { name: 'express.static: a file, HEAD', method: 'HEAD', path: '/static/hello.txt', status: 200, errors: 0 },
  { name: 'express.static: not modified', path: '/static/hello.txt', headers: { 'if-modified-since': 'Fri, 01 Jan 2100 00:00:00 GMT' }, status: 304, errors: 0 },
  { name: 'express.static: a missing file falls through to a 404', path: '/static/missing.txt', status: 404, errors: 0 },
  { name: 'express.static: a directory redirects to its slash', path: '/static/dir', status: 301, errors: 0 },
  { name: "express.static: a directory's index", path: '/static/dir/', status: 200, errors: 0 },
  { name: 'express.static: a path out of its root falls through', path: '/static/%2e%2e/differential.test.ts', status: 404, errors: 0 },
  { name: 'express.static: POST falls through', method: 'POST', path: '/static/hello.txt', status: 404, errors: 0 },
  { name: 'express.static without fallthrough: a missing file is an error', path: '/static-strict/missing.txt', status: 404, errors: 1 },
  // errors
  { name: 'an error handler of four arguments on the route, that answers', path: '/route-handler', status: 500, errors: 1 },
  { name: 'an error handler of four arguments on the route, that passes on', path: '/route-passes-on', status: 500, errors: 1 },
  { name: 'a thrown Error', path: '/throw/error', status: 500, errors: 1 },
  { name: "a thrown Error, passed on to Express's own handler", path: '/throw/error?default', status: 500, errors: 1 },
  { name: 'a thrown string', path: '/throw/string', status: 500, errors: 1 },
  { name: 'a thrown number', path: '/throw/number', status: 500, errors: 1 },
  { name: 'a thrown plain object with a status', path: '/throw/object', status: 503, errors: 1 },
  // Express itself does not take null or undefined for an error: next(null) is next()
  { name: 'a thrown null: Express goes on as after next()', path: '/throw/null', status: 404, errors: 0 },
  { name: 'a thrown undefined: Express goes on as after next()', path: '/throw/undefined', status: 404, errors: 0 },
  { name: "a thrown 'route' is next('route')", path: '/throw/route', status: 200, errors: 0 },
  { name: 'an error with a status and headers', path: '/throw/status', status: 429, errors: 1 },
  { name: 'res.json of what JSON cannot hold (a BigInt)', path: '/throw/bigint', status: 500, errors: 1 },
  { name: 'next(err)', path: '/next', status: 500, errors: 1 },
  { name: 'next(err) from a timer', path: '/later', status: 500, errors: 1 },
  { name: 'a rejection passed on by .catch(next)', path: '/promise-catch', status: 500, errors: 1 },
  { name: "next(err) after the headers went out: Express's handler cuts the connection", path: '/partial', status: 'cut', errors: 1 },
  { name: 'req.next(err) in a route', path: '/req-next', status: 500, errors: 1 },
  { name: 'req.next(err) in a middleware', path: '/req-next-mw', status: 500, errors: 1 },
  { name: 'a middleware: next === req.next', path: '/same', status: 200, errors: 0 },
  { name: 'a route: next === req.next', path: '/same-route', status: 200, errors: 0 },
  // Express 5: async handlers
  { name: 'an async handler that resolves', path: '/async/ok', status: 200, errors: 0, only: 5 },
  { name: 'an async handler that rejects', path: '/async/reject', status: 500, errors: 1, only: 5 },
  { name: 'an async handler that rejects with a string', path: '/async/reject-string', status: 500, errors: 1, only: 5 },
  // Express's router passes new Error('Rejected promise') on for a falsy rejection
  { name: 'an async handler that rejects with null', path: '/async/reject-null', status: 500, errors: 1, only: 5 },
  { name: 'an async middleware that rejects', path: '/async-mw', status: 500, errors: 1, only: 5 },
]

const expressFrameworks: ExpressFramework[] = [
  { name: 'Express 4', major: 4, express: express4 as unknown as Express },
  { name: 'Express 5', major: 5, express: express5 },
]

const expressVariants: ExpressVariant[] = [
  { name: 'no error handler of its own, development', env: 'development', ownHandler: false },
  { name: 'no error handler of its own, production', env: 'production', ownHandler: false },
  { name: 'its own error handlers after its routes', env: 'production', ownHandler: true },
]

for (const framework of expressFrameworks) {
  for (const variant of expressVariants) {
    describe(`${framework.name}, an app with ${variant.name}`, () => {
      const internal: unknown[] = []
      let tracker: Tracker
      let servers: http.Server[] = []
      afterAll(async () => {
        await Promise.all(servers.map(stop))
        await tracker?.close()
      })
      compare(
        expressCorpus.filter((c) => c.only === undefined || c.only === framework.major),
        framework.major,
        variant.ownHandler,
        async () => {
          tracker = newTracker(internal)
          const bare = await listen(build(framework, null, variant))
          const withFaultline = await listen(build(framework, tracker, variant))
          servers = [bare.server, withFaultline.server]
          return { bare: bare.base, withFaultline: withFaultline.base, tracker, seen: { bare: noSeen(), withFaultline: noSeen() } }
        },
      )
      it('leaves /errors to the panel, the one path not compared', async () => {
        const [bare, withFaultline] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)
        await request(bare).get('/errors').expect(404)
        await request(withFaultline).get('/errors').expect(200).expect('content-type', /html/)
        // the sub-app with its own line serves it under its mount path too
        await request(withFaultline).get('/tracked/errors').expect(200).expect('content-type', /html/)
      })
      // the routing settings come before faultline, in the app; the sub-apps set none
      it('said nothing through onInternalError', () => {
        expect(internal.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([])
      })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Koa

type KoaClass = typeof Koa3
type Ctx = Koa3.Context

interface KoaFramework {
  name: string
  major: number
  Koa: KoaClass
}

interface KoaVariant {
  name: string
  /** the app listens to 'error' itself; without a listener Koa logs errors to stderr */
  listener: boolean
  /** the app's own error middleware answers errors and emits them on the app, as Koa's guide has it */
  ownHandler: boolean
}

/** A response body stream that fails: before any data, or after its first bytes. */
function failingStream(afterData: boolean): Readable {
  let pushed = false
  return new Readable({
    read() {
      if (!afterData) {
        this.destroy(new Error('the stream failed before any data'))
      } else if (!pushed) {
        pushed = true
        this.push('partial')
      } else {
        setTimeout(() => this.destroy(new Error('the stream failed after its first bytes')), 5)
      }
    },
  })
}

/** The Koa app, with faultline when `faultline` is given: the builds differ only in the line marked "faultline". */
function buildKoa(framework: KoaFramework, faultline: Tracker | null, variant: KoaVariant, seen: Seen) {
  const app = new framework.Koa()
  if (faultline) app.use(faultline.koa()) // faultline
  // records what Koa hands ctx.onerror, as apps that override it (koa-onerror) do
  const onerror = app.context.onerror
  app.context.onerror = function recordOnerror(this: Ctx, err: unknown) {
    seen.onerror.push(describeThrown(err))
    return onerror.call(this, err as Error)
  }
  if (variant.listener) app.on('error', (err: unknown) => seen.appErrors.push(describeThrown(err)))
  if (variant.ownHandler) {
    app.use(async (ctx, next) => {
      try {
        await next()
      } catch (err) {
        ctx.status = statusOf(err)
        ctx.body = { handled: describeThrown(err) }
        ctx.app.emit('error', err, ctx)
      }
    })
  }
  app.use(async (ctx, next) => {
    await next()
    if (ctx.path === '/after-next') throw new Error('thrown upstream, after the downstream answered')
  })

  const router = new Router()
  router.get('/ok', (ctx: Ctx) => {
    ctx.set('x-app', 'yes')
    ctx.body = 'ok'
  })
  router.get('/json', (ctx: Ctx) => {
    ctx.body = { ok: true }
  })
  router.get('/html', (ctx: Ctx) => {
    ctx.body = '<p>hello</p>'
  })
  router.get('/buffer', (ctx: Ctx) => {
    ctx.body = Buffer.from('some bytes')
  })
  router.get('/stream', (ctx: Ctx) => {
    ctx.type = 'text'
    ctx.body = Readable.from(['a', 'b', 'c'])
  })
  router.get('/status-only', (ctx: Ctx) => {
    ctx.status = 201
  })
  router.get('/empty', (ctx: Ctx) => {
    ctx.body = ''
  })
  router.get('/null', (ctx: Ctx) => {
    ctx.body = null
  })
  router.get('/status-then-null', (ctx: Ctx) => {
    ctx.status = 200
    ctx.body = null
  })
  router.get('/json-null', (ctx: Ctx) => {
    ctx.type = 'json'
    ctx.body = null
  })
  router.get('/not-modified', (ctx: Ctx) => {
    ctx.status = 304
    ctx.body = 'never sent'
  })
  router.get('/own-500', (ctx: Ctx) => {
    ctx.status = 500
    ctx.body = 'the app answered 500 itself'
  })
  router.get('/redirect', (ctx: Ctx) => ctx.redirect('/ok'))
  router.get('/attachment', (ctx: Ctx) => {
    ctx.attachment('report.csv')
    ctx.body = 'id,total\n'
  })
  router.get('/cookie', (ctx: Ctx) => {
    ctx.cookies.set('theme', 'dark')
    ctx.vary('Accept')
    ctx.body = 'a cookie'
  })
  router.get('/raw', (ctx: Ctx) => {
    ctx.respond = false
    ctx.res.statusCode = 200
    ctx.res.setHeader('content-type', 'text/plain')
    ctx.res.end('written to ctx.res, past Koa')
  })
  if (framework.major >= 3) {
    router.get('/response', (ctx: Ctx) => {
      ctx.body = new Response('from a Response', { status: 201, headers: { 'x-from': 'response' } })
    })
    router.get('/blob', (ctx: Ctx) => {
      ctx.body = new Blob(['a blob'], { type: 'text/plain' })
    })
  }
  router.get('/errorsx', (ctx: Ctx) => {
    ctx.body = 'an app route that merely starts like the panel'
  })
  router.get('/after-next', (ctx: Ctx) => {
    ctx.body = 'answered downstream'
  })
  // ctx.throw and errors with a status
  router.get('/throw/400', (ctx: Ctx) => ctx.throw(400, 'bad input'))
  router.get('/throw/500', (ctx: Ctx) => ctx.throw(500, 'a secret detail'))
  router.get('/throw/unexposed', (ctx: Ctx) => ctx.throw(400, 'a hidden detail', { expose: false }))
  router.get('/throw/exposed', (ctx: Ctx) => ctx.throw(503, 'down for maintenance', { expose: true }))
  router.get('/throw/401', (ctx: Ctx) => ctx.throw(401))
  router.get('/throw/404', (ctx: Ctx) => ctx.throw(404))
  router.get('/throw/message', (ctx: Ctx) => ctx.throw('only a message'))
  router.get('/throw/headers', (ctx: Ctx) => ctx.throw(429, 'slow down', { headers: { 'Retry-After': '10' } }))
  router.get('/assert', (ctx: Ctx) => {
    ctx.assert(ctx.query.token, 401, 'a token is needed')
    ctx.body = 'with a token'
  })
  router.get('/error/status', () => {
    throw Object.assign(new Error('I am a teapot'), { status: 418, expose: true })
  })
  router.get('/error/status-code', () => {
    throw Object.assign(new Error('in conflict'), { statusCode: 409 })
  })
  router.get('/error/bad-status', () => {
    throw Object.assign(new Error('an odd status'), { status: 999 })
  })
  router.get('/error/enoent', () => {
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
  })
  router.get('/error/after-headers-set', (ctx: Ctx) => {
    ctx.set('x-before', 'set')
    ctx.body = 'half an answer'
    throw new Error('thrown after setting headers and a body')
  })
  // thrown values
  router.get('/throw/error', () => {
    throw new TypeError('a plain throw')
  })
  router.get('/throw/string', () => {
    throw 'a thrown string'
  })
  router.get('/throw/number', () => {
    throw 42
  })
  router.get('/throw/object', () => {
    throw { status: 400, message: 'a plain object' }
  })
  router.get('/throw/null', () => {
    throw null
  })
  router.get('/async', async () => {
    await tick()
    throw new TypeError('rejected after an await')
  })
  // what Koa meets after the middleware chain
  router.get('/stream/fails-first', (ctx: Ctx) => {
    ctx.type = 'text'
    ctx.body = failingStream(false)
  })
  router.get('/stream/fails-later', (ctx: Ctx) => {
    ctx.type = 'text'
    ctx.body = failingStream(true)
  })
  router.get('/unserialisable', (ctx: Ctx) => {
    ctx.body = { n: BigInt(1) }
  })
  app.use(router.routes()).use(router.allowedMethods())

  // @koa/router: prefixes, params, nesting, allowedMethods
  const api = new Router({ prefix: '/api' })
  api.param('id', (id: string, ctx: Ctx, next: () => Promise<unknown>) => {
    if (id === 'bad') ctx.throw(400, `bad id: ${id}`)
    if (id === 'broken') throw new Error('the id lookup failed')
    return next()
  })
  api.get('/items/:id', (ctx: Ctx) => {
    ctx.body = { id: ctx.params.id, route: ctx._matchedRoute }
  })
  api.put('/items/:id', (ctx: Ctx) => {
    ctx.status = 204
  })
  api.get('/items/:id/fail', () => {
    throw new Error('failed inside the api router')
  })
  const nested = new Router()
  nested.get('/:leaf', (ctx: Ctx) => {
    ctx.body = { params: ctx.params }
  })
  api.use('/nested/:branch', nested.routes())
  app.use(api.routes()).use(api.allowedMethods())
  const users = new Router({ prefix: '/users/:uid' })
  users.get('/posts/:pid', (ctx: Ctx) => {
    ctx.body = ctx.params
  })
  app.use(users.routes()).use(users.allowedMethods())
  const strict = new Router({ prefix: '/strict-api' })
  strict.get('/thing', (ctx: Ctx) => {
    ctx.body = 'a thing'
  })
  // allowedMethods looks at what every router matched: this one is kept to its own prefix
  const strictRoutes = strict.routes()
  const strictMethods = strict.allowedMethods({ throw: true })
  type RouterCtx = Parameters<typeof strictRoutes>[0] & Parameters<typeof strictMethods>[0]
  app.use((ctx, next) => (ctx.path.startsWith('/strict-api/') ? strictRoutes(ctx as RouterCtx, () => strictMethods(ctx as RouterCtx, next)) : next()))
  return app
}

const koaCorpus: Case[] = [
  // status and body defaults
  { name: 'a text body with a header', path: '/ok', status: 200, errors: 0 },
  { name: 'HEAD', method: 'HEAD', path: '/ok', status: 200, errors: 0 },
  { name: 'a JSON body', path: '/json', status: 200, errors: 0 },
  { name: 'an HTML body', path: '/html', status: 200, errors: 0 },
  { name: 'a Buffer body', path: '/buffer', status: 200, errors: 0 },
  { name: 'a stream body', path: '/stream', status: 200, errors: 0 },
  { name: 'a status without a body: its message', path: '/status-only', status: 201, errors: 0 },
  { name: 'an empty string body', path: '/empty', status: 200, errors: 0 },
  { name: 'a null body: 204', path: '/null', status: 204, errors: 0 },
  { name: 'a status of 200, then a null body', path: '/status-then-null', status: 204, errors: 0 },
  // Koa 3 sends "null" and keeps the 404 it started with
  { name: 'a null JSON body', path: '/json-null', status: { 2: 204, 3: 404 }, errors: 0 },
  { name: 'a 304 drops the body', path: '/not-modified', status: 304, errors: 0 },
  { name: 'a 500 the app answers itself is not an error', path: '/own-500', status: 500, errors: 0 },
  { name: 'a redirect', path: '/redirect', status: 302, errors: 0 },
  { name: 'an attachment', path: '/attachment', status: 200, errors: 0 },
  { name: 'a cookie and Vary', path: '/cookie', status: 200, errors: 0 },
  { name: 'ctx.respond = false: the app writes to ctx.res', path: '/raw', status: 200, errors: 0 },
  { name: 'a Response body', path: '/response', status: 201, errors: 0, only: 3 },
  { name: 'a Blob body', path: '/blob', status: 200, errors: 0, only: 3 },
  { name: 'the default 404', path: '/nope', status: 404, errors: 0 },
  { name: 'the default 404, HEAD', method: 'HEAD', path: '/nope', status: 404, errors: 0 },
  { name: 'an app route that merely starts like the panel path', path: '/errorsx', status: 200, errors: 0 },
  // ctx.throw, expose and status
  { name: 'ctx.throw(400, message): exposed', path: '/throw/400', status: 400, errors: 1 },
  { name: 'ctx.throw(500, message): not exposed, logged', path: '/throw/500', status: 500, errors: 1 },
  { name: 'ctx.throw with expose: false', path: '/throw/unexposed', status: 400, errors: 1 },
  { name: 'ctx.throw(503) with expose: true', path: '/throw/exposed', status: 503, errors: 1 },
  { name: 'ctx.throw(401)', path: '/throw/401', status: 401, errors: 1 },
  { name: 'ctx.throw(404): not logged', path: '/throw/404', status: 404, errors: 1 },
  { name: 'ctx.throw(message) without a status', path: '/throw/message', status: 500, errors: 1 },
  { name: 'ctx.throw with headers', path: '/throw/headers', status: 429, errors: 1 },
  { name: 'ctx.assert that fails', path: '/assert', status: 401, errors: 1 },
  { name: 'ctx.assert that holds', path: '/assert?token=t', status: 200, errors: 0 },
  { name: 'an error with status and expose', path: '/error/status', status: 418, errors: 1 },
  { name: 'an error with statusCode', path: '/error/status-code', status: 409, errors: 1 },
  { name: 'an error with a status Koa does not know', path: '/error/bad-status', status: 500, errors: 1 },
  { name: 'an error with code ENOENT', path: '/error/enoent', status: { 2: 404, 3: 500 }, handledStatus: 500, errors: 1 },
  { name: 'an error after headers and a body were set: Koa drops them', path: '/error/after-headers-set', status: 500, errors: 1 },
  // thrown values
  { name: 'a thrown Error', path: '/throw/error', status: 500, errors: 1 },
  { name: 'a thrown string', path: '/throw/string', status: 500, errors: 1 },
  { name: 'a thrown number', path: '/throw/number', status: 500, errors: 1 },
  { name: 'a thrown plain object with a status', path: '/throw/object', status: 500, handledStatus: 400, errors: 1 },
  // Koa's ctx.onerror does nothing with null: unless the app's own middleware answers, the request is never answered
  { name: 'a thrown null', path: '/throw/null', status: 'cut', handledStatus: 500, errors: 1, timeout: 300 },
  { name: 'an async error', path: '/async', status: 500, errors: 1 },
  { name: 'an error upstream, after the downstream answered', path: '/after-next', status: 500, errors: 1 },
  // after the middleware chain: ctx.onerror
  { name: 'a response stream that fails before any data', path: '/stream/fails-first', status: { 2: 500, 3: 'cut' }, errors: 1 },
  { name: 'a response stream that fails after its first bytes', path: '/stream/fails-later', status: 'cut', errors: 1, timeout: 300 },
  { name: 'a body JSON cannot hold (a BigInt)', path: '/unserialisable', status: 500, errors: 1 },
  // @koa/router
  { name: 'a route with a prefix and a parameter', path: '/api/items/7', status: 200, errors: 0 },
  { name: 'HEAD on a GET route', method: 'HEAD', path: '/api/items/7', status: 200, errors: 0 },
  { name: 'OPTIONS: allowedMethods answers with Allow', method: 'OPTIONS', path: '/api/items/7', status: 200, errors: 0 },
  { name: 'a method the path lacks: 405 with Allow', method: 'DELETE', path: '/api/items/7', status: 405, errors: 0 },
  { name: 'a PUT route', method: 'PUT', path: '/api/items/7', status: 204, errors: 0 },
  { name: 'router.param throws with ctx.throw', path: '/api/items/bad', status: 400, errors: 1 },
  { name: 'router.param throws', path: '/api/items/broken', status: 500, errors: 1 },
  { name: 'a throw in a router', path: '/api/items/7/fail', status: 500, errors: 1 },
  { name: 'a nested router', path: '/api/nested/b1/leaf2', status: 200, errors: 0 },
  { name: 'a prefix with a parameter', path: '/users/3/posts/4', status: 200, errors: 0 },
  { name: 'allowedMethods({ throw: true }): a 405 thrown', method: 'POST', path: '/strict-api/thing', status: 405, errors: 1 },
]

const koaFrameworks: KoaFramework[] = [
  { name: 'Koa 2', major: 2, Koa: Koa2 as unknown as KoaClass },
  { name: 'Koa 3', major: 3, Koa: Koa3 },
]

const koaVariants: KoaVariant[] = [
  { name: "no 'error' listener: Koa logs errors", listener: false, ownHandler: false },
  { name: "an 'error' listener", listener: true, ownHandler: false },
  { name: "its own error middleware, which answers and emits 'error', and a listener", listener: true, ownHandler: true },
]

for (const framework of koaFrameworks) {
  for (const variant of koaVariants) {
    describe(`${framework.name}, an app with ${variant.name}`, () => {
      const internal: unknown[] = []
      let tracker: Tracker
      let servers: http.Server[] = []
      afterAll(async () => {
        await Promise.all(servers.map(stop))
        await tracker?.close()
      })
      compare(
        koaCorpus.filter((c) => c.only === undefined || c.only === framework.major),
        framework.major,
        variant.ownHandler,
        async () => {
          tracker = newTracker(internal)
          const seen = { bare: noSeen(), withFaultline: noSeen() }
          const bare = await listen(buildKoa(framework, null, variant, seen.bare).callback())
          const withFaultline = await listen(buildKoa(framework, tracker, variant, seen.withFaultline).callback())
          servers = [bare.server, withFaultline.server]
          return { bare: bare.base, withFaultline: withFaultline.base, tracker, seen }
        },
      )
      it('leaves /errors to the panel, the one path not compared', async () => {
        const [bare, withFaultline] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)
        await request(bare).get('/errors').expect(404)
        await request(withFaultline).get('/errors').expect(200).expect('content-type', /html/)
      })
      it('said nothing through onInternalError', () => {
        expect(internal.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([])
      })
    })
  }
}
