import { afterEach, describe, expect, it } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import net from 'node:net'
import zlib from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import express from 'express'
import Koa from 'koa'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import type { FaultlineEvent, TrackerOptions } from '../../lib/types.js'
import { CHROME, ENVELOPE, KEY, envelope, sentryEvent } from './helpers.js'

const trackers: Tracker[] = []
const servers: http.Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(options: TrackerOptions = {}) {
  const tracker = createTracker({
    store: memoryStore(),
    captureUncaught: false,
    captureUnhandledRejections: false,
    browser: { key: KEY },
    onInternalError: () => {},
    ...options,
  })
  trackers.push(tracker)
  return tracker
}

/** An Express app with faultline first and a JSON body parser after it, as apps have. */
function expressApp(tracker: Tracker) {
  const app = express()
  app.use(tracker.express())
  app.use(express.json())
  app.use(express.text({ type: 'text/plain' }))
  app.get('/ok', (_req, res) => {
    res.json({ ok: true })
  })
  const server = http.createServer(app)
  servers.push(server)
  return server
}


async function storedEvents(tracker: Tracker): Promise<FaultlineEvent[]> {
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all', limit: 100 })
  const events = await Promise.all(issues.map(async (issue) => (await tracker.store.listEvents(issue.id, { limit: 100 })).events))
  return events.flat()
}

function post(server: http.Server, url = ENVELOPE) {
  return request(server).post(url).set('Content-Type', 'text/plain;charset=UTF-8').set('User-Agent', CHROME).set('Host', '127.0.0.1')
}

describe('the envelope endpoint', () => {
  it('records an event sent as the browser SDK sends it (items without length) as a javascript event', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const res = await post(server).send(envelope(sentryEvent()).toString()).expect(200)
    expect(res.body.id).toMatch(/^[0-9a-f]{32}$/)
    const [event] = await storedEvents(tracker)
    expect(event.event_id).toBe(res.body.id)
    expect(event.platform).toBe('javascript')
    expect(event.exception).toMatchObject({ type: 'TypeError', value: "Cannot read properties of undefined (reading 'total')", mechanism: { type: 'onerror', handled: false } })
    // in_app is the server's call: the app's own origin, not a CDN's
    expect(event.exception!.stacktrace!.frames).toEqual([
      { function: 'dispatch', filename: '/lib.js', abs_path: 'https://cdn.other.example/lib.js', lineno: 1, colno: 10, in_app: false },
      { function: 'checkout', filename: '/static/app.js', abs_path: 'http://127.0.0.1/static/app.js?v=3', lineno: 1, colno: 2042, in_app: true },
    ])
    // the page, its query secrets filtered; the agent from the request; the server's runtime is not the browser's
    expect(event.request).toMatchObject({ url: 'http://127.0.0.1/cart?token=[Filtered]&page=2', headers: { 'user-agent': CHROME } })
    expect(event.contexts.runtime).toBeUndefined()
    expect(event.contexts.os).toBeUndefined()
    expect(event.server_name).toBeUndefined()
    expect(event.tags).toEqual({ page: 'cart', browser: 'Chrome', 'browser.version': 'Chrome 131', os: 'Linux', device: 'desktop' })
    expect(event.user).toEqual({ id: 'u-42', email: 'ann@example.com' })
    expect(event.breadcrumbs).toEqual([
      { timestamp: '2023-11-14T22:13:20.500Z', category: 'ui.click', message: 'button#pay' },
      { timestamp: '2023-11-14T22:13:21.000Z', category: 'fetch', data: { url: '/api/cart', status_code: 500 } },
    ])
    expect(event).toMatchObject({ environment: 'staging', release: 'web@1.2.3', level: 'error', transaction: '/cart' })
    const [issue] = (await tracker.store.listIssues({ status: 'all' })).issues
    expect(issue).toMatchObject({ title: "TypeError: Cannot read properties of undefined (reading 'total')", count: 1, userCount: 1 })
  })

  it('reads items by their length, binary attachments and all, and drops what is not an event', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const binary = Buffer.from([0x0a, 0x00, 0xff, 0x0a, 0x7b])
    const attachment = Buffer.concat([Buffer.from(`${JSON.stringify({ type: 'attachment', length: binary.length, filename: 'x.bin' })}\n`), binary, Buffer.from('\n')])
    const session = Buffer.from(`${JSON.stringify({ type: 'session' })}\n${JSON.stringify({ sid: 'x', status: 'ok' })}\n`)
    const body = envelope(sentryEvent(), { withLength: true, extra: [attachment, session] })
    const res = await post(server).set('Content-Type', 'application/x-sentry-envelope').send(body).expect(200)
    expect(res.body.id).toMatch(/^[0-9a-f]{32}$/)
    // an envelope of sessions alone is answered and kept nowhere
    await post(server).send(`{}\n${session.toString()}`).expect(200, {})
    const events = await storedEvents(tracker)
    expect(events).toHaveLength(1)
    expect(events[0].exception?.type).toBe('TypeError')
  })

  it('takes the key from X-Sentry-Auth, and from the DSN in the envelope header (the tunnel form)', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    await post(server, '/faultline/api/1/envelope/')
      .set('X-Sentry-Auth', `Sentry sentry_version=7, sentry_client=sentry.python/2.0, sentry_key=${KEY}`)
      .send(envelope(sentryEvent({ message: 'by header', exception: undefined })).toString())
      .expect(200)
    await post(server, '/faultline/api/1/envelope/')
      .send(envelope(sentryEvent({ message: 'by tunnel', exception: undefined }), { header: { dsn: `http://${KEY}@127.0.0.1/faultline/1` } }).toString())
      .expect(200)
    await post(server, '/faultline/api/1/envelope/')
      .send(envelope(sentryEvent(), { header: { dsn: 'http://otherkey123@127.0.0.1/faultline/1' } }).toString())
      .expect(403)
    const messages = (await storedEvents(tracker)).map((e) => e.message).sort()
    expect(messages).toEqual(['by header', 'by tunnel'])
  })

  it('answers 403 for a wrong or missing key, before reading the body', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    await post(server, '/faultline/api/1/envelope/?sentry_key=wrongkey999').send(envelope(sentryEvent()).toString()).expect(403)
    await post(server, '/faultline/api/1/envelope/').send(envelope(sentryEvent()).toString()).expect(403)
    await post(server, '/faultline/api/1/store/').send(JSON.stringify(sentryEvent())).expect(403)
    expect(await storedEvents(tracker)).toEqual([])
  })
})

