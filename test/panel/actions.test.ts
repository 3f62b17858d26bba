import { describe, it, expect, beforeEach } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import { resolveOptions } from '../../lib/options.js'
import { createPanel } from '../../lib/panel/index.js'
import os from 'node:os'
import path from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { groupEvent } from '../../common/fingerprint.js'
import { NOTE_MAX_LENGTH, type Store } from '../../lib/types.js'
import { capture, csrfFrom, failingLookup, panelServer, paymentError, repeat } from './helpers.js'

let store: Store
let app: http.Server
let lookup: string
let payment: string
let session: { cookie: string; token: string }

beforeEach(async () => {
  store = memoryStore()
  lookup = (await capture(store, { error: failingLookup(1), user: { id: 'a' } })).issue.id
  payment = (await capture(store, { error: paymentError(), user: { id: 'b' } })).issue.id
  app = panelServer(store)
  session = csrfFrom(await request(app).get('/errors').expect(200))
})

function rowsOf(html: string): string[] {
  return [...html.matchAll(/<input type="checkbox" name="id" value="([0-9a-f]+)"/g)].map((m) => m[1])
}

function post(path: string, form: Record<string, string | string[]>, s = session) {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(form)) for (const one of ([] as string[]).concat(v)) body.append(k, one)
  return request(app).post(path).set('Cookie', s.cookie).type('form').send(body.toString())
}

describe('CSRF token', () => {
  it('is set as an HttpOnly SameSite=Strict cookie scoped to the panel path and repeated in forms', async () => {
    const res = await request(app).get('/errors').expect(200)
    const cookie = res.headers['set-cookie'][0]
    expect(cookie).toMatch(/^faultline_csrf=[A-Za-z0-9_-]{32}; Path=\/errors; HttpOnly; SameSite=Strict$/)
    expect(csrfFrom(res).token).toBe(cookie.split(';')[0].split('=')[1])
  })

  it('keeps the token the browser already has', async () => {
    const res = await request(app).get(`/errors/issues/${lookup}`).set('Cookie', session.cookie).expect(200)
    expect(res.headers['set-cookie']).toBeUndefined()
    expect(csrfFrom(res).token).toBe(session.token)
  })
})

describe('issue actions', () => {
  it('resolves, then reopens an issue and redirects back to it with a notice', async () => {
    const res = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolve' }).expect(303)
    expect(res.headers.location).toBe(`/errors/issues/${lookup}?done=resolve`)
    expect((await store.getIssue(lookup))!.status).toBe('resolved')
    const page = await request(app).get(res.headers.location).set('Cookie', session.cookie).expect(200)
    expect(page.text).toContain('<p class="notice" role="status">1 issue resolved.</p>')
    expect(page.text).toContain('value="unresolve">Reopen</button>')

    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'unresolve' }).expect(303)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('ignores forever, after N more events, after N more users, and for a duration', async () => {
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'forever' }).expect(303)
    expect(await store.getIssue(lookup)).toMatchObject({ status: 'ignored', ignoreUntil: null })

    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'events', events: '5', users: '10' }).expect(303)
    expect(await store.getIssue(lookup)).toMatchObject({ status: 'ignored', ignoreUntil: { count: 6 } })

    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'users', users: '2' }).expect(303)
    expect(await store.getIssue(lookup)).toMatchObject({ status: 'ignored', ignoreUntil: { userCount: 3 } })

    const before = Date.now()
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'for', for: '1h' }).expect(303)
    const at = Date.parse((await store.getIssue(lookup))!.ignoreUntil!.at!)
    expect(at).toBeGreaterThanOrEqual(before + 3_600_000 - 1000)
    expect(at).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1000)

    const page = await request(app).get(`/errors/issues/${lookup}`).expect(200)
    expect(page.text).toMatch(/ignored until\s+<time datetime="[^"]+" data-format="datetime">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/)
  })

  it('says after an ignore, and on the issue while ignored, when the ignore ends', async () => {
    const shown = async (form: Record<string, string>) => {
      const res = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', ...form }).expect(303)
      const page = await request(app).get(res.headers.location).set('Cookie', session.cookie).expect(200)
      const notice = /<p class="notice" role="status">([^<]*)<\/p>/.exec(page.text)?.[1]
      const until = /<span class="until">([\s\S]*?)<\/span>/.exec(page.text)?.[1].replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim()
      return { notice, until }
    }
    expect(await shown({ until: 'forever' })).toEqual({ notice: '1 issue ignored until you reopen it.', until: 'ignored until you reopen it' })
    expect(await shown({ until: 'events', events: '3' })).toEqual({ notice: '1 issue ignored until 3 more events.', until: 'ignored until 3 more events (4 in total)' })
    expect(await shown({ until: 'users', users: '1' })).toEqual({ notice: '1 issue ignored until 1 more user.', until: 'ignored until 1 more user (2 in total)' })
    const { notice, until } = await shown({ until: 'for', for: '1d' })
    expect(notice).toMatch(/^1 issue ignored until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/)
    expect(until).toMatch(/^ignored until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)

    // the "more" counts down as events come in
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'events', events: '3' }).expect(303)
    await repeat(store, lookup)
    const page = await request(app).get(`/errors/issues/${lookup}`).expect(200)
    expect(page.text).toMatch(/ignored\s+until 2 more events\s+\(4 in total\)/)
    expect(page.text).not.toContain('class="notice"')
  })

  it('ends an ignore by events once the store counts them (the store runs the workflow)', async () => {
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'events', events: '2' }).expect(303)
    await repeat(store, lookup)
    expect((await store.getIssue(lookup))!.status).toBe('ignored')
    await repeat(store, lookup)
    const page = await request(app).get('/errors').expect(200)
    expect(page.text).toContain(`value="${lookup}"`)
  })

  it('refuses an ignore form without a valid end, and changes nothing', async () => {
    for (const form of [{ until: 'events', events: '0' }, { until: 'users', users: 'many' }, { until: 'for', for: 'soon' }, { until: 'never' }]) {
      const res = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', ...form }).expect(400)
      expect(res.text).toContain('Incomplete form')
    }
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('deletes an issue and its events, then lists without it', async () => {
    const res = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'delete' }).expect(303)
    expect(res.headers.location).toBe('/errors?done=delete&n=1')
    expect(await store.getIssue(lookup)).toBeNull()
    expect((await store.listEvents(lookup)).events).toEqual([])
    await request(app).get(`/errors/issues/${lookup}`).expect(404)
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'delete' }).expect(404)
  })

  it('answers 404 for actions on unknown or malformed ids, and 400 for unknown actions', async () => {
    await post('/errors/issues/0000000000000000', { _csrf: session.token, action: 'resolve' }).expect(404)
    await post('/errors/issues/__proto__', { _csrf: session.token, action: 'resolve' }).expect(404)
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'explode' }).expect(400)
  })
})

