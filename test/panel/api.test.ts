import { describe, it, expect, beforeEach } from 'vitest'
import request from 'supertest'
import type http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import { guardStore, StoreUnavailableError } from '../../lib/panel/store-guard.js'
import type { Store } from '../../lib/types.js'
import { capture, failingLookup, panelServer, paymentError } from './helpers.js'

let store: Store
let app: http.Server
let lookup: string
let payment: string

beforeEach(async () => {
  store = memoryStore()
  for (let i = 0; i < 3; i++) lookup = (await capture(store, { error: failingLookup(i), at: new Date(Date.now() - (3 - i) * 1000), user: { id: `u${i}` }, tags: { browser: 'Chrome' } })).issue.id
  payment = (await capture(store, { error: paymentError(), tags: { browser: 'Safari' } })).issue.id
  app = panelServer(store)
})

describe('GET /api/issues', () => {
  it('returns { issues, nextCursor } with the store filters', async () => {
    const res = await request(app).get('/errors/api/issues').expect(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body.nextCursor).toBeNull()
    expect(res.body.issues.map((i: { id: string }) => i.id).sort()).toEqual([lookup, payment].sort())

    const safari = await request(app).get('/errors/api/issues?q=browser:safari').expect(200)
    expect(safari.body.issues.map((i: { id: string }) => i.id)).toEqual([payment])
    const byEvents = await request(app).get('/errors/api/issues?sort=events&limit=1').expect(200)
    expect(byEvents.body.issues).toHaveLength(1)
    expect(byEvents.body.issues[0]).toMatchObject({ id: lookup, count: 3, userCount: 3, status: 'unresolved' })
    const next = await request(app).get(`/errors/api/issues?sort=events&limit=1&cursor=${byEvents.body.nextCursor}`).expect(200)
    expect(next.body.issues[0].id).toBe(payment)
    expect(next.body.nextCursor).toBeNull()
    const resolved = await request(app).get('/errors/api/issues?status=resolved').expect(200)
    expect(resolved.body.issues).toEqual([])
  })

  it.each([
    ['status=open', 'status must be one of'],
    ['sort=random', 'sort must be one of'],
    ['limit=0', 'limit must be a number from 1 to 100, got 0'],
    ['limit=ten', 'limit must be a number from 1 to 100, got NaN'],
    ['cursor=garbage', 'cursor'],
    [`q=${'a'.repeat(501)}`, 'q is longer than 500'],
  ])('answers 400 with a message for %s', async (query, message) => {
    const res = await request(app).get(`/errors/api/issues?${query}`).expect(400)
    expect(res.body.error.status).toBe(400)
    expect(res.body.error.message).toContain(message)
  })

  it('adds the tab counts of the search with counts=1, in the same answer', async () => {
    await store.updateIssue(payment, { status: 'resolved' })
    const plain = await request(app).get('/errors/api/issues').expect(200)
    expect(plain.body).not.toHaveProperty('counts')
    const res = await request(app).get('/errors/api/issues?counts=1').expect(200)
    expect(res.body.issues.map((i: { id: string }) => i.id)).toEqual([lookup])
    expect(res.body.counts).toEqual({ unresolved: 1, resolved: 1, ignored: 0, all: 2 })
    const chrome = await request(app).get('/errors/api/issues?counts=1&q=browser:chrome').expect(200)
    expect(chrome.body.counts).toEqual({ unresolved: 1, resolved: 0, ignored: 0, all: 1 })
  })

  it('cuts a limit above 100 to 100, as every store does', async () => {
    const res = await request(app).get('/errors/api/issues?limit=500&status=all').expect(200)
    expect(res.body.issues.length).toBeGreaterThan(0)
    expect(res.body.issues.length).toBeLessThanOrEqual(100)
  })
})