describe('the store endpoint', () => {
  it('records one event sent as plain JSON', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const res = await post(server, `/faultline/api/1/store/?sentry_key=${KEY}`).set('Content-Type', 'application/json').send(JSON.stringify(sentryEvent({ exception: undefined, logentry: { formatted: 'Checkout took 12 s' }, level: 'warning' }))).expect(200)
    const [event] = await storedEvents(tracker)
    expect(event).toMatchObject({ event_id: res.body.id, message: 'Checkout took 12 s', level: 'warning', platform: 'javascript' })
  })
})

describe('compressed bodies', () => {
  for (const [encoding, compress] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync], ['br', zlib.brotliCompressSync]] as const) {
    it(`accepts ${encoding}`, async () => {
      const tracker = newTracker()
      const server = expressApp(tracker)
      await post(server).set('Content-Encoding', encoding).send(compress(envelope(sentryEvent({ message: encoding, exception: undefined })))).expect(200)
      expect((await storedEvents(tracker)).map((e) => e.message)).toEqual([encoding])
    })
  }

  it('answers a 100 MB gzip bomb with 413 at once, without holding it in memory', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const bomb = zlib.gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20), { level: 9 })
    expect(bomb.length).toBeLessThan(200 * 1024)
    const before = process.memoryUsage()
    const started = Date.now()
    await post(server).set('Content-Encoding', 'gzip').send(bomb).expect(413)
    // a bound many times the work (under 10 ms here), so only a full decompression fails it
    expect(Date.now() - started).toBeLessThan(2000)
    const after = process.memoryUsage()
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(20 * 1024 * 1024)
    await request(server).get('/ok').expect(200)
    expect(await storedEvents(tracker)).toEqual([])
  })

  it('answers a body over 200 KB as sent with 413, and one over 1 MB plain with 413', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const big = zlib.gzipSync(Buffer.from(JSON.stringify({ noise: randomBytes(300 * 1024).toString('base64') })))
    await post(server).set('Content-Encoding', 'gzip').send(big).expect(413)
    await post(server).send('x'.repeat(1024 * 1024 + 1)).expect(413)
    await request(server).get('/ok').expect(200)
  })
})