describe('resolve in the next release', () => {
  it('resolves for the configured release, records who did it, and says so on the issue', async () => {
    app = panelServer(store, { release: '2.4.0' })
    const res = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolveNext' }).expect(303)
    expect(res.headers.location).toBe(`/errors/issues/${lookup}?done=resolveNext`)
    expect(await store.getIssue(lookup)).toMatchObject({ status: 'resolved', resolvedInRelease: '2.4.0' })
    const page = await request(app).get(res.headers.location).set('Cookie', session.cookie).expect(200)
    expect(page.text).toContain('<p class="notice" role="status">1 issue resolved in the next release.</p>')
    expect(page.text).toContain('Resolved in the next release (after <span class="mono">2.4.0</span>)')
    const [, resolved] = (await store.listActivity(lookup))!.activity
    expect(resolved).toMatchObject({ kind: 'resolved', release: '2.4.0', actor: 'panel' })
    // an event of that release keeps it resolved; one of a later release brings it back
    await repeat(store, lookup, { release: '2.4.0' })
    expect((await store.getIssue(lookup))!.status).toBe('resolved')
    await repeat(store, lookup, { release: '2.5.0' })
    expect(await store.getIssue(lookup)).toMatchObject({ status: 'unresolved', regressed: true })
  })

  it("falls back to the issue's latest release, and without any release offers no button and refuses the post", async () => {
    const noVersion = await mkdtemp(path.join(os.tmpdir(), 'faultline-no-release-'))
    try {
      // no `release` option and no package.json version: only the events can say
      app = panelServer(store, { root: noVersion })
      await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolveNext' }).expect(303)
      expect((await store.getIssue(lookup))!.resolvedInRelease).toBe('1.0.0')

      const bare = { ...(await store.listEvents(payment)).events[0], event_id: 'cd'.repeat(16), release: undefined, message: 'no release here', exception: undefined }
      const { issue } = await store.record({ event: bare, grouping: groupEvent(bare), userKey: null })
      expect(issue.lastRelease).toBeNull()
      const page = await request(app).get(`/errors/issues/${issue.id}`).set('Cookie', session.cookie).expect(200)
      expect(page.text).not.toContain('value="resolveNext"')
      expect(page.text).toContain('Resolve in next release needs a release')
      const refused = await post(`/errors/issues/${issue.id}`, { _csrf: session.token, action: 'resolveNext' }).expect(400)
      expect(refused.text).toContain('No release known')
      expect((await store.getIssue(issue.id))!.status).toBe('unresolved')
    } finally {
      await rm(noVersion, { recursive: true, force: true })
    }
  })

  it('is offered on the issue page only, not in bulk', async () => {
    await post('/errors/bulk', { _csrf: session.token, action: 'resolveNext', id: [lookup] }).expect(400)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })
})

