import { describe, it, expect, beforeAll } from 'vitest'
import request from 'supertest'
import type http from 'node:http'
import { memoryStore } from '../../adapters/memory.js'
import type { Store } from '../../lib/types.js'
import { capture, csrfFrom, failingLookup, panelServer, seededStore, visibleText } from './helpers.js'
import { historyPages } from './history-pages.js'


function rowTitles(html: string): string[] {
  return [...html.matchAll(/<a class="title" href="[^"]+">([^<]+)<\/a>/g)].map((m) => visibleText(m[1]).trim())
}

describe('panel pages', () => {
  let store: Store
  let ids: Awaited<ReturnType<typeof seededStore>>['ids']
  let app: http.Server

  beforeAll(async () => {
    ;({ store, ids } = await seededStore())
    app = panelServer(store)
  })

  describe('the issue list', () => {
    it('lists unresolved issues with title, culprit, counts and a 24-hour chart', async () => {
      const res = await request(app).get('/errors').expect(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      const text = visibleText(res.text)
      expect(rowTitles(res.text)).toHaveLength(3)
      expect(text).toContain("TypeError: Cannot read properties of undefined (reading 'name')")
      expect(text).toContain('lookupUser (test/panel/helpers.ts)')
      expect(text).toMatch(/6 events 4 users/)
      expect(text).toContain('first seen 5 h ago')
      // one chart per row: a baseline plus a bar for each hour that had events, with its count
      const charts = res.text.match(/<svg class="chart spark"[\s\S]*?<\/svg>/g) ?? []
      expect(charts).toHaveLength(3)
      const lookupChart = charts.find((c) => c.includes('6 events'))!
      expect(lookupChart.match(/<rect /g)).toHaveLength(7)
      expect(lookupChart.match(/<title>\d{4}-\d\d-\d\d \d\d:00 UTC: 1 event<\/title>/g)).toHaveLength(6)
    })

    it('says "1 event" and "1 user" for an issue seen once, by one user', async () => {
      const res = await request(app).get('/errors?q=browser:safari').expect(200)
      expect(rowTitles(res.text)).toEqual(['Error: Payment failed'])
      const text = visibleText(res.text)
      expect(text).toMatch(/ 1 event 1 user /)
      expect(text).not.toMatch(/\b1 (events|users)\b/)
      expect(res.text).toContain('aria-label="Events in the last 24 hours: 1 event"')
      // no user at all is still plural
      expect(visibleText((await request(app).get('/errors?q=queue').expect(200)).text)).toMatch(/ 1 event 0 users /)
    })

    it('shows tabs with the count of issues in each status', async () => {
      const res = await request(app).get('/errors').expect(200)
      const tabs = [...res.text.matchAll(/<a href="[^"]*status=(\w+)[^"]*"( aria-current="page")?>(\w+) <span class="count">(\d+)<\/span>/g)]
        .map((m) => [m[1], m[4], Boolean(m[2])])
      expect(tabs).toEqual([['unresolved', '3', true], ['resolved', '0', false], ['ignored', '0', false], ['all', '3', false]])
    })

    it('searches by tag, by free text and by quoted tag value', async () => {
      const byTag = await request(app).get('/errors?q=browser:safari').expect(200)
      expect(rowTitles(byTag.text)).toEqual(['Error: Payment failed'])
      const byText = await request(app).get('/errors?q=queue').expect(200)
      expect(rowTitles(byText.text)).toEqual(['Queue depth above 1000'])
      const quoted = await request(app).get(`/errors?q=${encodeURIComponent('job:"nightly billing"')}`).expect(200)
      expect(rowTitles(quoted.text)).toEqual(['Queue depth above 1000'])
      // the search stays in the box, escaped
      expect(quoted.text).toContain('value="job:&#34;nightly billing&#34;"')
      const none = await request(app).get('/errors?q=browser:lynx').expect(200)
      expect(visibleText(none.text)).toContain('No issues match this search.')
    })

    it('sorts by events, users, first seen and last seen', async () => {
      const byEvents = await request(app).get('/errors?sort=events').expect(200)
      expect(rowTitles(byEvents.text)[0]).toMatch(/^TypeError/)
      const byFirstSeen = await request(app).get('/errors?sort=firstSeen').expect(200)
      expect(rowTitles(byFirstSeen.text)[2]).toMatch(/^TypeError/)
      expect(byFirstSeen.text).toMatch(/<a href="[^"]*sort=firstSeen[^"]*" aria-current="true">First seen<\/a>/)
      // an unknown sort falls back to last seen instead of failing the page
      await request(app).get('/errors?sort=bogus').expect(200)
    })

    it('offers only the bulk actions that change an issue in the current tab', async () => {
      const offered = async (path: string) => {
        const res = await request(app).get(path).expect(200)
        const toolbar = /<div class="toolbar">([\s\S]*?)<span class="sort">/.exec(res.text)![1]
        return [...toolbar.matchAll(/<button type="submit" name="action" value="(\w+)"/g)].map((m) => m[1])
      }
      expect(await offered('/errors')).toEqual(['resolve', 'ignore', 'delete'])
      expect(await offered('/errors?status=resolved')).toEqual(['ignore', 'unresolve', 'delete'])
      expect(await offered('/errors?status=ignored')).toEqual(['resolve', 'unresolve', 'delete'])
      expect(await offered('/errors?status=all')).toEqual(['resolve', 'ignore', 'unresolve', 'delete'])
      // a search naming a status shows all of them, so every action may apply
      expect(await offered('/errors?q=is:resolved')).toEqual(['resolve', 'ignore', 'unresolve', 'delete'])
    })

    it('marks an issue New only while it is unresolved and first seen in the last 24 hours', async () => {
      const fresh = memoryStore()
      const day = 86_400_000
      await capture(fresh, { message: 'Recent and open', fingerprint: ['recent-open'] })
      const resolved = (await capture(fresh, { message: 'Recent but resolved', fingerprint: ['recent-resolved'] })).issue.id
      const ignored = (await capture(fresh, { message: 'Recent but ignored', fingerprint: ['recent-ignored'] })).issue.id
      await capture(fresh, { message: 'Old and open', fingerprint: ['old-open'], at: new Date(Date.now() - 2 * day) })
      await fresh.updateIssue(resolved, { status: 'resolved' })
      await fresh.updateIssue(ignored, { status: 'ignored', until: null })
      const res = await request(panelServer(fresh)).get('/errors?status=all').expect(200)
      const rows = [...res.text.matchAll(/<li class="issue[\s\S]*?<\/li>/g)].map((m) => m[0])
      const badges = Object.fromEntries(rows.map((row) => [
        /<a class="title" href="[^"]+">([^<]+)<\/a>/.exec(row)![1],
        [...row.matchAll(/<span class="badge(?: [^"]*)?"[^>]*>([^<]+)<\/span>/g)].map((m) => m[1]),
      ]))
      expect(badges).toEqual({
        'Recent and open': ['New'],
        'Recent but resolved': ['resolved'],
        'Recent but ignored': ['ignored'],
        'Old and open': [],
      })
    })

    it('pages with a cursor and offers a way back to the first page', async () => {
      const many = memoryStore()
      for (let i = 0; i < 30; i++) await capture(many, { message: `Distinct problem number ${'x'.repeat(i + 1)}`, fingerprint: [`p${i}`] })
      const server = panelServer(many)
      const first = await request(server).get('/errors').expect(200)
      expect(rowTitles(first.text)).toHaveLength(25)
      const next = /<a href="([^"]+)" rel="next">/.exec(first.text)?.[1].replace(/&amp;/g, '&')
      expect(next).toMatch(/^\/errors\?status=unresolved&cursor=/)
      const second = await request(server).get(next!).expect(200)
      const titles = rowTitles(second.text)
      expect(titles).toHaveLength(5)
      expect(titles.some((t) => rowTitles(first.text).includes(t))).toBe(false)
      expect(second.text).toContain('« First page')
      expect(second.text).not.toContain('rel="next"')
    })

    it('answers 400 with a page for a cursor the store did not issue', async () => {
      const res = await request(app).get('/errors?cursor=not-a-cursor').expect(400)
      expect(visibleText(res.text)).toContain('Start again from the first page')
    })

    it('switches to all statuses when the search names one with is:', async () => {
      await request(app).get('/errors?q=is:resolved').expect(200)
      const res = await request(app).get('/errors?q=is:unresolved').expect(200)
      expect(res.text).toMatch(/status=all[^"]*" aria-current="page">All/)
      expect(rowTitles(res.text)).toHaveLength(3)
    })
  })

  describe('one issue', () => {
    it('shows the issue with its stats, charts and tag breakdown', async () => {
      const res = await request(app).get(`/errors/issues/${ids.lookup}`).expect(200)
      const text = visibleText(res.text)
      expect(text).toContain("TypeError: Cannot read properties of undefined (reading 'name')")
      expect(text).toMatch(/Events 6 Users 4 First seen 5 h ago in 1\.0\.0 Last seen .* in 1\.0\.0 Environments development/)
      expect(text).toContain('Last 24 hours (hourly, times in UTC ) · 6 events')
      expect(text).toContain('Last 30 days (daily, UTC) · 6 events')
      expect(res.text.match(/<svg class="chart wide"/g)).toHaveLength(2)
      expect(text).toMatch(/browser .*Chrome 66\.7% .*Firefox 33\.3%/)
      expect(res.text).toContain('href="/errors?q=browser%3AChrome"')
    })

    it('shows the latest event in full: stack with in-app frames and source, request, user, tags, breadcrumbs, contexts, extra', async () => {
      const res = await request(app).get(`/errors/issues/${ids.lookup}`).expect(200)
      const text = visibleText(res.text)
      expect(text).toContain('Latest event')
      expect(text).toContain('Stack trace, most recent call first')
      // the newest in-app frame is open with its source line marked
      expect(res.text).toMatch(/<li class="frame in-app">\s*<details open>\s*<summary><span class="fn">lookupUser<\/span>/)
      expect(res.text).toMatch(/<span class="line current"><span class="ln">\d+<\/span>  throw new TypeError/)
      expect(text).toContain('GET https://shop.example.com/users/0?ref=mail')
      expect(text).toContain('user-agent Mozilla/5.0')
      expect(text).toContain('email user0@example.com')
      expect(text).toMatch(/route \/users\/:id/)
      expect(text).toMatch(/http GET \/users .* db select \* from users \{ "ms": 12 \}/)
      expect(text).toContain('region eu-west-1')
      expect(text).toContain('"deep": true')
    })

    it('shows chained causes after the exception', async () => {
      const res = await request(app).get(`/errors/issues/${ids.payment}`).expect(200)
      const text = visibleText(res.text)
      expect(text).toMatch(/Error Payment failed .* Caused by Error connect ECONNREFUSED 127\.0\.0\.1:5432/)
    })

    it('shows a message event without a stack trace', async () => {
      const res = await request(app).get(`/errors/issues/${ids.message}`).expect(200)
      const text = visibleText(res.text)
      expect(text).toContain('Queue depth above 1000')
      expect(text).not.toContain('Stack trace')
    })

    it('gives each event its own URL and pages to older and newer events', async () => {
      const { events } = await store.listEvents(ids.lookup, { limit: 10 })
      expect(events).toHaveLength(6)
      const latest = await request(app).get(`/errors/issues/${ids.lookup}`).expect(200)
      const older = /<a href="([^"]+)" rel="next">Older/.exec(latest.text)?.[1]
      expect(older).toBe(`/errors/issues/${ids.lookup}/events/${events[1].event_id}`)
      expect(latest.text).toContain('<span class="disabled">‹ Newer</span>')

      const second = await request(app).get(older!).expect(200)
      expect(second.text).toContain(`<a href="/errors/issues/${ids.lookup}/events/${events[0].event_id}" rel="prev">‹ Newer</a>`)
      expect(second.text).toContain(`<a href="/errors/issues/${ids.lookup}/events/${events[2].event_id}" rel="next">Older ›</a>`)
      expect(second.text).toContain(`<a href="/errors/issues/${ids.lookup}">Latest</a>`)
      expect(visibleText(second.text)).toContain(`for user 1`)

      const oldest = await request(app).get(`/errors/issues/${ids.lookup}/events/${events[5].event_id}`).expect(200)
      expect(oldest.text).toContain('<span class="disabled">Older ›</span>')
    })

    it("lists an issue's events, newest first, each linking to its page", async () => {
      const res = await request(app).get(`/errors/issues/${ids.lookup}/events`).expect(200)
      const links = [...res.text.matchAll(/<td class="time"><a href="([^"]+)">/g)].map((m) => m[1])
      const { events } = await store.listEvents(ids.lookup, { limit: 10 })
      expect(links).toEqual(events.map((e) => `/errors/issues/${ids.lookup}/events/${e.event_id}`))
    })

    it("shows each event's method and path, and the whole message, user and URL in tooltips", async () => {
      const res = await request(app).get(`/errors/issues/${ids.lookup}/events`).expect(200)
      const urls = [...res.text.matchAll(/<td class="url clip mono" title="([^"]*)">([\s\S]*?)<\/td>/g)].map((m) => [m[1], visibleText(m[2]).trim()])
      expect(urls).toHaveLength(6)
      for (const [i, [title, text]] of urls.entries()) {
        expect(text).toBe(`GET /users/${i}?ref=mail`)
        expect(title).toBe(`GET https://shop.example.com/users/${i}?ref=mail`)
      }
      expect(res.text).toContain(`<td class="message clip" title="Cannot read properties of undefined (reading &#39;name&#39;) for user 0">`)
      expect(res.text).toContain('<td class="user clip" title="u0">u0</td>')
    })

    it('shows the actions that fit the status, each in a form with a CSRF token', async () => {
      const res = await request(app).get(`/errors/issues/${ids.lookup}`).expect(200)
      expect(res.text).toContain('value="resolve" class="primary">Resolve</button>')
      expect(res.text).not.toContain('value="unresolve">Reopen')
      expect(res.text).toContain('<summary>Ignore…</summary>')
      expect(res.text).toContain('value="delete" class="danger"')
      const forms = res.text.match(/<form method="post"[\s\S]*?<\/form>/g) ?? []
      expect(forms.length).toBeGreaterThanOrEqual(3)
      for (const form of forms) expect(form).toMatch(/name="_csrf" value="[A-Za-z0-9_-]{32,}"/)
    })
  })

  describe('addresses that are not there', () => {
    const bad = [
      '/errors/issues/0000000000000000',
      '/errors/issues/__proto__',
      '/errors/issues/constructor',
      '/errors/issues/%5F%5Fproto%5F%5F',
      `/errors/issues/${'a'.repeat(65)}`,
      `/errors/issues/${'a'.repeat(5000)}`,
      '/errors/issues/%E0%A4%A',
      '/errors/issues/..%2F..%2Fetc%2Fpasswd',
      '/errors/nope',
      '/errors/issues',
    ]
    it.each(bad)('answers 404 for %s', async (path) => {
      const res = await request(app).get(path).expect(404)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['content-security-policy']).toContain("default-src 'none'")
    })

    it('answers 404 for an unknown event of a known issue, and for an event of another issue', async () => {
      await request(app).get(`/errors/issues/${ids.lookup}/events/${'f'.repeat(32)}`).expect(404)
      const { events } = await store.listEvents(ids.payment, { limit: 1 })
      await request(app).get(`/errors/issues/${ids.lookup}/events/${events[0].event_id}`).expect(404)
      await request(app).get(`/errors/issues/${ids.lookup}/events/__proto__`).expect(404)
    })

    it('answers 405 with Allow for methods a page does not take', async () => {
      const res = await request(app).put(`/errors/issues/${ids.lookup}`).expect(405)
      expect(res.headers.allow).toBe('GET, HEAD, POST')
      expect((await request(app).post('/errors').expect(405)).headers.allow).toBe('GET, HEAD')
      expect((await request(app).get('/errors/bulk').expect(405)).headers.allow).toBe('POST')
    })

    it('answers HEAD like GET without a body', async () => {
      const res = await request(app).head('/errors').expect(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.text ?? '').toBe('')
    })
  })

  describe('assets', () => {
    it('serves the stylesheet and script from the panel path, cacheable only under their hashed URL', async () => {
      const page = await request(app).get('/errors').expect(200)
      const css = /<link rel="stylesheet" href="([^"]+)" nonce="([^"]+)">/.exec(page.text)!
      const js = /<script src="([^"]+)" nonce="([^"]+)" defer><\/script>/.exec(page.text)!
      expect(css[1]).toMatch(/^\/errors\/panel\.css\?v=[0-9a-f]{10}$/)
      expect(js[1]).toMatch(/^\/errors\/panel\.js\?v=[0-9a-f]{10}$/)
      const nonce = /'nonce-([^']+)'/.exec(page.headers['content-security-policy'])![1]
      expect(css[2]).toBe(nonce)
      expect(js[2]).toBe(nonce)

      const cssRes = await request(app).get(css[1]).expect(200)
      expect(cssRes.headers['content-type']).toBe('text/css; charset=utf-8')
      expect(cssRes.headers['cache-control']).toBe('private, max-age=31536000, immutable')
      expect(cssRes.headers['x-content-type-options']).toBe('nosniff')
      expect(cssRes.text).toContain('.issue')
      const jsRes = await request(app).get(js[1]).expect(200)
      expect(jsRes.headers['content-type']).toBe('text/javascript; charset=utf-8')
      const unversioned = await request(app).get('/errors/panel.css').expect(200)
      expect(unversioned.headers['cache-control']).toBe('no-store')
    })

    it('keeps the stylesheet under 24 KB and the script under 16 KB', async () => {
      // both are versioned and cached for good, so a browser loads them once per release; the
      // stylesheet grew with the activity log, the users, the notes, the stack views and the rules page
      expect((await request(app).get('/errors/panel.css')).text.length).toBeLessThan(24_000)
      // the script holds the live update and the local times besides the list's comforts
      expect((await request(app).get('/errors/panel.js')).text.length).toBeLessThan(16_000)
    })
  })

  describe('a panel mounted under another path', () => {
    it('builds every link from the base path it is given', async () => {
      const server = panelServer(store, {}, '/admin/errors')
      const res = await request(server).get('/admin/errors').expect(200)
      const hrefs = [...res.text.matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1]).filter((h) => h !== 'data:,')
      expect(hrefs.length).toBeGreaterThan(10)
      for (const href of hrefs) expect(href).toMatch(/^\/admin\/errors([/?]|$)/)
      expect(res.headers['set-cookie']?.[0]).toContain('Path=/admin/errors;')
      const issue = await request(server).get(`/admin/errors/issues/${ids.lookup}`).expect(200)
      expect(issue.text).toContain(`action="/admin/errors/issues/${ids.lookup}"`)
    })
  })

  it('never changes anything on GET', async () => {
    const fresh = memoryStore()
    const r = await capture(fresh, { error: failingLookup(1) })
    const server = panelServer(fresh)
    for (const path of [`/errors/issues/${r.issue.id}?action=delete`, `/errors/bulk?action=resolve&id=${r.issue.id}`, `/errors?action=resolve&id=${r.issue.id}`]) {
      await request(server).get(path)
    }
    expect((await fresh.getIssue(r.issue.id))?.status).toBe('unresolved')
  })
})