describe('hostile input', () => {
  it('answers garbage, lying lengths and broken JSON with 400, deep JSON within bounds, and the app keeps serving', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    await post(server).send('\u0000\u0001garbage{{{').expect(400)
    await post(server).set('Content-Encoding', 'gzip').send(Buffer.from('not gzip at all')).expect(400)
    await post(server).send('{}\n{"type":"event"}\n{"exception": [').expect(400)
    await post(server).send('{}\n{"type":"event","length":5}\n{"message":"longer than five bytes"}\n').expect(400)
    await post(server).send('{}\n{"type":"event","length":999}\n{"message":"short"}\n').expect(400)
    await post(server).send('{}\n{"type":"event","length":-1}\n{}\n').expect(400)
    await post(server).send('{}\n"just a string"\n{}\n').expect(400)
    // nested 70,000 deep, twice (840 KB, 2 KB gzipped): stored, cut to the depth events keep
    const deep = `${'{"a":'.repeat(70_000)}1${'}'.repeat(70_000)}`
    const res = await post(server).set('Content-Encoding', 'gzip').send(zlib.gzipSync(`{}\n{"type":"event"}\n{"message":"deep","extra":{"deep":${deep}},"tags":${deep}}\n`))
    expect([200, 400]).toContain(res.status)
    await request(server).get('/ok').expect(200)
    const events = await storedEvents(tracker)
    for (const event of events) expect(JSON.stringify(event).length).toBeLessThan(256 * 1024)
  })

  it('answers 408 to a body that trickles in, freeing its place for others, and the app keeps serving', async () => {
    const server = expressApp(newTracker())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    const socket = net.connect(port, '127.0.0.1')
    const answer = new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(String(chunk))))
    socket.write(`POST ${ENVELOPE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{"event_id"`)
    const started = Date.now()
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /)
    socket.destroy()
    // the deadline is 10 s; Node itself would wait minutes
    expect(Date.now() - started).toBeLessThan(15_000)
    await request(server).get('/ok').expect(200)
  }, 20_000)

  it('allows each address its events a minute, then answers 429 with Retry-After', async () => {
    const tracker = newTracker({ browser: { key: KEY, eventsPerMinute: 5 } })
    const server = expressApp(tracker)
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await post(server).send(envelope(sentryEvent()).toString())).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    const refused = await post(server).send(envelope(sentryEvent()).toString()).expect(429)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect(refused.headers['x-sentry-rate-limits']).toBe(`${refused.headers['retry-after']}::organization`)
    expect(await tracker.flush()).toBe(true)
    expect((await tracker.store.listIssues({ status: 'all' })).issues.map((issue) => issue.count)).toEqual([5])
  })

  it('caps new issues a minute across addresses, and lets events of known issues through', async () => {
    const tracker = newTracker({ browser: { key: KEY, newIssuesPerMinute: 5 } })
    const app = express()
    app.set('trust proxy', true)
    app.use(tracker.express())
    const server = http.createServer(app)
    servers.push(server)
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) {
      const res = await post(server).set('X-Forwarded-For', `10.0.0.${i}`).send(envelope(sentryEvent({ fingerprint: [`fp-${i}`] })).toString())
      statuses.push(res.status)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429])
    await post(server).set('X-Forwarded-For', '10.0.0.99').send(envelope(sentryEvent({ fingerprint: ['fp-0'] })).toString()).expect(200)
    const { issues } = await tracker.store.listIssues({ status: 'all' })
    expect(await tracker.flush()).toBe(true)
    expect((await tracker.store.listIssues({ status: 'all' })).issues.map((i) => i.count).sort()).toEqual([1, 1, 1, 1, 2])
    expect(issues.length).toBeLessThanOrEqual(5)
  })

  it('keeps script and markup from every field inert on the panel pages', async () => {
    const tracker = newTracker({ panel: { path: '/errors' } })
    const server = expressApp(tracker)
    const X = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    const hostile = {
      message: undefined,
      exception: { values: [{ type: `Type${X}`, value: `value ${X}`, mechanism: { type: X }, stacktrace: { frames: [{ filename: `http://127.0.0.1/${X}.js`, function: `fn${X}`, lineno: 1, colno: 1 }, { filename: `javascript:${X}`, function: X }] } }] },
      request: { url: `http://127.0.0.1/page?q=${X}` },
      user: { id: X, email: X, username: X },
      tags: { [`k${X}`]: X },
      extra: { [X]: X },
      contexts: { [X]: { [X]: X } },
      breadcrumbs: [{ timestamp: 1, category: X, message: X, level: 'error', data: { [X]: X } }],
      environment: `env${X}`,
      release: `rel${X}`,
      transaction: X,
      fingerprint: [X],
    }
    await post(server).set('User-Agent', X).send(envelope(hostile).toString()).expect(200)
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await tracker.store.listIssues({ status: 'all' })).issues
    const [stored] = (await tracker.store.listEvents(issue.id)).events
    const pages = [
      '/errors?status=all',
      `/errors/issues/${issue.id}`,
      `/errors/issues/${issue.id}/events`,
      `/errors/issues/${issue.id}/events/${stored.event_id}`,
    ]
    for (const page of pages) {
      const { text } = await request(server).get(page).expect(200)
      expect(text, page).not.toContain('<script>alert')
      expect(text, page).not.toContain('<img src=x')
      expect(text, page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    }
  })
})

