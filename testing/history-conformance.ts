/**
 * The part of the store conformance suite about what an issue remembers beyond its counts: the
 * users it affected, its activity log and notes, resolving in the next release, search by user
 * and platform, and the store-wide rule firings and settings. storeConformance runs it.
 */
import assert from 'node:assert/strict'
import { NOTE_MAX_LENGTH, type Activity, type AffectedUser, type Issue, type RecordInput, type Store } from '../lib/types.js'
import { DAY, HOUR, MINUTE } from '../common/duration.js'
import { assertMatches } from './assert-matches.js'
import { ids, iso, issueId, makeInput, recordAll, type EventSpec } from './record-input.js'

type StoreTest = (title: string, body: (store: Store) => Promise<void>) => void


/** Every page of a list, following nextCursor (at most 50 pages). */
async function allPages<T>(fetch: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: { items: T[]; nextCursor: string | null } = await fetch(cursor)
    items.push(...page.items)
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 50)
  return { items, pages }
}

async function usersOf(store: Store, id: string, limit = 100): Promise<AffectedUser[]> {
  return (await allPages(async (cursor) => {
    const page = (await store.listUsers(id, { limit, cursor }))!
    return { items: page.users, nextCursor: page.nextCursor }
  })).items
}

async function activityOf(store: Store, id: string, limit = 100): Promise<Activity[]> {
  return (await allPages(async (cursor) => {
    const page = (await store.listActivity(id, { limit, cursor }))!
    return { items: page.activity, nextCursor: page.nextCursor }
  })).items
}

/** An ISO time taken between `before` and now (with a second's slack for clocks that round). */
function assertRecent(at: string | null | undefined, before: number, what: string): void {
  const t = Date.parse(String(at))
  assert.ok(t >= before - 1000 && t <= Date.now() + 1000, `${what} at ${at} is not the time of the change (${iso(before)} to now)`)
}