describe('a store written before issues kept users, a log and rule firings', () => {
  it('still shows the issue and the rules, and says what the store does not keep', async () => {
    const current = memoryStore()
    const { issue } = await capture(current, { error: failingLookup(1), user: { id: 'u1' } })
    const older = { ...current, listUsers: undefined, listActivity: undefined, addNote: undefined, ruleFirings: undefined } as unknown as Store
    const app = panelServer(older, { mail: { transport: { jsonTransport: true }, to: 'ann@example.com' } })
    const page = await request(app).get(`/errors/issues/${issue.id}`).expect(200)
    const text = visibleText(page.text)
    expect(text).toContain('Latest event')
    expect(text).toContain('This store does not list the users of an issue')
    expect(text).toContain('This store keeps no activity log or notes')
    expect(page.text).not.toContain('class="note-form"')
    const rules = await request(app).get('/errors/rules').expect(200)
    expect(visibleText(rules.text)).toContain('A new issue: its first event Every event a•••@example.com None: each alert once per issue not kept by this store')
    const form = await request(app).get('/errors').expect(200)
    const { cookie, token } = csrfFrom(form)
    const note = await request(app).post(`/errors/issues/${issue.id}/notes`).set('Cookie', cookie).type('form').send(`_csrf=${token}&text=hi`).expect(501)
    expect(visibleText(note.text)).toContain('it has no addNote')
    await current.close()
  })
})

historyPages('memory store', { open: async () => memoryStore(), close: (store) => store.close() })