describe('alerts', () => {
  it('sends the new-issue email of a browser event with every field escaped', async () => {
    const sent: Array<{ html?: string; text?: string; subject?: string }> = []
    const X = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    const tracker = newTracker({ mail: { transport: { sendMail: async (message: { html?: string }) => void sent.push(message) }, to: 'team@example.com', baseUrl: 'https://shop.example.com' } })
    const server = expressApp(tracker)
    const hostile = sentryEvent({
      exception: { values: [{ type: `Type${X}`, value: `value ${X}`, stacktrace: { frames: [{ filename: `http://127.0.0.1/${X}.js`, function: `fn${X}`, lineno: 1, colno: 1 }] } }] },
      request: { url: `http://127.0.0.1/page?q=${X}` },
      tags: { [`k${X}`]: X },
      environment: `env${X}`,
    })
    await post(server).set('User-Agent', X).send(envelope(hostile).toString()).expect(200)
    expect(await tracker.flush()).toBe(true)
    expect(sent).toHaveLength(1)
    expect(sent[0].html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(sent[0].html).not.toContain('<script>alert')
    expect(sent[0].html).not.toContain('<img src=x')
  })
})

describe('rules', () => {
  it('can alert on browser errors alone', async () => {
    const posted: Array<{ text: string }> = []
    const hook = http.createServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        posted.push(JSON.parse(body))
        res.end('ok')
      })
    })
    servers.push(hook)
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
    const webhook = `http://127.0.0.1:${(hook.address() as { port: number }).port}/`
    const tracker = newTracker({ rules: [{ when: 'new', webhook, filter: { platform: 'javascript' } }] })
    const server = expressApp(tracker)
    tracker.captureException(new Error('a server error'))
    await post(server).send(envelope(sentryEvent()).toString()).expect(200)
    expect(await tracker.flush()).toBe(true)
    expect(posted.map((p) => p.text).join('\n')).toContain('Cannot read properties of undefined')
    expect(posted).toHaveLength(1)
  })
})

describe('CORS', () => {
  it('answers configured origins only, never with credentials', async () => {
    const tracker = newTracker({ browser: { key: KEY, origins: ['https://www.example.com'] } })
    const server = expressApp(tracker)
    const preflight = await request(server).options(ENVELOPE).set('Origin', 'https://www.example.com').set('Access-Control-Request-Method', 'POST').expect(204)
    expect(preflight.headers['access-control-allow-origin']).toBe('https://www.example.com')
    expect(preflight.headers['access-control-allow-headers']).toContain('X-Sentry-Auth')
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined()
    const sent = await post(server).set('Origin', 'https://www.example.com').send(envelope(sentryEvent()).toString()).expect(200)
    expect(sent.headers['access-control-allow-origin']).toBe('https://www.example.com')

    const foreign = await request(server).options(ENVELOPE).set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST').expect(403)
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined()
    // the browser would send it even though it could not read the answer: it is refused here
    await post(server).set('Origin', 'https://evil.example').send(envelope(sentryEvent()).toString()).expect(403)
    // the app's own origin needs no CORS
    const own = await post(server).set('Origin', 'http://127.0.0.1').send(envelope(sentryEvent()).toString()).expect(200)
    expect(own.headers['access-control-allow-origin']).toBeUndefined()
    expect(await storedEvents(tracker)).toHaveLength(2)
  })
})