describe('GET /api/issues/:id', () => {
  it('returns { issue, tags, histogram } with 24 hourly and 30 daily buckets', async () => {
    const res = await request(app).get(`/errors/api/issues/${lookup}`).expect(200)
    expect(res.body.issue).toMatchObject({ id: lookup, count: 3, title: expect.stringContaining('TypeError') })
    expect(res.body.tags).toContainEqual({ key: 'browser', total: 3, values: [{ value: 'Chrome', count: 3 }] })
    expect(res.body.histogram.hourly).toHaveLength(24)
    expect(res.body.histogram.daily).toHaveLength(30)
    expect(res.body.histogram.hourly.at(-1)).toBe(3)
    expect(res.body.histogram.daily.reduce((a: number, b: number) => a + b, 0)).toBe(3)
  })

  it.each(['0000000000000000', '__proto__', 'constructor', 'hasOwnProperty', 'a'.repeat(65), '%5F%5Fproto%5F%5F'])('answers 404 for %s', async (id) => {
    const res = await request(app).get(`/errors/api/issues/${id}`).expect(404)
    expect(res.body).toEqual({ error: { status: 404, message: 'No issue with this id.' } })
  })
})

describe('GET /api/issues/:id/events', () => {
  it('returns { events, nextCursor }, newest first, with cursor paging', async () => {
    const first = await request(app).get(`/errors/api/issues/${lookup}/events?limit=2`).expect(200)
    expect(first.body.events).toHaveLength(2)
    expect(first.body.events[0].exception.value).toContain('for user 2')
    expect(first.body.nextCursor).toEqual(expect.any(String))
    const rest = await request(app).get(`/errors/api/issues/${lookup}/events?limit=2&cursor=${first.body.nextCursor}`).expect(200)
    expect(rest.body.events).toHaveLength(1)
    expect(rest.body.events[0].exception.value).toContain('for user 0')
    expect(rest.body.nextCursor).toBeNull()
  })

  it('answers 404 for an unknown issue and 400 for a bad limit or cursor', async () => {
    await request(app).get('/errors/api/issues/ffffffffffffffff/events').expect(404)
    await request(app).get(`/errors/api/issues/${lookup}/events?limit=-1`).expect(400)
    await request(app).get(`/errors/api/issues/${lookup}/events?cursor=xyz`).expect(400)
  })
})

