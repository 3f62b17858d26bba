/**
 * The panel's pages for what an issue remembers (its affected users, its activity log and notes,
 * resolving in the next release), the list's search problems and the rules page: one suite, run
 * over the memory store by pages.test.ts and over the file store by file-store.test.ts.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import request from 'supertest'
import type { Store, TrackerOptions } from '../../lib/types.js'
import { resolveOptions } from '../../lib/options.js'
import { ruleKeys } from '../../lib/alerts/rules.js'
import { capture, csrfFrom, failingLookup, panelServer, paymentError, repeat, visibleText } from './helpers.js'


/** The markup of one section of the issue page, by its id. */
function section(html: string, id: string): string {
  const match = new RegExp(`<section class="[^"]*" id="${id}">([\\s\\S]*?)</section>`).exec(html)
  expect(match, `section #${id}`).not.toBeNull()
  return match![1]
}

export interface StoreMaker {
  open(): Promise<Store>
  close(store: Store): Promise<void>
}

export function historyPages(name: string, maker: StoreMaker): void {
  describe(`${name}: what an issue remembers, on the panel`, () => {
    let store: Store
    const app = (options: TrackerOptions = {}) => panelServer(store, options)

    beforeEach(async () => {
      store = await maker.open()
    })
    afterEach(async () => {
      await maker.close(store)
    })

    it('lists the affected users, most events first, with every field, their event count and last seen', async () => {
      let id = ''
      for (const [i, user] of [
        { id: 'u1', email: 'ann@example.com', plan: 'pro' },
        { id: 'u2', username: 'bob' },
        { id: 'u1', email: 'ann@example.com', plan: 'pro', name: 'Ann Lee' },
        { id: 'u1', email: 'ann@example.com', plan: 'pro', name: 'Ann Lee' },
        { id: 'u2', username: 'bob' },
        { ip_address: '10.0.0.9' },
      ].entries()) {
        id = (await capture(store, { error: failingLookup(i), user, at: new Date(Date.now() - (10 - i) * 60_000) })).issue.id
      }
      const res = await request(app()).get(`/errors/issues/${id}`).expect(200)
      const rows = [...section(res.text, 'users').matchAll(/<tr>\s*<td>([\s\S]*?)<\/td>\s*<td class="num">(\d+)<\/td>\s*<td>([\s\S]*?)<\/td>/g)]
        .map((m) => [visibleText(m[1]).trim(), m[2], visibleText(m[3]).trim()])
      expect(rows).toEqual([
        // every field the app set on the user's latest event
        ['id u1 email ann@example.com plan pro name Ann Lee', '3', '7 min ago'],
        ['id u2 username bob', '2', '6 min ago'],
        ['ip_address 10.0.0.9', '1', '5 min ago'],
      ])
      expect(visibleText(res.text)).toContain('Affected users 3 users, most events first')
    })

    it('pages through the affected users with a link to more and back', async () => {
      // u0 has 3 events, u1 2, and ten more users one each
      const { issue } = await capture(store, { error: failingLookup(0), user: { id: 'u0' } })
      const id = issue.id
      for (const user of ['u0', 'u0', 'u1', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10', 'u11']) await repeat(store, id, { user: { id: user } })
      const app1 = app()
      const first = await request(app1).get(`/errors/issues/${id}`).expect(200)
      const firstIds = [...section(first.text, 'users').matchAll(/<dt>id<\/dt><dd class="mono">(u\d+)<\/dd>/g)].map((m) => m[1])
      expect(firstIds).toHaveLength(10)
      expect(firstIds.slice(0, 2)).toEqual(['u0', 'u1'])
      expect(section(first.text, 'users')).toMatch(/<dd class="mono">u0<\/dd><\/div><\/dl><\/td>\s*<td class="num">3<\/td>/)
      const more = /<a href="([^"]+)" rel="next">More users »<\/a>/.exec(first.text)?.[1].replace(/&amp;/g, '&')
      expect(more).toMatch(new RegExp(`^/errors/issues/${id}\\?users=[^#]+#users$`))
      const second = await request(app1).get(more!).expect(200)
      const secondIds = [...section(second.text, 'users').matchAll(/<dt>id<\/dt><dd class="mono">(u\d+)<\/dd>/g)].map((m) => m[1])
      // the two pages hold every user once
      expect(secondIds).toHaveLength(2)
      expect(new Set([...firstIds, ...secondIds])).toEqual(new Set(Array.from({ length: 12 }, (_, i) => `u${i}`)))
      expect(second.text).not.toContain('More users')
      expect(second.text).toContain(`<a href="/errors/issues/${id}#users">« Most events</a>`)
      // a users cursor the store did not issue is a 400 page, not a crash
      await request(app1).get(`/errors/issues/${id}?users=bogus`).expect(400)
    })

    it("shows every user field the app set in the event's user block", async () => {
      const { issue } = await capture(store, { error: failingLookup(1), user: { id: 42, email: 'ann@example.com', username: 'ann', name: 'Ann Lee', plan: 'enterprise' } })
      const res = await request(app()).get(`/errors/issues/${issue.id}`).expect(200)
      const block = /<h3>User<\/h3>\s*<table class="kv">([\s\S]*?)<\/table>/.exec(res.text)?.[1] ?? ''
      expect(visibleText(block).trim()).toBe('id 42 email ann@example.com username ann name Ann Lee plan enterprise')
    })

    it('shows the activity log: first seen, status changes with who, the ignore condition, notes', async () => {
      const { issue } = await capture(store, { error: failingLookup(1) })
      await store.updateIssue(issue.id, { status: 'resolved', actor: 'ann' })
      await store.updateIssue(issue.id, { status: 'ignored', until: { events: 5 }, actor: 'panel' })
      await store.updateIssue(issue.id, { status: 'unresolved', actor: 'API' })
      await store.addNote(issue.id, { text: 'Seen after the deploy;\nchecking the cache', actor: 'bob' })
      const res = await request(app()).get(`/errors/issues/${issue.id}`).expect(200)
      const log = [...section(res.text, 'activity').matchAll(/<li class="log-entry kind-(\w+)">([\s\S]*?)<\/li>/g)].map((m) => [m[1], visibleText(m[2]).trim()])
      expect(log).toEqual([
        ['first_seen', expect.stringMatching(/^First seen(, in release 1\.0\.0)? just now$/)],
        ['resolved', 'Resolved by ann , just now'],
        ['ignored', 'Ignored until 6 events in total by panel , just now'],
        ['unresolved', 'Reopened by API , just now'],
        ['note', 'Note by bob , just now Seen after the deploy; checking the cache'],
      ])
      // the first-seen line links to the event that opened the issue
      const [first] = (await store.listEvents(issue.id)).events
      expect(section(res.text, 'activity')).toContain(`<a href="/errors/issues/${issue.id}/events/${first.event_id}">First seen`)
      // the note keeps its line break
      expect(res.text).toContain('<p class="note-text">Seen after the deploy;\nchecking the cache</p>')
    })

    it('pages through a long activity log, and finds the latest regression for the header on any page', async () => {
      const { issue } = await capture(store, { error: failingLookup(1), release: '1.0.0' })
      await store.updateIssue(issue.id, { status: 'resolved' })
      await repeat(store, issue.id, { release: '1.2.0' })
      for (let i = 0; i < 50; i++) await store.addNote(issue.id, { text: `note ${i}`, actor: 'ann' })
      const server = app()
      const first = await request(server).get(`/errors/issues/${issue.id}`).expect(200)
      expect(section(first.text, 'activity').match(/<li class="log-entry/g)).toHaveLength(50)
      expect(first.text).toContain('came back in release <span class="mono">1.2.0</span>')
      const later = /<a href="([^"]+)" rel="next">Later activity »<\/a>/.exec(first.text)?.[1].replace(/&amp;/g, '&')
      expect(later).toMatch(new RegExp(`^/errors/issues/${issue.id}\\?activity=[^#]+#activity$`))
      const second = await request(server).get(later!).expect(200)
      const entries = [...section(second.text, 'activity').matchAll(/<p class="note-text">([^<]*)<\/p>/g)].map((m) => m[1])
      expect(entries).toEqual(['note 47', 'note 48', 'note 49'])
      expect(second.text).toContain(`<a href="/errors/issues/${issue.id}#activity">« From the start</a>`)
      expect(second.text).toContain('came back in release <span class="mono">1.2.0</span>')
    })

    it('says in the header and the log when a regressed issue had been resolved and which release brought it back', async () => {
      const { issue } = await capture(store, { error: failingLookup(1), release: '1.0.0', at: new Date(Date.now() - 3 * 3_600_000) })
      const resolved = (await store.updateIssue(issue.id, { status: 'resolved', actor: 'ann' }))!
      await repeat(store, issue.id, { release: '1.1.0' })
      const res = await request(app()).get(`/errors/issues/${issue.id}`).expect(200)
      const badges = visibleText(/<p class="badges">([\s\S]*?)<\/p>/.exec(res.text)![1])
      const when = `${resolved.resolvedAt!.slice(0, 10)} ${resolved.resolvedAt!.slice(11, 19)} UTC`
      expect(badges).toContain(`came back in release 1.1.0 just now , after being resolved ${when}`)
      expect(visibleText(section(res.text, 'activity'))).toContain(`Regressed: came back in release 1.1.0, after being resolved ${when}`)
    })

    it('offers "Resolve in next release" with the configured release, and says so while it holds', async () => {
      const { issue } = await capture(store, { error: failingLookup(1), release: '1.0.0' })
      const server = app({ release: '2.0.0' })
      const page = await request(server).get(`/errors/issues/${issue.id}`).expect(200)
      expect(page.text).toMatch(/<button type="submit" name="action" value="resolveNext" title="Stays resolved for events of 2\.0\.0[^"]*">Resolve in next release<\/button>/)
      await store.updateIssue(issue.id, { status: 'resolved', inRelease: '2.0.0', actor: 'ann' })
      const after = await request(server).get(`/errors/issues/${issue.id}`).expect(200)
      expect(visibleText(after.text)).toContain('Resolved in the next release (after 2.0.0)')
      expect(after.text).not.toContain('value="resolveNext"')
      expect(visibleText(section(after.text, 'activity'))).toContain('Resolved in the next release (after 2.0.0) by ann')
    })

    it('adds a note from the form, escaped, into the log', async () => {
      const { issue } = await capture(store, { error: failingLookup(1) })
      const server = app()
      const page = await request(server).get(`/errors/issues/${issue.id}`).expect(200)
      const { cookie, token } = csrfFrom(page)
      const form = /<form class="note-form" method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.text)!
      expect(form[1]).toBe(`/errors/issues/${issue.id}/notes`)
      expect(form[2]).toMatch(/<textarea id="note-text" name="text" rows="3" maxlength="2000" required/)
      expect(form[2]).toContain(`name="_csrf" value="${token}"`)
      const note = 'Cause: <script>alert(1)</script> & "quotes"'
      const res = await request(server).post(`/errors/issues/${issue.id}/notes`).set('Cookie', cookie).type('form')
        .send(new URLSearchParams({ _csrf: token, text: note }).toString()).expect(303)
      expect(res.headers.location).toBe(`/errors/issues/${issue.id}?done=note#activity`)
      const after = await request(server).get(res.headers.location.replace(/#.*/, '')).set('Cookie', cookie).expect(200)
      expect(after.text).toContain('<p class="notice" role="status">1 note added.</p>')
      expect(after.text).toContain('<p class="note-text">Cause: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;</p>')
      expect(after.text).not.toContain('<script>alert(1)')
      const [last] = (await store.listActivity(issue.id))!.activity.slice(-1)
      expect(last).toMatchObject({ kind: 'note', text: note, actor: 'panel' })
    })

    it('lists the alert rules with hidden addresses, webhook hosts, throttles and when each last fired', async () => {
      const options: TrackerOptions = {
        mail: { transport: { jsonTransport: true }, to: ['ann@example.com', 'Bob Smith <bob@team.example>'] },
        rules: [
          { when: 'new' },
          { when: { events: 100 }, filter: { environment: 'production', tags: { job: 'billing' } }, throttle: '1h', to: 'oncall@example.com' },
          { when: { events: 50, within: '1h' }, webhook: 'https://hooks.example.com/services/T000/SECRET-PATH?token=abc', email: false },
        ],
      }
      const keys = ruleKeys(resolveOptions({ store, ...options }).rules)
      await store.noteRuleFired(keys[1], new Date(Date.now() - 2 * 3_600_000))
      const res = await request(app(options)).get('/errors/rules').expect(200)
      const rows = [...res.text.matchAll(/<tr>\s*<td>([\s\S]*?)<\/td>\s*<td>([\s\S]*?)<\/td>\s*<td>([\s\S]*?)<\/td>\s*<td>([\s\S]*?)<\/td>\s*<td>([\s\S]*?)<\/td>/g)]
        .map((m) => m.slice(1).map((cell) => visibleText(cell).trim()))
      expect(rows).toEqual([
        ['A new issue: its first event', 'Every event', 'a•••@example.com b•••@team.example', 'None: each alert once per issue', 'never'],
        ['The issue reaches 100 events', 'environment production; tag job = billing', 'o•••@example.com', 'At most one alert per issue every 1h', '2 h ago'],
        ['50 events within 1h', 'Every event', 'webhook hooks.example.com', 'None: each alert once per issue', 'never'],
      ])
      for (const secret of ['ann@', 'bob@', 'Bob Smith', 'oncall@', 'SECRET-PATH', 'token=abc']) expect(res.text).not.toContain(secret)
    })

    it('says when no alert rule is configured and how to add one; every page links to the rules', async () => {
      const server = app()
      const res = await request(server).get('/errors/rules').expect(200)
      const text = visibleText(res.text)
      expect(text).toContain('No alert rule is configured, so no alert is sent.')
      expect(text).toContain("mail: { transport: process.env.SMTP_URL, to: 'team@example.com' }")
      const list = await request(server).get('/errors').expect(200)
      expect(list.text).toContain('<a href="/errors/rules">Alert rules</a>')
      await request(server).post('/errors/rules').expect(405)
      // mail without rules: it says the list is empty
      const emptyRules = await request(app({ mail: { transport: { jsonTransport: true }, to: 'ann@example.com' }, rules: [] })).get('/errors/rules').expect(200)
      expect(visibleText(emptyRules.text)).toContain('The tracker has a mail option, but its rules list is empty.')
    })

    it('shows search problems above the results and points to another tab that has matches', async () => {
      const { issue } = await capture(store, { error: paymentError() })
      await capture(store, { error: failingLookup(1) })
      await store.updateIssue(issue.id, { status: 'resolved' })
      const server = app({ release: '3.1.0' })

      const bad = await request(server).get(`/errors?q=${encodeURIComponent('is:bogus level:nope payment')}`).expect(200)
      const note = /<div class="notice warn search-problems" role="status">([\s\S]*?)<\/div>/.exec(bad.text)?.[1] ?? ''
      expect(visibleText(note)).toMatch(/Parts of this search were not used: .*is:bogus.* .*level:nope.*/)

      const fine = await request(server).get('/errors?q=payment').expect(200)
      expect(fine.text).not.toContain('search-problems')
      // nothing unresolved matches, but the resolved tab has it
      expect(visibleText(fine.text)).toContain('No issues match this search. 1 resolved issue matches: show it')
      expect(fine.text).toContain('<a href="/errors?status=resolved&amp;q=payment">show it</a>')
      const followed = await request(server).get('/errors?status=resolved&q=payment').expect(200)
      expect(visibleText(followed.text)).toContain('Error: Payment failed')
      // nothing anywhere: no pointer
      expect((await request(server).get('/errors?q=nothing-like-this').expect(200)).text).not.toContain('class="elsewhere"')

      // the placeholder suggests terms this app's issues can match
      const placeholder = /placeholder="([^"]*)"/.exec(fine.text)![1]
      expect(placeholder).toBe('Search: words, is:regressed, level:error, environment:development, release:3.1.0, user.email:…')
    })
  })
}