describe('serving', () => {
  it('is served by tracker.koa() too, before the app sees the request', async () => {
    const tracker = newTracker()
    const app = new Koa()
    app.use(tracker.koa())
    let reached = 0
    app.use((ctx) => {
      reached += 1
      ctx.body = 'app'
    })
    const server = http.createServer(app.callback())
    servers.push(server)
    await post(server).set('Content-Encoding', 'gzip').send(zlib.gzipSync(envelope(sentryEvent()))).expect(200)
    await request(server).get('/faultline/api/1/nothing-here').expect(404)
    await request(server).get('/').expect(200, 'app')
    expect(reached).toBe(1)
    expect((await storedEvents(tracker)).map((e) => e.platform)).toEqual(['javascript'])
  })

  it('answers other methods and paths under the path itself, leaving the rest to the app', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    await request(server).get(ENVELOPE).expect(405)
    await request(server).post(`/faultline/api/1/other/?sentry_key=${KEY}`).expect(404)
    await request(server).get('/faultlinex').expect(404)
    await request(server).get('/ok').expect(200)
  })

  it('says so when a body parser mounted before faultline read the body', async () => {
    const warnings: Error[] = []
    const tracker = newTracker({ onInternalError: (err) => warnings.push(err) })
    const app = express()
    app.use(express.text({ type: () => true }))
    app.use(tracker.express())
    const server = http.createServer(app)
    servers.push(server)
    await post(server).send(envelope(sentryEvent()).toString()).expect(400)
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/a body parser read a browser event's body before faultline could .* Mount faultline's middleware first/)
  })

  it('is not served without the option', async () => {
    const tracker = newTracker({ browser: undefined })
    const server = expressApp(tracker)
    await post(server).send(envelope(sentryEvent()).toString()).expect(404)
  })
})

describe('browserDsn', () => {
  it('is the origin, the path and project 1, with the key as its user part', async () => {
    const tracker = newTracker()
    expect(await tracker.browserDsn('https://shop.example.com')).toBe(`https://${KEY}@shop.example.com/faultline/1`)
    expect(await tracker.browserDsn('http://localhost:3000/')).toBe(`http://${KEY}@localhost:3000/faultline/1`)
    await expect(tracker.browserDsn('not a url')).rejects.toThrow(TypeError)
    await expect(newTracker({ browser: false }).browserDsn('https://x.example')).rejects.toThrow(/browser: true/)
  })

  it('generates a key when none is given, and one the ingest takes', async () => {
    const warnings: Error[] = []
    const store = memoryStore()
    const tracker = newTracker({ store, browser: true, onInternalError: (err) => warnings.push(err) })
    const dsn = await tracker.browserDsn('http://127.0.0.1')
    const key = new URL(dsn).username
    expect(key).toMatch(/^[0-9a-f]{32}$/)
    // kept in the store: another tracker (process) on it gets the same key
    expect(await store.claimSetting('browser.key', 'other')).toBe(key)
    expect(await newTracker({ store, browser: true }).browserDsn('http://127.0.0.1')).toBe(dsn)
    expect(warnings).toEqual([])
    const server = expressApp(tracker)
    await post(server, `/faultline/api/1/envelope/?sentry_key=${key}`).send(envelope(sentryEvent()).toString()).expect(200)
  })

  it('falls back to a key of its own, said once, with a store that keeps no settings or fails', async () => {
    for (const [store, said] of [
      [Object.assign(memoryStore(), { claimSetting: undefined }), /the store keeps no settings .* set browser.key to keep one/],
      [Object.assign(memoryStore(), { claimSetting: async () => { throw new Error('store down') } }), /could not be read from the store, so this process uses a key of its own until it restarts: store down/],
    ] as const) {
      const warnings: Error[] = []
      const tracker = newTracker({ store: store as never, browser: true, onInternalError: (err) => warnings.push(err) })
      const key = new URL(await tracker.browserDsn('http://127.0.0.1')).username
      expect(key).toMatch(/^[0-9a-f]{32}$/)
      expect(new URL(await tracker.browserDsn('http://127.0.0.1')).username).toBe(key)
      expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(said)])
      const server = expressApp(tracker)
      await post(server, `/faultline/api/1/envelope/?sentry_key=${key}`).send(envelope(sentryEvent()).toString()).expect(200)
    }
  })
})