describe('who made a change', () => {
  it("is the HTTP Basic user name when auth has credentials, else 'panel'", async () => {
    const basic = 'Basic ' + Buffer.from('alice:s3cret').toString('base64')
    app = panelServer(store, { panel: { auth: { username: 'alice', password: 's3cret' } } })
    const signedIn = csrfFrom(await request(app).get('/errors').set('Authorization', basic).expect(200))
    await post(`/errors/issues/${lookup}`, { _csrf: signedIn.token, action: 'resolve' }, signedIn).set('Authorization', basic).expect(303)
    await post(`/errors/issues/${lookup}/notes`, { _csrf: signedIn.token, text: 'on it' }, signedIn).set('Authorization', basic).expect(303)
    await post(`/errors/bulk`, { _csrf: signedIn.token, action: 'unresolve', id: [lookup] }, signedIn).set('Authorization', basic).expect(303)
    // an auth function says yes or no, not who
    app = panelServer(store, { panel: { auth: () => true } })
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'ignore', until: 'forever' }).expect(303)
    const log = (await store.listActivity(lookup))!.activity.slice(1).map((a) => [a.kind, a.actor])
    expect(log).toEqual([['resolved', 'alice'], ['note', 'alice'], ['unresolved', 'alice'], ['ignored', 'panel']])
  })
})

describe('notes', () => {
  it('adds a note and goes back to the log', async () => {
    const res = await post(`/errors/issues/${lookup}/notes`, { _csrf: session.token, text: 'Deploy 41 broke it' }).expect(303)
    expect(res.headers.location).toBe(`/errors/issues/${lookup}?done=note#activity`)
    expect((await store.listActivity(lookup))!.activity.at(-1)).toMatchObject({ kind: 'note', text: 'Deploy 41 broke it', actor: 'panel' })
  })

  it('refuses a note without the CSRF token, from another site, or on an unknown issue, and adds nothing', async () => {
    await post(`/errors/issues/${lookup}/notes`, { text: 'forged' }).expect(403)
    await post(`/errors/issues/${lookup}/notes`, { _csrf: 'x'.repeat(32), text: 'forged' }).expect(403)
    await request(app).post(`/errors/issues/${lookup}/notes`).type('form').send(`_csrf=${session.token}&text=forged`).expect(403)
    await post(`/errors/issues/${lookup}/notes`, { _csrf: session.token, text: 'forged' }).set('Sec-Fetch-Site', 'cross-site').expect(403)
    await post('/errors/issues/0000000000000000/notes', { _csrf: session.token, text: 'lost' }).expect(404)
    expect((await store.listActivity(lookup))!.activity.filter((a) => a.kind === 'note')).toEqual([])
    await request(app).get(`/errors/issues/${lookup}/notes`).expect(405).expect('Allow', 'POST')
  })

  it('refuses an empty note and one over the limit, counting a line break as one character as browsers do', async () => {
    const empty = await post(`/errors/issues/${lookup}/notes`, { _csrf: session.token, text: ' \r\n ' }).expect(400)
    expect(empty.text).toContain('Empty note')
    const long = await post(`/errors/issues/${lookup}/notes`, { _csrf: session.token, text: 'x'.repeat(NOTE_MAX_LENGTH + 1) }).expect(400)
    expect(long.text).toContain(`at most ${NOTE_MAX_LENGTH.toLocaleString('en-US')} characters`)
    // what a textarea with maxlength lets through: its line breaks arrive as CRLF
    const lines = Array.from({ length: 100 }, () => 'y'.repeat(19)).join('\r\n')
    expect(lines.replace(/\r\n/g, '\n')).toHaveLength(NOTE_MAX_LENGTH - 1)
    await post(`/errors/issues/${lookup}/notes`, { _csrf: session.token, text: lines }).expect(303)
    const note = (await store.listActivity(lookup))!.activity.at(-1)!
    expect(note.text).toBe(lines.replace(/\r\n/g, '\n'))
  })
})

