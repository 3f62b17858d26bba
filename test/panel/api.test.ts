import { describe, it, expect, beforeEach, afterAll } from 'vitest'
import request from 'supertest'
import type http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import { guardStore, StoreUnavailableError } from '../../lib/panel/store-guard.js'
import type { Store } from '../../lib/types.js'
import { makeInput } from '../../testing/index.js'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { capture, failingLookup, panelServer, paymentError, repeat } from './helpers.js'

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
    expect(resolved.body.problems).toEqual([])
  })

  it('says what the search could not use, and finds issues by user', async () => {
    const res = await request(app).get('/errors/api/issues?q=is:bogus').expect(200)
    expect(res.body).toEqual({ issues: [], nextCursor: null, problems: ['is:bogus matches nothing: is: takes unresolved, resolved, ignored or regressed.'] })
    const byUser = await request(app).get('/errors/api/issues?q=user.id:U1').expect(200)
    expect(byUser.body.issues.map((i: { id: string }) => i.id)).toEqual([lookup])
    expect(byUser.body.problems).toEqual([])
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

/** Records the issue's latest event again, now, with some of its fields changed. */

/** An app root without a package.json: the tracker knows no release of its own. */
const roots: string[] = []
function rootWithoutRelease(): string {
  roots.push(mkdtempSync(path.join(os.tmpdir(), 'faultline-no-release-')))
  return roots[roots.length - 1]
}
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true })
})

describe('GET /api/issues/:id/users', () => {
  it('returns { users, nextCursor }, most events first, with every field the app set, paged', async () => {
    await repeat(store, lookup, { user: { id: 'u1', email: 'ann@example.com', username: 'ann', plan: 'pro' } })
    const res = await request(app).get(`/errors/api/issues/${lookup}/users`).expect(200)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body.nextCursor).toBeNull()
    expect(res.body.users).toHaveLength(3)
    expect(res.body.users[0]).toMatchObject({ key: 'id:u1', count: 2, user: { id: 'u1', email: 'ann@example.com', username: 'ann', plan: 'pro' } })
    expect(res.body.users.slice(1).map((u: { count: number }) => u.count)).toEqual([1, 1])
    const first = await request(app).get(`/errors/api/issues/${lookup}/users?limit=2`).expect(200)
    expect(first.body.users).toHaveLength(2)
    const next = await request(app).get(`/errors/api/issues/${lookup}/users?limit=2&cursor=${first.body.nextCursor}`).expect(200)
    expect([...first.body.users, ...next.body.users]).toEqual(res.body.users)
    expect(next.body.nextCursor).toBeNull()
  })

  it('answers 404 for an unknown issue and 400 for a bad limit or cursor', async () => {
    await request(app).get('/errors/api/issues/ffffffffffffffff/users').expect(404)
    expect((await request(app).get(`/errors/api/issues/${lookup}/users?limit=0`).expect(400)).body.error.message).toContain('limit')
    expect((await request(app).get(`/errors/api/issues/${lookup}/users?cursor=nonsense`).expect(400)).body.error.message).toContain('cursor')
    expect((await request(app).post(`/errors/api/issues/${lookup}/users`).send({}).expect(405)).headers.allow).toBe('GET, HEAD')
  })
})

describe('GET /api/issues/:id/activity and POST /api/issues/:id/notes', () => {
  it('adds a note (201, the activity line) and lists the log oldest first, with who did what', async () => {
    await request(app).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved' }).expect(200)
    const note = await request(app).post(`/errors/api/issues/${lookup}/notes`).send({ text: '  <b>Fixed</b> by the retry  ' }).expect(201)
    expect(note.body).toMatchObject({ kind: 'note', text: '<b>Fixed</b> by the retry', actor: 'API' })
    const res = await request(app).get(`/errors/api/issues/${lookup}/activity`).expect(200)
    expect(res.body.nextCursor).toBeNull()
    expect(res.body.activity).toMatchObject([{ kind: 'first_seen', actor: 'faultline' }, { kind: 'resolved', actor: 'API' }, { kind: 'note', actor: 'API' }])
    expect(res.body.activity[2]).toEqual(note.body)
    const page = await request(app).get(`/errors/api/issues/${lookup}/activity?limit=2`).expect(200)
    expect(page.body.activity).toEqual(res.body.activity.slice(0, 2))
    const rest = await request(app).get(`/errors/api/issues/${lookup}/activity?limit=2&cursor=${page.body.nextCursor}`).expect(200)
    expect(rest.body).toEqual({ activity: res.body.activity.slice(2), nextCursor: null })
  })

  it('names the HTTP Basic user as the actor when the panel has a user name and password', async () => {
    const guarded = panelServer(store, { panel: { auth: { username: 'ann', password: 's3cret' } } })
    await request(guarded).post(`/errors/api/issues/${lookup}/notes`).send({ text: 'hi' }).expect(401)
    const note = await request(guarded).post(`/errors/api/issues/${lookup}/notes`).auth('ann', 's3cret').send({ text: 'hi' }).expect(201)
    expect(note.body.actor).toBe('ann')
    await request(guarded).patch(`/errors/api/issues/${lookup}`).auth('ann', 's3cret').send({ status: 'ignored' }).expect(200)
    const log = await request(guarded).get(`/errors/api/issues/${lookup}/activity`).auth('ann', 's3cret').expect(200)
    expect(log.body.activity.map((line: { kind: string; actor: string }) => [line.kind, line.actor])).toEqual([['first_seen', 'faultline'], ['note', 'ann'], ['ignored', 'ann']])
  })

  it.each([
    [{}, "a note's text must be a non-empty string"],
    [{ text: '   ' }, "a note's text must be a non-empty string"],
    [{ text: 42 }, "a note's text must be a non-empty string"],
    [{ text: 'hi', actor: 'mallory' }, 'Unknown field "actor"'],
    [['hi'], 'Send a JSON object'],
  ])('answers 400 for the note %j', async (body, message) => {
    const res = await request(app).post(`/errors/api/issues/${lookup}/notes`).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(400)
    expect(res.body.error.message).toContain(message)
    expect((await store.listActivity(lookup))!.activity).toHaveLength(1)
  })

  it('refuses a note over 2,000 characters, answers 404 for an unknown issue, and refuses non-JSON or cross-origin notes', async () => {
    const long = await request(app).post(`/errors/api/issues/${lookup}/notes`).send({ text: 'x'.repeat(5000) }).expect(400)
    expect(long.body.error.message).toContain('at most 2,000 characters; this one has 5,000')
    await request(app).post('/errors/api/issues/ffffffffffffffff/notes').send({ text: 'hi' }).expect(404)
    await request(app).get('/errors/api/issues/ffffffffffffffff/activity').expect(404)
    await request(app).post(`/errors/api/issues/${lookup}/notes`).type('form').send('text=hi').expect(415)
    await request(app).post(`/errors/api/issues/${lookup}/notes`).send({ text: 'hi' }).set('Origin', 'https://evil.example').expect(403)
    await request(app).post(`/errors/api/issues/${lookup}/notes`).send({ text: 'hi' }).set('Sec-Fetch-Site', 'cross-site').expect(403)
    expect((await request(app).get(`/errors/api/issues/${lookup}/notes`).expect(405)).headers.allow).toBe('POST')
    // nothing refused was kept: the log has its first-seen line alone
    expect((await store.listActivity(lookup))!.activity.map((line) => line.kind)).toEqual(['first_seen'])
  })
})