describe('the client script and source maps', () => {
  it('serves the first-party client at <path>/client.js, gzipped when asked, with an ETag', async () => {
    const tracker = newTracker()
    const server = expressApp(tracker)
    const plain = await request(server).get('/faultline/client.js').set('Accept-Encoding', 'identity').expect(200)
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(plain.headers['x-content-type-options']).toBe('nosniff')
    expect(plain.text).toContain('faultline')
    const zipped = await request(server).get('/faultline/client.js').set('Accept-Encoding', 'gzip').expect(200)
    expect(zipped.headers['content-encoding']).toBe('gzip')
    await request(server).get('/faultline/client.js').set('If-None-Match', plain.headers.etag).expect(304)
    await request(server).post('/faultline/client.js').expect(405)
  })

  it("maps the app's frames through the maps under sourceMaps, after answering", async () => {
    const { build } = await import('esbuild')
    const root = mkdtempSync(path.join(tmpdir(), 'faultline-maps-'))
    writeFileSync(path.join(root, 'checkout.ts'), [
      'export function applyDiscount(cart: { total?: number }) {',
      "  if (cart.total === undefined) throw new TypeError('no total')",
      '  return cart.total * 0.9',
      '}',
      'applyDiscount({})',
      '',
    ].join('\n'))
    await build({ entryPoints: [path.join(root, 'checkout.ts')], bundle: true, minify: true, sourcemap: true, outfile: path.join(root, 'public/static/app.js'), logLevel: 'silent' })
    const built = readFileSync(path.join(root, 'public/static/app.js'), 'utf8')
    const line = built.split('\n').findIndex((l) => l.includes('throw'))
    const column = built.split('\n')[line].indexOf('throw') + 1
    const tracker = newTracker({ root, browser: { key: KEY, sourceMaps: 'public' } })
    const server = expressApp(tracker)
    // the minified name is the caller's call site's: the map names it there
    const call = built.split('\n')[line].indexOf('({})')
    const callColumn = built.split('\n')[line].slice(0, call).search(/[\w$]+$/) + 1
    const caller = { filename: 'http://127.0.0.1/static/app.js', lineno: line + 1, colno: callColumn }
    const frame = { filename: 'http://127.0.0.1/static/app.js', function: 'a', lineno: line + 1, colno: column }
    await post(server).send(envelope(sentryEvent({ exception: { values: [{ type: 'TypeError', value: 'no total', stacktrace: { frames: [caller, frame] } }] } })).toString()).expect(200)
    const [event] = await storedEvents(tracker)
    expect(event.exception!.stacktrace!.frames[0]).toMatchObject({ filename: 'checkout.ts', lineno: 5, in_app: true })
    expect(event.exception!.stacktrace!.frames[1]).toMatchObject({
      filename: 'checkout.ts',
      function: 'applyDiscount',
      lineno: 2,
      in_app: true,
      context_line: "  if (cart.total === undefined) throw new TypeError('no total')",
      raw: { filename: '/static/app.js', lineno: line + 1, colno: column, function: 'a' },
    })
    const [issue] = (await tracker.store.listIssues({ status: 'all' })).issues
    expect(issue.culprit).toContain('checkout.ts')
  })
})

describe('in the panel', () => {
  it("shows a browser event's platform beside a server event's", async () => {
    const tracker = newTracker({ panel: { path: '/errors' } })
    const server = expressApp(tracker)
    await post(server).send(envelope(sentryEvent()).toString()).expect(200)
    tracker.captureException(new Error('on the server'))
    expect(await tracker.flush()).toBe(true)
    const { issues } = await tracker.store.listIssues({ status: 'all' })
    const pageOf = async (title: RegExp) => (await request(server).get(`/errors/issues/${issues.find((i) => title.test(i.title))!.id}`).expect(200)).text
    expect(await pageOf(/TypeError/)).toMatch(/<dt>Platform<\/dt><dd><span class="badge platform">javascript<\/span>/)
    expect(await pageOf(/on the server/)).toMatch(/<dt>Platform<\/dt><dd><span class="badge platform">node<\/span>/)
    const found = await tracker.store.listIssues({ status: 'all', q: 'platform:javascript' })
    expect(found.issues.map((issue) => issue.title)).toEqual([expect.stringMatching(/^TypeError/)])
    const list = await request(server).get('/errors?status=all&q=platform%3Ajavascript').expect(200)
    expect(list.text).toContain('Cannot read properties of undefined')
    expect(list.text).not.toContain('on the server')
  })
})