export function historyConformance(describe: (name: string, fn: () => void) => unknown, it: StoreTest, T: (minutes: number) => number): void {
  describe('affected users', () => {
    it('lists the users an issue affected, most events first, with every field the app set on their latest event', async (store) => {
      await recordAll(store, [
        { time: T(1), user: 'alice', userFields: { id: 'alice', email: 'alice@example.com', plan: 'pro' } },
        { time: T(2), user: 'bob', userFields: { id: 'bob', username: 'bobby' } },
        { time: T(3), user: 'alice', userFields: { id: 'alice', email: 'alice@new.example', name: 'Alice A.', ip_address: '10.0.0.1' } },
        { time: T(4), user: null },
        // older than alice's latest: counted, but her fields stay those of T(3)
        { time: T(0), user: 'alice', userFields: { id: 'alice', email: 'old@example.com' } },
        { time: T(5), user: 'bob', userFields: { id: 'bob', username: 'bobby', email: 'bob@example.com' } },
        { time: T(6), user: 'carol@example.com', userFields: { email: 'carol@example.com' } },
        { issue: 'other', time: T(7), user: 'dave' },
      ])
      const id = issueId('checkout')
      const page = (await store.listUsers(id))!
      assert.equal(page.nextCursor, null)
      assert.deepStrictEqual(page.users, [
        { key: 'alice', user: { id: 'alice', email: 'alice@new.example', name: 'Alice A.', ip_address: '10.0.0.1' }, count: 3, firstSeen: iso(T(0)), lastSeen: iso(T(3)) },
        { key: 'bob', user: { id: 'bob', username: 'bobby', email: 'bob@example.com' }, count: 2, firstSeen: iso(T(2)), lastSeen: iso(T(5)) },
        { key: 'carol@example.com', user: { email: 'carol@example.com' }, count: 1, firstSeen: iso(T(6)), lastSeen: iso(T(6)) },
      ])
      assert.equal((await store.getIssue(id))!.userCount, 3)
      assert.deepStrictEqual((await store.listUsers(issueId('other')))!.users.map((u) => u.key), ['dave'])
      // changing what was returned changes nothing stored
      page.users[0].user.email = 'changed'
      assert.equal((await store.listUsers(id))!.users[0].user.email, 'alice@new.example')
    })

    it('answers null for an unknown issue, and an empty page for an issue without users', async (store) => {
      await recordAll(store, [{ user: null }])
      assert.equal(await store.listUsers(issueId('nothing here')), null)
      assert.equal(await store.listUsers('__proto__'), null)
      assert.deepStrictEqual(await store.listUsers(issueId('checkout')), { users: [], nextCursor: null })
    })

    it('pages through users with no duplicates or gaps, and refuses a bad limit or a cursor it did not issue', async (store) => {
      const specs: EventSpec[] = []
      for (let i = 0; i < 12; i++) for (let n = 0; n <= i % 4; n++) specs.push({ time: T(i * 5 + n), user: `u${i}` })
      await recordAll(store, specs)
      const id = issueId('checkout')
      const whole = (await store.listUsers(id, { limit: 100 }))!.users
      assert.equal(whole.length, 12)
      const counts = whole.map((u) => u.count)
      assert.deepStrictEqual(counts, [...counts].sort((a, b) => b - a))
      const { items, pages } = await allPages(async (cursor) => {
        const page = (await store.listUsers(id, { limit: 5, cursor }))!
        assert.ok(page.users.length <= 5)
        return { items: page.users, nextCursor: page.nextCursor }
      })
      assert.equal(pages, 3)
      assert.deepStrictEqual(items, whole)
      assert.equal((await store.listUsers(id))!.users.length, 12)
      for (const cursor of ['garbage', 'x'.repeat(5000), Buffer.from('[1,2]').toString('base64url')]) await assert.rejects(store.listUsers(id, { cursor }), TypeError)
      for (const limit of [0, -1, Number.NaN, '10' as unknown as number]) await assert.rejects(store.listUsers(id, { limit }), TypeError)
    })

    it('counts shed and folded records for their user, and keeps users across a regression and pruning', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{ time: T(1), user: 'alice' }, { time: T(2), user: 'bob' }])
      const folded: RecordInput = { ...makeInput({ time: T(3), user: 'bob' }), shed: true, times: 5 }
      await store.record(folded)
      await store.updateIssue(id, { status: 'resolved' })
      await recordAll(store, [{ time: T(4), user: 'alice' }, { time: T(5), user: 'alice' }])
      await store.maintain({ retention: { maxEventsPerIssue: 1, maxAgeMs: 365 * DAY } })
      assertMatches((await store.listUsers(id))!.users, [
        { key: 'bob', count: 6, firstSeen: iso(T(2)), lastSeen: iso(T(3)) },
        { key: 'alice', count: 3, firstSeen: iso(T(1)), lastSeen: iso(T(5)) },
      ])
    })

    it('forgets the users of a deleted issue', async (store) => {
      await recordAll(store, [{ user: 'alice' }])
      await store.deleteIssue(issueId('checkout'))
      assert.equal(await store.listUsers(issueId('checkout')), null)
      await recordAll(store, [{ user: 'bob' }])
      assert.deepStrictEqual((await store.listUsers(issueId('checkout')))!.users.map((u) => u.key), ['bob'])
    })
  })

  describe('search by user and platform', () => {
    const recordPeople = (store: Store) => recordAll(store, [
      { issue: 'a', time: T(1), user: 'U-42', userFields: { id: 'U-42', email: 'Ann@Example.com', username: 'ann' } },
      { issue: 'b', time: T(2), user: '7', userFields: { id: 7, email: 'bob@example.com' } },
      { issue: 'c', time: T(3), user: null, platform: 'javascript' },
      { issue: 'a', time: T(4), user: 'ip:10.0.0.9', userFields: { ip_address: '10.0.0.9' }, platform: 'node' },
    ])
    const a = issueId('a'), b = issueId('b'), c = issueId('c')
    const search = async (store: Store, q: string) => ids((await store.listIssues({ q, status: 'all' })).issues).sort()

    it('finds issues by user.id:, user.email:, user.username: and user: (any of them), case-insensitively and exactly', async (store) => {
      await recordPeople(store)
      assert.deepStrictEqual(await search(store, 'user.id:u-42'), [a])
      assert.deepStrictEqual(await search(store, 'user.id:7'), [b])
      assert.deepStrictEqual(await search(store, 'user.email:ann@example.com'), [a])
      assert.deepStrictEqual(await search(store, 'user.email:ann'), [])
      assert.deepStrictEqual(await search(store, 'user.username:ANN'), [a])
      assert.deepStrictEqual(await search(store, 'user.id:ann'), [])
      assert.deepStrictEqual(await search(store, 'user:ann'), [a])
      assert.deepStrictEqual(await search(store, 'user:BOB@example.com'), [b])
      assert.deepStrictEqual(await search(store, 'user:7'), [b])
      assert.deepStrictEqual(await search(store, 'user:nobody'), [])
      assert.deepStrictEqual(await search(store, '-user:ann'), [b, c].sort())
      assert.deepStrictEqual(await search(store, 'user:7 user.email:bob@example.com'), [b])
      assert.deepStrictEqual(await store.countIssues('user:ann'), { unresolved: 1, resolved: 0, ignored: 0, all: 1 })
    })

    it('records the platforms an issue was seen on (node when an event names none) and finds issues by platform:', async (store) => {
      await recordPeople(store)
      assert.deepStrictEqual((await store.getIssue(a))!.platforms, ['node'])
      assert.deepStrictEqual((await store.getIssue(c))!.platforms, ['javascript'])
      await recordAll(store, [{ issue: 'a', time: T(5), platform: 'javascript' }, { issue: 'a', time: T(6) }])
      assert.deepStrictEqual((await store.getIssue(a))!.platforms, ['node', 'javascript'])
      assert.deepStrictEqual(await search(store, 'platform:javascript'), [a, c].sort())
      assert.deepStrictEqual(await search(store, 'platform:NODE'), [a, b].sort())
      assert.deepStrictEqual(await search(store, '-platform:node'), [c])
    })

    it('matches nothing for a term with a problem, even negated: bad is:, level: or platform: values, an unknown user key, an empty value', async (store) => {
      await recordPeople(store)
      for (const q of ['is:bogus', '-is:bogus', 'level:nope', 'platform:ios', '-platform:ios', 'user.phone:123', 'user.:x', 'browser:', 'user:', '-is:']) {
        assert.deepStrictEqual(await search(store, q), [], q)
      }
      assert.deepStrictEqual(await search(store, 'user:ann'), [a])
    })
  })

  describe('activity log', () => {
    it('records first seen, each status change with who made it, and notes, oldest first', async (store) => {
      const id = issueId('checkout')
      const [first] = await recordAll(store, [{ time: T(1) }])
      const later = makeInput({ time: T(2) })
      const before = Date.now()
      await store.updateIssue(id, { status: 'resolved', actor: 'ann' })
      await store.updateIssue(id, { status: 'ignored', until: { events: 5 } })
      await store.updateIssue(id, { status: 'ignored', until: { for: '1h' }, actor: 'panel' })
      await store.updateIssue(id, { status: 'unresolved', actor: 'panel' })
      const note = (await store.addNote(id, { text: '  Looks like the payment provider <again>  ', actor: 'ann' }))!
      assertMatches(note, { kind: 'note', text: 'Looks like the payment provider <again>', actor: 'ann' })
      assert.equal(typeof note.id, 'string')
      assertRecent(note.at, before, 'the note')
      // an event of an unresolved issue adds no line
      await store.record(later)
      const log = (await store.listActivity(id))!
      assert.equal(log.nextCursor, null)
      assertMatches(log.activity, [
        { kind: 'first_seen', actor: 'faultline', at: iso(T(1)) },
        { kind: 'resolved', actor: 'ann' },
        { kind: 'ignored', actor: 'API', until: { count: 6 } },
        { kind: 'ignored', actor: 'panel' },
        { kind: 'unresolved', actor: 'panel' },
        { kind: 'note', actor: 'ann', text: 'Looks like the payment provider <again>' },
      ])
      assert.equal(log.activity[0].eventId, (await store.listEvents(id, { limit: 100 })).events.find((e) => e.timestamp === iso(T(1)))!.event_id)
      assert.equal(first.isNew, true)
      const at = Date.parse(log.activity[3].until!.at!)
      assert.ok(at >= before + HOUR - 1000 && at <= Date.now() + HOUR + 1000, `the ignore's end ${log.activity[3].until!.at} is not an hour after the change`)
      for (const line of log.activity.slice(1)) assertRecent(line.at, before, line.kind)
      assert.deepStrictEqual(log.activity[5], note)
      assert.equal(new Set(log.activity.map((line) => line.id)).size, 6)
    })

    it('records a regression with the event, its release and when the issue had been resolved', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{ time: T(1), release: '1.0.0' }])
      const resolved = (await store.updateIssue(id, { status: 'resolved' }))!
      const back = makeInput({ time: T(30), release: '2.0.0' })
      assert.equal((await store.record(back)).isRegression, true)
      await recordAll(store, [{ time: T(31), release: '2.0.0' }])
      const log = (await store.listActivity(id))!.activity
      assertMatches(log, [
        { kind: 'first_seen' },
        { kind: 'resolved', actor: 'API' },
        { kind: 'regressed', actor: 'faultline', at: iso(T(30)), eventId: back.event.event_id, release: '2.0.0', resolvedAt: resolved.resolvedAt },
      ])
      // a regression by an event without a release says so with null
      await store.updateIssue(id, { status: 'resolved' })
      await recordAll(store, [{ time: T(40) }])
      assertMatches((await store.listActivity(id))!.activity.slice(3), [{ kind: 'resolved' }, { kind: 'regressed', release: null }])
    })

    it('records what happened by itself: an ignore that ran out, auto-resolve and events deleted by retention', async (store) => {
      await recordAll(store, [
        { issue: 'old', time: T(0) },
        { issue: 'quiet', time: Date.now() - MINUTE },
        { issue: 'busy', time: T(1) }, { issue: 'busy', time: T(2) }, { issue: 'busy', time: T(3) }, { issue: 'busy', time: T(4) }, { issue: 'busy', time: T(5) },
        { issue: 'counted', time: T(6) },
      ])
      await store.updateIssue(issueId('quiet'), { status: 'ignored', until: { for: '30m' } })
      await store.updateIssue(issueId('counted'), { status: 'ignored', until: { events: 1 } })
      await recordAll(store, [{ issue: 'counted', time: T(7) }])
      const now = Date.now() + HOUR
      const result = await store.maintain({ now: new Date(now), autoResolveBefore: new Date(T(0) + 1), retention: { maxEventsPerIssue: 2, maxAgeMs: 365 * DAY } })
      assertMatches(result, { resolvedIssues: 1, unignoredIssues: 1 })
      assertMatches((await store.listActivity(issueId('old')))!.activity, [{ kind: 'first_seen' }, { kind: 'auto_resolved', actor: 'faultline', at: iso(now) }])
      assertMatches((await store.listActivity(issueId('quiet')))!.activity, [{ kind: 'first_seen' }, { kind: 'ignored' }, { kind: 'unignored', actor: 'faultline', at: iso(now) }])
      assertMatches((await store.listActivity(issueId('counted')))!.activity, [{ kind: 'first_seen' }, { kind: 'ignored', until: { count: 2 } }, { kind: 'unignored', actor: 'faultline' }])
      const busy = (await store.listActivity(issueId('busy')))!.activity
      assert.equal(busy[0].kind, 'first_seen')
      assert.ok(busy.slice(1).every((line) => line.kind === 'events_pruned' && line.actor === 'faultline'), JSON.stringify(busy))
      assert.equal(busy.slice(1).reduce((sum, line) => sum + line.count!, 0), 3)
      // a sweep that deletes nothing says nothing
      await store.maintain({ now: new Date(now), retention: { maxEventsPerIssue: 2, maxAgeMs: 365 * DAY } })
      assert.equal((await store.listActivity(issueId('busy')))!.activity.reduce((sum, line) => sum + (line.count ?? 0), 0), 3)
      assert.equal((await store.listActivity(issueId('old')))!.activity.length, 2)
    })

    it('pages the log oldest first with no duplicates or gaps, and refuses a bad limit or cursor', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{}])
      for (let i = 0; i < 11; i++) await store.addNote(id, { text: `note ${i}`, actor: 'ann' })
      const whole = (await store.listActivity(id, { limit: 100 }))!.activity
      assert.deepStrictEqual(whole.map((line) => line.text ?? line.kind), ['first_seen', ...Array.from({ length: 11 }, (_, i) => `note ${i}`)])
      const { items, pages } = await allPages(async (cursor) => {
        const page = (await store.listActivity(id, { limit: 5, cursor }))!
        assert.ok(page.activity.length <= 5)
        return { items: page.activity, nextCursor: page.nextCursor }
      })
      assert.equal(pages, 3)
      assert.deepStrictEqual(items, whole)
      for (const cursor of ['garbage', 'x'.repeat(5000), Buffer.from('[1,2]').toString('base64url')]) await assert.rejects(store.listActivity(id, { cursor }), TypeError)
      for (const limit of [0, -1, '10' as unknown as number]) await assert.rejects(store.listActivity(id, { limit }), TypeError)
      assert.equal(await store.listActivity(issueId('nothing here')), null)
      assert.equal(await store.listActivity('constructor'), null)
    })

    it('keeps the first seen line and the latest 500 others', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{}])
      // 26 rounds of 20 notes; within a round their order is the store's
      for (let round = 0; round < 26; round++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.addNote(id, { text: `note ${round * 20 + i}`, actor: 'ann' })))
      }
      const log = await activityOf(store, id)
      assert.equal(log.length, 501)
      assert.equal(log[0].kind, 'first_seen')
      assert.deepStrictEqual(log.slice(1).map((line) => line.text).sort(), Array.from({ length: 500 }, (_, i) => `note ${i + 20}`).sort())
      assert.deepStrictEqual(new Set(log.slice(481).map((line) => line.text)), new Set(Array.from({ length: 20 }, (_, i) => `note ${i + 500}`)))
    })

    it('forgets the log of a deleted issue: the same fingerprint starts a new one', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{}])
      await store.addNote(id, { text: 'first life', actor: 'ann' })
      await store.deleteIssue(id)
      assert.equal(await store.listActivity(id), null)
      assert.equal(await store.addNote(id, { text: 'nobody', actor: 'ann' }), null)
      await recordAll(store, [{}])
      assertMatches((await store.listActivity(id))!.activity, [{ kind: 'first_seen' }])
    })
  })

  describe('notes', () => {
    it('refuses a note without text or an actor with a TypeError, and cuts a long one', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{}])
      for (const text of ['', '   \n ', 42, null, undefined, ['a']]) {
        await assert.rejects(store.addNote(id, { text: text as string, actor: 'ann' }), TypeError, `text ${JSON.stringify(text)}`)
      }
      for (const actor of ['', 5, null]) {
        await assert.rejects(store.addNote(id, { text: 'hi', actor: actor as string }), TypeError, `actor ${JSON.stringify(actor)}`)
      }
      await assert.rejects(store.addNote(id, null as unknown as { text: string; actor: string }), TypeError)
      await assert.rejects(store.addNote(id, { text: 'x'.repeat(NOTE_MAX_LENGTH + 1), actor: 'ann' }), TypeError, 'a note over the length')
      const longest = (await store.addNote(id, { text: ` ${'x'.repeat(NOTE_MAX_LENGTH)} `, actor: 'ann' }))!
      assert.equal(longest.text, 'x'.repeat(NOTE_MAX_LENGTH))
      assert.equal((await store.listActivity(id))!.activity.length, 2)
      assert.equal(await store.addNote(issueId('unknown'), { text: 'hi', actor: 'ann' }), null)
    })

    it('refuses an update whose actor is not a non-empty string', async (store) => {
      await recordAll(store, [{}])
      for (const actor of ['', 5, {}]) {
        await assert.rejects(store.updateIssue(issueId('checkout'), { status: 'resolved', actor: actor as string }), TypeError)
      }
      assert.equal((await store.getIssue(issueId('checkout')))!.status, 'unresolved')
    })
  })

  describe('resolve in the next release', () => {
    it('stays resolved for events of the release it was resolved in or of none, and regresses on another release', async (store) => {
      const id = issueId('checkout')
      const [created] = await recordAll(store, [{ time: T(1), release: '1.0.0', user: 'alice' }])
      assert.equal(created.issue.resolvedInRelease, null)
      const resolved = (await store.updateIssue(id, { status: 'resolved', inRelease: '1.0.0', actor: 'ann' }))!
      assertMatches(resolved, { status: 'resolved', resolvedInRelease: '1.0.0' })
      const same = await recordAll(store, [{ time: T(2), release: '1.0.0', user: 'bob' }, { time: T(3) }])
      for (const result of same) assertMatches(result, { isRegression: false, issue: { status: 'resolved', resolvedInRelease: '1.0.0', regressed: false } })
      assertMatches((await store.getIssue(id))!, { status: 'resolved', count: 3, userCount: 2 })
      // a later release brings it back
      const back = makeInput({ time: T(4), release: '1.1.0' })
      const result = await store.record(back)
      assertMatches(result, { isRegression: true, issue: { status: 'unresolved', regressed: true, resolvedInRelease: null, count: 4 } })
      assertMatches((await store.listActivity(id))!.activity, [
        { kind: 'first_seen' },
        { kind: 'resolved', actor: 'ann', release: '1.0.0' },
        { kind: 'regressed', eventId: back.event.event_id, release: '1.1.0', resolvedAt: resolved.resolvedAt },
      ])
    })

    it('is cleared by any other status change, and a plain resolve regresses on any event', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{ time: T(1), release: '1.0.0' }])
      await store.updateIssue(id, { status: 'resolved', inRelease: '1.0.0' })
      assertMatches((await store.updateIssue(id, { status: 'ignored' }))!, { resolvedInRelease: null })
      await store.updateIssue(id, { status: 'resolved', inRelease: '1.0.0' })
      assertMatches((await store.updateIssue(id, { status: 'resolved' }))!, { status: 'resolved', resolvedInRelease: null })
      assert.equal((await store.record(makeInput({ time: T(2), release: '1.0.0' }))).isRegression, true)
      await store.updateIssue(id, { status: 'resolved', inRelease: '1.0.0' })
      assertMatches((await store.updateIssue(id, { status: 'unresolved' }))!, { resolvedInRelease: null })
    })

    it('refuses inRelease with another status, or that is not a non-empty string, with a TypeError', async (store) => {
      const id = issueId('checkout')
      await recordAll(store, [{ release: '1.0.0' }])
      await assert.rejects(store.updateIssue(id, { status: 'ignored', inRelease: '1.0.0' }), { name: 'TypeError', message: /inRelease/ })
      await assert.rejects(store.updateIssue(id, { status: 'unresolved', inRelease: '1.0.0' }), { name: 'TypeError', message: /inRelease/ })
      for (const inRelease of ['', 3, {}]) await assert.rejects(store.updateIssue(id, { status: 'resolved', inRelease: inRelease as string }), TypeError)
      assertMatches((await store.getIssue(id))!, { status: 'unresolved', resolvedInRelease: null })
    })
  })

  describe('rule firings', () => {
    it('remembers when each rule last fired', async (store) => {
      assert.deepStrictEqual(await store.ruleFirings(), {})
      const t = Math.floor(Date.now() / 1000) * 1000
      await store.noteRuleFired('0:new', new Date(t - HOUR))
      await store.noteRuleFired('1:regression', new Date(t - 2 * HOUR))
      await store.noteRuleFired('0:new', new Date(t))
      // an older report (a slow process) does not move the time back
      await store.noteRuleFired('0:new', new Date(t - 3 * HOUR))
      assert.deepStrictEqual(await store.ruleFirings(), { '0:new': iso(t), '1:regression': iso(t - 2 * HOUR) })
    })

    it('refuses a rule key that is not a non-empty string, or a time that is not a valid Date, with a TypeError', async (store) => {
      for (const key of ['', 5, null, 'k'.repeat(1001)]) await assert.rejects(store.noteRuleFired(key as string, new Date()), TypeError)
      for (const at of [new Date(Number.NaN), '2024-01-01', null]) await assert.rejects(store.noteRuleFired('0:new', at as Date), TypeError)
      assert.deepStrictEqual(await store.ruleFirings(), {})
    })
  })

  describe('settings', () => {
    it('keeps the first value claimed for a name and answers it to every later claim', async (store) => {
      assert.equal(await store.claimSetting('browserKey', 'first'), 'first')
      assert.equal(await store.claimSetting('browserKey', 'second'), 'first')
      assert.equal(await store.claimSetting('other', 'second'), 'second')
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimSetting('race', `v${i}`)))
      assert.equal(new Set(answers).size, 1)
      assert.equal(await store.claimSetting('race', 'late'), answers[0])
    })

    it('refuses a name or value that is not a string with a TypeError', async (store) => {
      for (const name of ['', 5, null, 'n'.repeat(201)]) await assert.rejects(store.claimSetting(name as string, 'v'), TypeError)
      for (const value of [5, null, undefined, 'v'.repeat(10_001)]) await assert.rejects(store.claimSetting('name', value as string), TypeError)
    })
  })
}