describe('PATCH /api/issues/:id with inNextRelease', () => {
  it("resolves in the tracker's configured release: events of it keep the issue resolved, a later release regresses it", async () => {
    const configured = panelServer(store, { release: '2.0.0' })
    const res = await request(configured).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved', inNextRelease: true }).expect(200)
    expect(res.body).toMatchObject({ status: 'resolved', resolvedInRelease: '2.0.0' })
    expect((await repeat(store, lookup, { release: '2.0.0' })).isRegression).toBe(false)
    expect((await store.getIssue(lookup))!).toMatchObject({ status: 'resolved', count: 4 })
    const back = await repeat(store, lookup, { release: '2.1.0' })
    expect(back).toMatchObject({ isRegression: true, issue: { status: 'unresolved', resolvedInRelease: null } })
    const log = await request(configured).get(`/errors/api/issues/${lookup}/activity`).expect(200)
    expect(log.body.activity.slice(1)).toMatchObject([{ kind: 'resolved', release: '2.0.0', actor: 'API' }, { kind: 'regressed', release: '2.1.0' }])
  })

  it("falls back to the issue's latest release, and answers 400 when no release is known", async () => {
    const noRelease = panelServer(store, { root: rootWithoutRelease() })
    const res = await request(noRelease).patch(`/errors/api/issues/${lookup}`).send({ status: 'resolved', inNextRelease: true })
    // the events captured in beforeEach carry release 1.0.0
    expect(res.status).toBe(200)
    expect(res.body.resolvedInRelease).toBe('1.0.0')
    const bare = memoryStore()
    const id = (await bare.record(makeInput({ issue: 'no release' }))).issue.id
    const refused = await request(panelServer(bare, { root: rootWithoutRelease() })).patch(`/errors/api/issues/${id}`).send({ status: 'resolved', inNextRelease: true }).expect(400)
    expect(refused.body.error.message).toContain('no release is known')
    expect((await bare.getIssue(id))!.status).toBe('unresolved')
  })

  it.each([
    [{ status: 'ignored', inNextRelease: true }, "inNextRelease only goes with status 'resolved'"],
    [{ status: 'resolved', inNextRelease: 'yes' }, 'inNextRelease must be true or false'],
    [{ status: 'resolved', actor: 'mallory' }, 'actor is not sent'],
    [{ status: 'unresolved', inRelease: '1.0.0' }, 'inRelease only goes with'],
  ])('answers 400 for %j', async (body, message) => {
    const res = await request(app).patch(`/errors/api/issues/${lookup}`).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(400)
    expect(res.body.error.message).toContain(message)
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

  it('answers 501 for users, activity and notes from a store written before it had them', async () => {
    const older = { ...store, listUsers: undefined, listActivity: undefined, addNote: undefined } as unknown as Store
    const old = panelServer(older)
    expect((await request(old).get(`/errors/api/issues/${lookup}/users`).expect(501)).body.error.message).toContain('listUsers')
    await request(old).get(`/errors/api/issues/${lookup}/activity`).expect(501)
    await request(old).post(`/errors/api/issues/${lookup}/notes`).send({ text: 'hi' }).expect(501)
    await request(old).get(`/errors/api/issues/${lookup}/events`).expect(200)
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
