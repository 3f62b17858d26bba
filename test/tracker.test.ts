import { afterEach, describe, expect, it, vi } from 'vitest'
import http from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import express from 'express'
import request from 'supertest'
import { createTracker, type Tracker, type TrackerOptions } from '../lib/index.js'
import { memoryStore } from '../adapters/memory.js'
import { fileStore } from '../adapters/file.js'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { eventJson } from '../common/event-json.js'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(options: TrackerOptions = {}) {
  const internal: Error[] = []
  const tracker = createTracker({
    store: memoryStore(),
    panel: false,
    captureUncaught: false,
    captureUnhandledRejections: false,
    onInternalError: (err) => internal.push(err),
    ...options,
  })
  trackers.push(tracker)
  return { tracker, internal }
}

async function allIssues(tracker: Tracker) {
  expect(await tracker.flush()).toBe(true)
  return (await tracker.store.listIssues({ status: 'all' })).issues
}

async function onlyEvent(tracker: Tracker) {
  const [issue] = await allIssues(tracker)
  return (await tracker.store.listEvents(issue.id)).events[0]
}

describe('capture', () => {
  it('returns the event id at once, before anything is stored', async () => {
    const { tracker } = newTracker()
    const id = tracker.captureException(new Error('stored later'))
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect((await tracker.store.listIssues({ status: 'all' })).issues).toHaveLength(0)
    const event = await onlyEvent(tracker)
    expect(event.event_id).toBe(id)
  })

  it('gives every event its own id, across many captures', () => {
    const { tracker } = newTracker()
    // several pools of random bytes (256 ids each)
    const ids = Array.from({ length: 1000 }, (_, i) => (i % 2 ? tracker.captureMessage(`m${i}`) : tracker.captureException(new Error(`e${i}`))))
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('never throws, whatever is thrown', async () => {
    const { tracker } = newTracker()
    const cyclic: Record<string, unknown> = { name: 'cyclic' }
    cyclic.self = cyclic
    const hostile = new Proxy({}, { get() { throw new Error('trap') }, ownKeys() { throw new Error('trap') } })
    const getter = Object.defineProperty(new Error('getter'), 'stack', { get() { throw new Error('no stack for you') } })
    const values = [undefined, null, 'a string', 42, 10n, Symbol('s'), cyclic, hostile, getter, () => 1, 'x'.repeat(1_000_000)]
    for (const value of values) expect(() => tracker.captureException(value, { extra: { value } })).not.toThrow()
    expect(() => tracker.captureMessage(hostile as never, hostile as never)).not.toThrow()
    const issues = await allIssues(tracker)
    expect(issues.reduce((n, i) => n + i.count, 0)).toBe(values.length + 1)
  })

  it('records messages at info level unless told otherwise', async () => {
    const { tracker } = newTracker()
    tracker.captureMessage('deploy finished')
    tracker.captureMessage('disk almost full', 'warning')
    const issues = await allIssues(tracker)
    expect(issues.map((i) => [i.title, i.level]).sort()).toEqual([['deploy finished', 'info'], ['disk almost full', 'warning']])
  })

  it('carries tags, extra, user and fingerprint from the scope and the capture context', async () => {
    const { tracker } = newTracker()
    tracker.setTag('region', 'eu')
    tracker.setUser({ id: 7, email: 'ada@example.com' })
    tracker.captureException(new Error('with context'), { tags: { job: 'billing' }, extra: { batch: 3 }, level: 'warning' })
    const event = await onlyEvent(tracker)
    expect(event.tags).toMatchObject({ region: 'eu', job: 'billing' })
    expect(event.extra).toEqual({ batch: 3 })
    expect(event.user).toMatchObject({ id: 7 })
    expect(event.level).toBe('warning')
    expect(event.environment).toBe(process.env.NODE_ENV ?? 'development')
  })

  it('keeps withScope data across await and out of the outer scope', async () => {
    const { tracker } = newTracker()
    await tracker.withScope(async (scope) => {
      scope.setTag('step', 'inner')
      await new Promise((resolve) => setTimeout(resolve, 5))
      tracker.captureException(new Error('inside'))
    })
    tracker.captureException(new Error('outside'))
    const issues = await allIssues(tracker)
    for (const issue of issues) {
      const [event] = (await tracker.store.listEvents(issue.id)).events
      expect(event.tags.step).toBe(issue.title.includes('inside') ? 'inner' : undefined)
    }
  })

  it('groups one error from one place into one issue with an exact count', async () => {
    const { tracker } = newTracker()
    const fail = (id: number) => new Error(`User ${id} not found`)
    for (let i = 0; i < 50; i++) tracker.captureException(fail(i), { user: { id: i % 10 } })
    const [issue, ...rest] = await allIssues(tracker)
    expect(rest).toHaveLength(0)
    expect(issue.count).toBe(50)
    expect(issue.userCount).toBe(10)
  })
})

describe('scope setters', () => {
  it('never throw into the app, whatever they are handed, and keep what can be read', async () => {
    const { tracker } = newTracker()
    const hostile = new Proxy({}, { ownKeys() { throw new Error('trap') }, get() { throw new Error('trap') } })
    const noPrototype = Object.assign(Object.create(null), { a: '1' })
    const badToString = { toString() { throw new Error('no') } }
    tracker.withScope((scope) => {
      const calls: Array<() => unknown> = [
        () => scope.setTag('query', noPrototype),
        () => scope.setTag('weird', badToString),
        () => scope.setTag(noPrototype as unknown as string, 'v'),
        () => scope.setTags(hostile),
        () => scope.setExtras(hostile),
        () => scope.setExtra(noPrototype as unknown as string, 1),
        () => scope.setUser(hostile),
        () => scope.setContext(noPrototype as unknown as string, { a: 1 }),
        () => scope.setFingerprint([Object.create(null), 'x']),
        () => scope.addBreadcrumb(undefined as never),
        () => scope.addBreadcrumb(null as never),
        () => scope.addBreadcrumb(hostile),
        () => tracker.addBreadcrumb(undefined as never),
        () => tracker.setTag('removed', 'soon'),
        () => tracker.setTag('removed', undefined),
      ]
      for (const call of calls) expect(call).not.toThrow()
      tracker.captureException(new Error('after hostile scope calls'))
    })
    const [issue] = await allIssues(tracker)
    const event = (await tracker.store.listEvents(issue.id)).events[0]
    expect(event.tags.query).toBe('{"a":"1"}')
    expect(event.tags.weird).toBe('{"toString":"[Function: toString]"}')
    expect(event.tags).not.toHaveProperty('removed')
    expect(event.fingerprint).toEqual(['[object Object]', 'x'])
  })
})

describe('filters', () => {
  it('records an explicit captureException whatever its status: shouldCapture judges only what faultline catches itself', async () => {
    const { tracker } = newTracker({ shouldCapture: () => false })
    tracker.captureException(Object.assign(new Error('not found'), { status: 404 }))
    tracker.captureException(Object.assign(new Error('unauthorised'), { statusCode: 401 }))
    expect((await allIssues(tracker)).map((i) => i.title).sort()).toEqual(['Error: not found', 'Error: unauthorised'])
  })

  it('ignores errors by type name, message substring, RegExp and class', async () => {
    class Expected extends Error {}
    const { tracker } = newTracker({ ignoreErrors: ['AbortError', 'ECONNRESET', /^timeout/i, Expected] })
    tracker.captureException(Object.assign(new Error('aborted'), { name: 'AbortError' }))
    tracker.captureException(new Error('read ECONNRESET'))
    tracker.captureException(new Error('Timeout after 5s'))
    tracker.captureException(new Expected('fine'))
    tracker.captureException(new Error('kept'))
    // messages pass the strings and RegExps too, as in Sentry
    tracker.captureMessage('upstream ECONNRESET, retrying')
    tracker.captureMessage('timeout waiting for the queue')
    tracker.captureMessage('queue drained', 'warning')
    expect((await allIssues(tracker)).map((i) => i.title).sort()).toEqual(['Error: kept', 'queue drained'])
  })

  it('matches ignoreErrors against the type and message the event shows', async () => {
    class NotFound extends Error {}
    const { tracker } = newTracker({ ignoreErrors: ['NotFound', 'Non-Error exception captured: 404'] })
    tracker.captureException(new NotFound('no such order'))
    tracker.captureException(404)
    tracker.captureException(new Error('no such page'))
    // shown as type NotFound, so ignored as NotFound
    expect((await allIssues(tracker)).map((i) => i.title)).toEqual(['Error: no such page'])
  })

  it('keeps nothing with sampleRate 0', async () => {
    const { tracker } = newTracker({ sampleRate: 0 })
    tracker.captureException(new Error('sampled out'))
    expect(await allIssues(tracker)).toHaveLength(0)
  })

  it('samples each error once, however many times it is captured', async () => {
    const { tracker } = newTracker({ sampleRate: 0.5 })
    const errors = Array.from({ length: 400 }, (_, i) => new Error(`sampled ${i}`))
    // a second chance per error (as when it also reaches Koa's onerror) would keep about 300
    for (const err of errors) tracker.captureException(err)
    for (const err of errors) tracker.captureException(err)
    const kept = (await allIssues(tracker)).reduce((n, i) => n + i.count, 0)
    expect(kept).toBeGreaterThan(150)
    expect(kept).toBeLessThan(250)
  })

  it('lets beforeSend change or drop events, sync or async', async () => {
    const { tracker } = newTracker({
      beforeSend: async (event) => {
        if (event.exception?.value === 'drop me') return null
        await new Promise((resolve) => setTimeout(resolve, 1))
        return { ...event, tags: { ...event.tags, seen: 'yes' } }
      },
    })
    tracker.captureException(new Error('drop me'))
    tracker.captureException(new Error('keep me'))
    const event = await onlyEvent(tracker)
    expect(event.exception?.value).toBe('keep me')
    expect(event.tags.seen).toBe('yes')
  })

  it('stores what beforeSend changed in place on the event', async () => {
    const { tracker } = newTracker({
      beforeSend: (event) => {
        event.tags.reviewed = 'yes'
        delete event.request
        return event
      },
    })
    tracker.captureException(new Error('changed in place'), { request: { url: 'http://x/secret-path' } })
    const event = await onlyEvent(tracker)
    expect(event.tags.reviewed).toBe('yes')
    expect(event.request).toBeUndefined()
  })

  it("keeps one event's beforeSend changes to its frames out of the next event's", async () => {
    const { tracker } = newTracker({
      beforeSend: (event) => {
        if (event.tags.hide === 'yes') for (const frame of event.exception!.stacktrace!.frames) frame.function = 'hidden'
        return event
      },
    })
    const fail = (hide: string) => tracker.captureException(new Error('same place'), { tags: { hide } })
    for (const hide of ['yes', 'no']) fail(hide)
    // renamed frames group apart, so the two events are in two issues
    const events = []
    for (const issue of await allIssues(tracker)) events.push(...(await tracker.store.listEvents(issue.id)).events)
    const names = (hide: string) => events.find((e) => e.tags.hide === hide)!.exception!.stacktrace!.frames.map((f) => f.function)
    expect(names('yes').every((name) => name === 'hidden')).toBe(true)
    expect(names('no')).toContain('fail')
  })

  it('keeps the event unchanged and reports it when beforeSend throws', async () => {
    const { tracker, internal } = newTracker({
      beforeSend: () => {
        throw new Error('bug in beforeSend')
      },
    })
    tracker.captureException(new Error('still stored'))
    const event = await onlyEvent(tracker)
    expect(event.exception?.value).toBe('still stored')
    expect(internal.map((e) => e.message).join()).toMatch(/beforeSend threw.*bug in beforeSend/)
  })

  it('keeps nothing beforeSend changed before it threw, and says so once for many events', async () => {
    const { tracker, internal } = newTracker({
      beforeSend: (event) => {
        event.tags.half = 'done'
        event.exception!.value = 'rewritten'
        throw new Error('bug halfway through')
      },
    })
    for (let i = 0; i < 3; i++) tracker.captureException(new Error('original'))
    const [issue] = await allIssues(tracker)
    const { events } = await tracker.store.listEvents(issue.id)
    expect(events.map((e) => [e.exception?.value, e.tags.half])).toEqual(Array(3).fill(['original', undefined]))
    expect(internal.filter((e) => /beforeSend threw/.test(e.message))).toHaveLength(1)
  })
})

describe('the queue', () => {
  it('is bounded: beyond maxQueueSize errors are counted from their facts, never dropped', async () => {
    const store = memoryStore()
    const slow = { ...store, record: async (input: Parameters<typeof store.record>[0]) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return store.record(input)
    } }
    const { tracker, internal } = newTracker({ store: slow, maxQueueSize: 10 })
    for (let i = 0; i < 100; i++) {
      tracker.withScope((scope) => {
        scope.setUser({ id: `u${i % 7}` })
        scope.setTag('shard', String(i % 3))
        tracker.captureException(new Error('storm'))
      })
    }
    expect(tracker.stats()).toMatchObject({ captured: 100, queued: 100 })
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await store.listIssues({ status: 'all' })).issues
    // every error counted, with its user and tags; the full queue kept only their facts
    expect(issue).toMatchObject({ count: 100, userCount: 7 })
    const shard = (await store.tagBreakdown(issue.id)).find((t) => t.key === 'shard')!
    expect(shard.values).toEqual([{ value: '0', count: 34 }, { value: '1', count: 33 }, { value: '2', count: 33 }])
    const stats = tracker.stats()
    expect(stats).toMatchObject({ captured: 100, dropped: 0, queued: 0 })
    expect(stats.stored + stats.shed).toBe(100)
    expect(stats.shed).toBeGreaterThanOrEqual(90)
    expect(issue.shed).toBe(stats.shed)
    expect((await store.listEvents(issue.id, { limit: 100 })).events).toHaveLength(stats.stored)
    expect(internal).toEqual([])
  })

  it("counts a request's errors past the queue's room with its user and route, reading no more of the request than its method and URL", async () => {
    const store = memoryStore()
    // the store answers once every request is in: the queue is certainly full meanwhile
    let open!: () => void
    const opened = new Promise<void>((resolve) => (open = resolve))
    const held = { ...store, record: async (input: Parameters<typeof store.record>[0]) => {
      await opened
      return store.record(input)
    } }
    const { tracker, internal } = newTracker({ store: held, maxQueueSize: 10 })
    const app = express()
    app.use(tracker.express())
    let bodyReads = 0
    app.use((req, _res, next) => {
      ;(req as unknown as { user: object }).user = { id: `u${Number(req.query.n) % 5}` }
      Object.defineProperty(req, 'body', { get: () => (bodyReads++, { card: '4111 1111 1111 1111' }) })
      next()
    })
    app.get('/orders/:id', () => {
      throw new Error('storm')
    })
    for (let n = 0; n < 60; n++) await request(app).get(`/orders/${n}?n=${n}`).expect(500)
    open()
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await store.listIssues({ status: 'all' })).issues
    const stats = tracker.stats()
    expect(issue).toMatchObject({ count: 60, userCount: 5, culprit: 'GET /orders/:id (test/tracker.test.ts)' })
    expect(stats.shed).toBeGreaterThanOrEqual(40)
    // the events kept read the request in full; those counted while the queue was full read its method and URL alone
    expect(bodyReads).toBeGreaterThanOrEqual(stats.stored)
    expect(bodyReads).toBeLessThan(60)
    const kept = (await store.listEvents(issue.id, { limit: 100 })).events
    expect(kept.every((e) => e.request?.data !== undefined && e.request.url!.startsWith('http://127.0.0.1'))).toBe(true)
    expect(internal).toEqual([])
  })

  it('keeps events while the store is down and writes them when it is back', async () => {
    const store = memoryStore()
    let down = true
    const flaky = { ...store,
      record: (input: Parameters<typeof store.record>[0]) => (down ? Promise.reject(new Error('store is down')) : store.record(input)),
      getIssue: (id: string) => (down ? Promise.reject(new Error('store is down')) : store.getIssue(id)),
    }
    const { tracker, internal } = newTracker({ store: flaky })
    for (let i = 0; i < 5; i++) tracker.captureException(new Error('while down'))
    expect(await tracker.flush(1500)).toBe(false)
    expect(internal.some((e) => /store is down/.test(e.message))).toBe(true)
    down = false
    expect(await tracker.flush(5000)).toBe(true)
    const [issue] = (await store.listIssues({ status: 'all' })).issues
    expect(issue.count).toBe(5)
  })

  it('gives up events the store refuses without holding up the others', async () => {
    const store = memoryStore()
    // the store answers, but refuses some events outright (as a database refuses a timestamp it cannot hold)
    const picky = { ...store, record: (input: Parameters<typeof store.record>[0]) =>
      (input.event.exception?.value === 'unstorable' ? Promise.reject(new Error('value out of range')) : store.record(input)) }
    const { tracker, internal } = newTracker({ store: picky })
    for (let i = 0; i < 200; i++) tracker.captureException(new Error(i % 10 === 0 ? 'unstorable' : 'fine'))
    // one pause per refused attempt would take 20 x 0.7 s; refused events go to the back instead
    expect(await tracker.flush(3000)).toBe(true)
    const issues = (await store.listIssues({ status: 'all' })).issues
    expect(issues.map((i) => [i.title, i.count])).toEqual([['Error: fine', 180]])
    const refused = internal.filter((e) => /refused 3 times/.test(e.message))
    expect(refused).toHaveLength(1)
  })

  it('runs beforeSend once per event, however often the store has to be retried', async () => {
    const store = memoryStore()
    let failures = 2
    const flaky = { ...store,
      record: (input: Parameters<typeof store.record>[0]) => (failures-- > 0 ? Promise.reject(new Error('store is down')) : store.record(input)),
      getIssue: (id: string) => (failures > 0 ? Promise.reject(new Error('store is down')) : store.getIssue(id)),
    }
    let calls = 0
    const { tracker } = newTracker({ store: flaky, beforeSend: (event) => {
      calls++
      event.tags.seen = `${event.tags.seen ?? ''}once`
      return event
    } })
    tracker.captureException(new Error('retried'))
    expect(await tracker.flush(5000)).toBe(true)
    const [issue] = (await store.listIssues({ status: 'all' })).issues
    const { events } = await store.listEvents(issue.id)
    expect(events.map((e) => e.tags.seen)).toEqual(['once'])
    expect(calls).toBe(1)
  })

  it('holds built events, not the request bodies they came from, while the store hangs', async () => {
    // a full collection without --expose-gc on the command line (as jest does for its leak check)
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const store = memoryStore()
    const { tracker, internal } = newTracker({ store: { ...store, record: () => new Promise<never>(() => {}) } })
    const app = express()
    app.use(tracker.express())
    app.use(express.json({ limit: '1mb' }))
    app.post('/orders', () => {
      throw new Error('could not place the order')
    })
    app.use((_err: unknown, _req: unknown, res: express.Response, _next: unknown) => res.status(500).end())
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    // a 200 KB order of many small objects, a new one for each request as the app would parse it
    const order = (n: number) => ({ n, lines: Array.from({ length: 1300 }, (_, i) => ({ sku: `sku-${n}-${i}`, name: 'a product with a fairly long name', quantity: i % 7, notes: 'x'.repeat(60) })) })
    const post = (n: number) => request(server).post('/orders').send(order(n)).expect(500)
    try {
      for (let n = 0; n < 10; n++) await post(n)
      await new Promise((resolve) => setTimeout(resolve, 50))
      gc()
      const before = process.memoryUsage().heapUsed
      const N = 200
      for (let n = 0; n < N; n += 6) await Promise.all(Array.from({ length: 6 }, (_, k) => post(10 + n + k)))
      await new Promise((resolve) => setTimeout(resolve, 50))
      gc()
      const perCapture = (process.memoryUsage().heapUsed - before) / N
      console.log(`hanging store: ${N} captures of a ${(JSON.stringify(order(0)).length / 1024).toFixed(0)} KB body held ${(perCapture / 1024).toFixed(1)} KB of heap each`)
      // each held its whole parsed body before (about 310 KB of heap); a built event holds its
      // event, the body cut to 100 lines, and that event's JSON
      expect(perCapture).toBeLessThan(120 * 1024)
      expect(internal).toEqual([])
    } finally {
      server.close()
      await tracker.close(100)
    }
  })

  it('is bounded in bytes too: large events beyond it keep their facts and shed their bodies', async () => {
    const store = memoryStore()
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const sizes: number[] = []
    const slow = { ...store, record: async (input: Parameters<typeof store.record>[0]) => {
      sizes.push(eventJson(input.event).length)
      await held
      return store.record(input)
    } }
    const { tracker, internal } = newTracker({ store: slow, maxQueueSize: 100 })
    // 100 captures fit the count, but not its 500 KB (100 x 5 KB) of events: these are about 11 KB each
    for (let i = 0; i < 100; i++) {
      tracker.captureException(new Error(`large ${i}`), { request: { method: 'POST', url: 'http://localhost/upload', data: { file: 'x'.repeat(10 * 1024) } } })
    }
    // all are prepared while the store holds the first few: the bound applies to what waits
    await new Promise((resolve) => setTimeout(resolve, 500))
    release()
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await store.listIssues({ status: 'all' })).issues
    expect(issue.count).toBe(100)
    // as many full events as fit in the bound; the rest are their facts, without the request body
    const full = sizes.filter((n) => n > 10_000).length
    expect(Math.abs(full - 500_000 / Math.max(...sizes))).toBeLessThan(2)
    expect(sizes.filter((n) => n < 10_000)).toHaveLength(100 - full)
    expect(tracker.stats()).toMatchObject({ captured: 100, stored: full, shed: 100 - full, dropped: 0 })
    expect(internal).toEqual([])
  })

  it('gives up what the store never took when close() runs out of time, says how many, and tries no more', async () => {
    const store = memoryStore()
    let attempts = 0
    const down = { ...store,
      record: async () => {
        attempts++
        await new Promise((resolve) => setTimeout(resolve, 50))
        throw new Error('connection refused')
      },
      getIssue: () => Promise.reject(new Error('connection refused')),
    }
    const { tracker, internal } = newTracker({ store: down })
    for (let i = 0; i < 30; i++) tracker.captureException(new Error(`while down ${i}`))
    const started = Date.now()
    await tracker.close(1500)
    // close() used its time, retrying, rather than giving up early
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    expect(internal.map((e) => e.message)).toContain('faultline: close(): 30 captured events were not stored within 1500 ms and are lost; the store is down or slow (pass close() a longer timeout)')
    expect(tracker.stats()).toMatchObject({ captured: 30, stored: 0, dropped: 30, queued: 0 })
    const after = attempts
    const reports = internal.length
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(attempts).toBe(after)
    expect(internal).toHaveLength(reports)
  })

  it('backs off once for records that fail together, so it stores soon after the store is back', async () => {
    const inner = memoryStore()
    const upAt = Date.now() + 300
    const down = () => Date.now() < upAt
    const store = {
      ...inner,
      record: (input: Parameters<typeof inner.record>[0]) => (down() ? Promise.reject(new Error('store is down')) : inner.record(input)),
      getIssue: (id: string) => (down() ? Promise.reject(new Error('store is down')) : inner.getIssue(id)),
    }
    const { tracker } = newTracker({ store })
    // eight records in flight fail at once; each doubling the backoff would pause for 25 s
    for (let i = 0; i < 20; i++) tracker.captureException(new Error(`while down ${i}`))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await tracker.flush(3000)).toBe(true)
    expect((await inner.listIssues({ status: 'all' })).issues[0].count).toBe(20)
  })

  it("builds and stores a burst in slices, so the app's own callbacks run in between", async () => {
    const store = memoryStore()
    let recorded = 0
    // errors past the queue's room are folded, and a fold is recorded at once for all it counts
    const counting = { ...store, record: (input: Parameters<typeof store.record>[0]) => ((recorded += input.times ?? 1), store.record(input)) }
    const { tracker } = newTracker({ store: counting })
    for (let i = 0; i < 2000; i++) tracker.captureException(new Error(`burst ${i}`))
    // the app's next callback (a request arriving) waits for a slice of the burst (a few ms), not for all of it
    await new Promise((resolve) => setImmediate(resolve))
    expect(recorded).toBeLessThan(2000)
    expect(await tracker.flush()).toBe(true)
    expect(recorded).toBe(2000)
    expect((await store.listIssues()).issues.reduce((sum, issue) => sum + issue.count, 0)).toBe(2000)
  })

  it('keeps serving requests at once while the store hangs', async () => {
    const store = memoryStore()
    const hanging = { ...store, record: () => new Promise<never>(() => {}) }
    const { tracker, internal } = newTracker({ store: hanging })
    const server = http.createServer((req, res) => {
      tracker.captureException(new Error('while the store hangs'))
      res.end('ok')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    const started = Date.now()
    for (let i = 0; i < 20; i++) expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok')
    expect(Date.now() - started).toBeLessThan(2000)
    server.close()
    expect(await tracker.flush(200)).toBe(false)
    // what close() had to leave behind is said, never lost silently
    await tracker.close(100)
    expect(internal.map((e) => e.message)).toContain('faultline: close(): 20 captured events were not stored within 100 ms and are lost; the store is down or slow (pass close() a longer timeout)')
  })
})