describe('bulk actions', () => {
  it('resolves the selected issues and returns to the list it came from', async () => {
    const res = await post('/errors/bulk', { _csrf: session.token, action: 'resolve', id: [lookup, payment], back: '?q=error&sort=events&evil=1' }).expect(303)
    expect(res.headers.location).toBe('/errors?q=error&sort=events&done=resolve&n=2')
    expect((await store.getIssue(lookup))!.status).toBe('resolved')
    expect((await store.getIssue(payment))!.status).toBe('resolved')
    const page = await request(app).get('/errors?done=resolve&n=2').expect(200)
    expect(page.text).toContain('2 issues resolved.')
    expect(page.text).toContain('No unresolved issues.')
  })

  it('ignores and deletes the selected issues, skipping ids that are unknown or malformed', async () => {
    await post('/errors/bulk', { _csrf: session.token, action: 'ignore', id: [lookup, 'ffffffffffffffff', '__proto__'] })
      .expect(303).expect('Location', '/errors?done=ignore&n=1')
    expect((await store.getIssue(lookup))!.status).toBe('ignored')
    await post('/errors/bulk', { _csrf: session.token, action: 'delete', id: [lookup, payment] }).expect(303).expect('Location', '/errors?done=delete&n=2')
    expect((await store.countIssues()).all).toBe(0)
  })

  it('sends a post with nothing ticked back to the list it came from, which says to tick an issue', async () => {
    const res = await post('/errors/bulk', { _csrf: session.token, action: 'resolve', back: '?status=all&q=error' }).expect(303)
    expect(res.headers.location).toBe('/errors?status=all&q=error&done=none')
    const page = await request(app).get(res.headers.location).expect(200)
    expect(page.text).toContain('<p class="notice warn" role="status">Tick at least one issue, then choose an action.</p>')
    expect(rowsOf(page.text)).toHaveLength(2)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
    await post('/errors/bulk', { _csrf: session.token, action: 'delete' }).expect(303).expect('Location', '/errors?done=none')
    expect((await store.countIssues()).all).toBe(2)
  })

  it('refuses more than 100 issues at once', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => i.toString(16).padStart(16, '0'))
    await post('/errors/bulk', { _csrf: session.token, action: 'resolve', id: ids }).expect(400)
  })
})

describe('form refusals', () => {
  it('refuses a post without the CSRF token, with a wrong one, or without the cookie', async () => {
    await post(`/errors/issues/${lookup}`, { action: 'resolve' }).expect(403)
    await post(`/errors/issues/${lookup}`, { _csrf: 'x'.repeat(32), action: 'resolve' }).expect(403)
    const noCookie = await request(app).post(`/errors/issues/${lookup}`).type('form').send(`_csrf=${session.token}&action=resolve`).expect(403)
    expect(noCookie.text).toContain('Form expired')
    await post('/errors/bulk', { action: 'delete', id: lookup }).expect(403)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('refuses cross-site posts even with a valid token', async () => {
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolve' }).set('Sec-Fetch-Site', 'cross-site').expect(403)
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolve' }).set('Sec-Fetch-Site', 'same-site').expect(403)
    const evil = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'delete' }).set('Origin', 'https://evil.example').expect(403)
    expect(evil.text).toContain('Cross-origin request refused')
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'delete' }).set('Origin', 'null').expect(403)
    expect(await store.getIssue(lookup)).not.toBeNull()
  })

  it('accepts same-origin posts that say so', async () => {
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolve' }).set('Sec-Fetch-Site', 'same-origin').expect(303)
    // listening first keeps one port, so the Origin below names the host the request goes to
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    const { port } = app.address() as { port: number }
    await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'unresolve' }).set('Origin', `http://127.0.0.1:${port}`).expect(303)
    app.close()
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('refuses bodies over 64 KB with 413 and forms that are not urlencoded with 415', async () => {
    const big = await post(`/errors/issues/${lookup}`, { _csrf: session.token, action: 'resolve', pad: 'x'.repeat(70_000) })
    expect(big.status).toBe(413)
    await request(app).post(`/errors/issues/${lookup}`).set('Cookie', session.cookie).set('Content-Type', 'text/plain')
      .send(`_csrf=${session.token}&action=resolve`).expect(415)
    expect((await store.getIssue(lookup))!.status).toBe('unresolved')
  })

  it('uses a body the host app already parsed', async () => {
    const resolved = resolveOptions({ store, environment: 'development' })
    const panel = createPanel({ store, options: resolved })
    const parsing = http.createServer((req, res) => {
      let text = ''
      req.setEncoding('utf8')
      req.on('data', (c) => (text += c))
      req.on('end', () => {
        ;(req as unknown as { body: unknown }).body = Object.fromEntries(new URLSearchParams(text))
        const [path, search = ''] = (req.url ?? '').slice('/errors'.length).split('?')
        void panel.handle(req, res, { basePath: '/errors', path, search: search ? `?${search}` : '' })
      })
    })
    await request(parsing).post(`/errors/issues/${lookup}`).set('Cookie', session.cookie).type('form')
      .send(`_csrf=${session.token}&action=resolve`).expect(303)
    expect((await store.getIssue(lookup))!.status).toBe('resolved')
  })
})