describe('PATCH /api/issues/:id', () => {
  it('changes the status and returns the issue', async () => {
    const res = await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved' }).expect(200)
    expect(res.body).toMatchObject({ id: lookup, status: 'resolved' })
    expect((await store.getIssue(lookup))!.status).toBe('resolved')
  })

  it('ignores with an end given as { until }', async () => {
    const res = await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'ignored', until: { events: 10 } }).expect(200)
    expect(res.body).toMatchObject({ status: 'ignored', ignoreUntil: { count: 13 } })
    const users = await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'ignored', until: { users: 2 } }).expect(200)
    expect(users.body.ignoreUntil).toMatchObject({ userCount: 5 })
    const timed = await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'ignored', until: { for: '1d' } }).expect(200)
    expect(Date.parse(timed.body.ignoreUntil.at)).toBeGreaterThan(Date.now() + 86_000_000)
  })

  it.each([
    [{ status: 'done' }, 'status must be one of'],
    [{}, 'status must be one of'],
    [[], 'Send a JSON object'],
    ['resolved', 'Send a JSON object'],
    [{ status: 'resolved', until: { events: 5 } }, 'until only goes with'],
    [{ status: 'ignored', until: { events: -1 } }, 'until'],
    [{ status: 'ignored', until: { for: 'forever' } }, 'until'],
    [{ status: 'resolved', extra: 1 }, 'unknown update field'],
  ])('answers 400 for %j', async (body, message) => {
    const res = await request(app).patch(`/errors/api/issues/${lookup}`).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(400)
    expect(res.body.error.message).toContain(message)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('answers 400 for malformed JSON, 413 for a huge body, 404 for an unknown issue', async () => {
    await request(app).patch(`/errors/api/issues/${lookup}`).set('Content-Type', 'application/json').send('{"status":').expect(400)
    await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved', pad: 'x'.repeat(70_000) }).expect(413)
    await request(app).patch('/errors/api/issues/ffffffffffffffff').send({ status: 'resolved' }).expect(404)
  })

  it('refuses writes that are not JSON, or come from another origin', async () => {
    const form = await request(app).patch(`/errors/api/issues/${lookup}`).type('form').send('status=resolved').expect(415)
    expect(form.body.error.message).toContain('application/json')
    await request(app).patch(`/errors/api/issues/${lookup}`).set('Content-Type', 'text/plain').send('{"status":"resolved"}').expect(415)
    await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved' }).set('Origin', 'https://evil.example').expect(403)
    await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved' }).set('Sec-Fetch-Site', 'cross-site').expect(403)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })
})

describe('DELETE /api/issues/:id', () => {
  it('deletes the issue and its events (204), then answers 404', async () => {
    await request(app).delete(`/errors/api/issues/${lookup}`).expect(204)
    expect(await store.getIssue(lookup)).toBeNull()
    await request(app).get(`/errors/api/issues/${lookup}/events`).expect(404)
    await request(app).delete(`/errors/api/issues/${lookup}`).expect(404)
  })

  it('refuses a non-JSON body and cross-origin requests', async () => {
    await request(app).delete(`/errors/api/issues/${payment}`).type('form').send('x=1').expect(415)
    await request(app).delete(`/errors/api/issues/${payment}`).set('Sec-Fetch-Site', 'cross-site').expect(403)
    expect(await store.getIssue(payment)).not.toBeNull()
  })
})

describe('API routing', () => {
  it('answers 404 JSON for unknown routes and 405 with Allow for unsupported methods', async () => {
    expect((await request(app).get('/errors/api/nothing').expect(404)).body.error.status).toBe(404)
    await request(app).get(`/errors/api/issues/${lookup}/tags`).expect(404)
    const post = await request(app).post('/errors/api/issues').send({}).expect(405)
    expect(post.headers.allow).toBe('GET, HEAD')
    expect((await request(app).put(`/errors/api/issues/${lookup}`).send({}).expect(405)).headers.allow).toBe('GET, HEAD, PATCH, DELETE')
    expect((await request(app).delete(`/errors/api/issues/${lookup}/events`).expect(405)).headers.allow).toBe('GET, HEAD')
  })

  it('answers 503 "store unavailable" and reports the error when the store fails', async () => {
    const errors: Error[] = []
    const broken = memoryStore()
    broken.listIssues = async () => { throw new Error('disk on fire') }
    const server = panelServer(broken, { onInternalError: (e) => errors.push(e) })
    const res = await request(server).get('/errors/api/issues').expect(503)
    expect(res.body.error.message).toContain('store is unavailable')
    expect(JSON.stringify(res.body)).not.toContain('disk on fire')
    expect(errors.map((e) => e.message)).toEqual(['faultline: the store failed on listIssues: disk on fire'])
    const page = await request(server).get('/errors').expect(503)
    expect(page.text).toContain('Store unavailable')
    expect(page.text).not.toContain('disk on fire')
    expect(page.headers['content-security-policy']).toContain("default-src 'none'")
  })

  it('gives up on a store that does not answer instead of hanging the page', async () => {
    const hanging = memoryStore()
    hanging.getIssue = () => new Promise(() => {})
    const guarded = guardStore(hanging, 50)
    await expect(guarded.getIssue('abc')).rejects.toThrow(StoreUnavailableError)
    await expect(guarded.getIssue('abc')).rejects.toThrow('did not answer getIssue within 50 ms')
    // the request's own mistakes stay what they are
    await expect(guarded.updateIssue('abc', { status: 'bogus' } as never)).rejects.toThrow(TypeError)
  })
})