describe('breadcrumbs', () => {
  it('records console calls and outgoing requests in the scope they happened in', async () => {
    const { tracker } = newTracker()
    const server = http.createServer((_req, res) => res.end('pong'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await tracker.withScope(async () => {
      console.warn('about to call the pricing service')
      await fetch(`http://127.0.0.1:${port}/price?key=s3cret`)
      await new Promise<void>((resolve) => http.get(`http://127.0.0.1:${port}/stock`, (res) => res.resume().on('end', resolve)))
      tracker.captureException(new Error('after the calls'))
    })
    server.close()
    const event = await onlyEvent(tracker)
    const crumbs = event.breadcrumbs
    expect(crumbs.find((c) => c.category === 'console')).toMatchObject({ level: 'warning', message: 'about to call the pricing service' })
    expect(crumbs.find((c) => c.category === 'fetch')?.data).toMatchObject({ method: 'GET', url: `http://127.0.0.1:${port}/price`, status_code: 200 })
    expect(crumbs.find((c) => c.category === 'http')?.data).toMatchObject({ method: 'GET', url: `http://127.0.0.1:${port}/stock`, status_code: 200 })
    expect(JSON.stringify(crumbs)).not.toContain('s3cret')
  })

  it('shows a request completed after an earlier event carried it unfinished', async () => {
    const { tracker } = newTracker()
    let answer!: () => void
    const server = http.createServer((_req, res) => {
      answer = () => res.end('late')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await tracker.withScope(async () => {
      const done = new Promise<void>((resolve) => http.get(`http://127.0.0.1:${port}/slow`, (res) => res.resume().on('end', resolve)))
      while (!answer) await new Promise((r) => setTimeout(r, 5))
      tracker.captureException(new Error('while waiting'))
      await tracker.flush()
      answer()
      await done
      tracker.captureException(new Error('after the answer'))
    })
    server.close()
    await tracker.flush()
    const events = []
    for (const issue of (await tracker.store.listIssues({ status: 'all' })).issues) events.push(...(await tracker.store.listEvents(issue.id)).events)
    const event = events.find((e) => e.exception?.value === 'after the answer')!
    expect(events.find((e) => e.exception?.value === 'while waiting')!.breadcrumbs.find((c) => c.category === 'http')?.data?.status_code).toBeUndefined()
    expect(event.breadcrumbs.find((c) => c.category === 'http')?.data).toMatchObject({ url: `http://127.0.0.1:${port}/slow`, status_code: 200 })
  })

  it("gives beforeSend frames of the event's own, source lines included", async () => {
    const { tracker } = newTracker({
      beforeSend(event) {
        if (event.tags.change === 'yes') for (const frame of event.exception!.stacktrace!.frames) frame.pre_context?.splice(0, Infinity, 'changed')
        return event
      },
    })
    // one line, so both events share the frames parsed from one stack
    for (const change of ['yes', 'no']) tracker.captureException(new Error(`change ${change}`), { tags: { change } })
    const [issue] = await allIssues(tracker)
    const { events } = await tracker.store.listEvents(issue.id)
    const lines = (value: string) => events.find((e) => e.exception?.value === `change ${value}`)!.exception!.stacktrace!.frames.at(-1)!.pre_context
    expect(lines('yes')).toEqual(['changed'])
    expect(lines('no')).not.toContain('changed')
    expect(lines('no')!.length).toBeGreaterThan(0)
  })

  it("gives beforeSend breadcrumbs of the event's own, so changing them changes no other event", async () => {
    const { tracker } = newTracker({
      beforeSend(event) {
        if (event.tags.change === 'yes') for (const crumb of event.breadcrumbs) crumb.message = 'changed'
        return event
      },
    })
    tracker.addBreadcrumb({ message: 'original' })
    tracker.captureException(new Error('changed one'), { tags: { change: 'yes' } })
    await tracker.flush()
    tracker.captureException(new Error('untouched one'))
    await tracker.flush()
    const { issues } = await tracker.store.listIssues({ status: 'all' })
    const messages = new Map<string, string | undefined>()
    for (const issue of issues) messages.set(issue.title, (await tracker.store.listEvents(issue.id)).events[0].breadcrumbs[0]?.message)
    expect(messages.get('Error: changed one')).toBe('changed')
    expect(messages.get('Error: untouched one')).toBe('original')
  })

  it("leaves faultline's own work out of the breadcrumbs: an alert printed to the console is not one", async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    try {
      const printer = { sendMail: async (mail: { subject: string }) => (console.log(`EMAIL ${mail.subject}`), { messageId: 'x' }) }
      const { tracker } = newTracker({ mail: { transport: printer, from: 'a@example.com', to: 'team@example.com' } })
      tracker.captureException(new Error('first, alerted'))
      expect(await tracker.flush()).toBe(true)
      expect(log.mock.calls.flat().join()).toContain('EMAIL')
      console.log('the app speaking')
      tracker.captureException(new TypeError('second'))
      const issues = await allIssues(tracker)
      const second = issues.find((i) => i.title === 'TypeError: second')!
      const crumbs = (await tracker.store.listEvents(second.id)).events[0].breadcrumbs.map((c) => c.message)
      expect(crumbs).toContain('the app speaking')
      expect(crumbs.join()).not.toContain('EMAIL')
    } finally {
      log.mockRestore()
    }
  })

  it('keeps at most maxBreadcrumbs, the newest', async () => {
    const { tracker } = newTracker({ maxBreadcrumbs: 3 })
    tracker.withScope(() => {
      for (let i = 0; i < 10; i++) tracker.addBreadcrumb({ message: `step ${i}` })
      tracker.captureException(new Error('deep'))
    })
    const event = await onlyEvent(tracker)
    expect(event.breadcrumbs.map((c) => c.message)).toEqual(['step 7', 'step 8', 'step 9'])
  })

  it("shows a scope the outer breadcrumbs from before it opened, and none added outside it since (another request's)", async () => {
    const { tracker } = newTracker({ maxBreadcrumbs: 4 })
    tracker.addBreadcrumb({ message: 'boot 1' })
    tracker.addBreadcrumb({ message: 'boot 2' })
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const request = tracker.withScope(async () => {
      tracker.addBreadcrumb({ message: 'inside 1' })
      await held
      // a scope opened inside this one sees what this one had, and not what it adds later
      await tracker.withScope(async () => {
        await held
        tracker.captureException(new Error('nested'))
      })
      tracker.addBreadcrumb({ message: 'inside 2' })
      tracker.captureException(new Error('in the request'))
    })
    // meanwhile, outside the scope: these belong to someone else
    tracker.addBreadcrumb({ message: 'outside 1' })
    tracker.addBreadcrumb({ message: 'outside 2' })
    release()
    await request
    tracker.captureException(new Error('outside'))
    await tracker.flush()
    const crumbsOf = async (title: string) => {
      const { issues } = await tracker.store.listIssues({})
      const issue = issues.find((i) => i.title === `Error: ${title}`)!
      return (await tracker.store.listEvents(issue.id)).events[0].breadcrumbs.map((c) => c.message)
    }
    expect(await crumbsOf('in the request')).toEqual(['boot 1', 'boot 2', 'inside 1', 'inside 2'])
    expect(await crumbsOf('nested')).toEqual(['boot 1', 'boot 2', 'inside 1'])
    expect(await crumbsOf('outside')).toEqual(['boot 1', 'boot 2', 'outside 1', 'outside 2'])
  })
})

describe('maintenance', () => {
  it('applies the configured retention from the first write, whatever the store and however it is opened', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-retention-'))
    try {
      const stores: Array<[string, () => TrackerOptions['store']]> = [
        ['the default file store (a path)', () => path.join(dir, 'a.json')],
        ['fileStore({ path })', () => fileStore({ path: path.join(dir, 'b.json') })],
        ['memoryStore()', () => memoryStore()],
      ]
      for (const [name, store] of stores) {
        const { tracker } = newTracker({ store: store(), retention: { maxEventsPerIssue: 1000 } })
        // one call site: one issue, 500 events, as a short script would capture them
        for (let i = 0; i < 500; i++) tracker.captureException(new Error(`row ${i} failed`))
        expect(await tracker.flush()).toBe(true)
        const [issue] = (await tracker.store.listIssues()).issues
        let kept = 0
        for (let cursor: string | null = null, first = true; first || cursor; first = false) {
          const page = await tracker.store.listEvents(issue.id, { limit: 100, cursor })
          kept += page.events.length
          cursor = page.nextCursor
        }
        expect([name, issue.count, kept]).toEqual([name, 500, 500])
        await tracker.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('auto-resolves issues not seen for the autoResolve period, checked at start', async () => {
    const store = memoryStore()
    const old = createTracker({ store, panel: false, captureUncaught: false, captureUnhandledRejections: false })
    old.captureException(new Error('seen long ago'))
    await old.flush()
    await old.close()
    const [issue] = (await store.listIssues()).issues
    // the tracker starts two hours later, with autoResolve at one hour
    const later = new Date(Date.parse(issue.lastSeen) + 2 * 3_600_000)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(later)
    try {
      const { tracker } = newTracker({ store, autoResolve: '1h' })
      // the first sweep runs as the tracker starts
      await tracker.flush()
      expect((await tracker.store.getIssue(issue.id))?.status).toBe('resolved')
    } finally {
      vi.useRealTimers()
    }
  })
})
