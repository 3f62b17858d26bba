/**
 * The store conformance suite: the definition of a correct store. Every store runs it, the ones
 * shipped with faultline and any an app writes:
 *
 *   import { describe, it } from 'node:test' // or from 'vitest'
 *   storeConformance('my store', () => myStore(), { describe, it })
 *
 * It takes `describe` and `it` from the caller instead of importing a test runner, so it runs
 * under whichever runner the app uses, and asserts with node:assert, which every Node has.
 * `makeStore` must return a fresh, empty store for each test; `cleanup` (default: close it) runs
 * after each test. Event times are built around the real clock, because some methods
 * (countEventsSince, ignores `for` a duration, alert claim expiry) measure from "now".
 */
import assert from 'node:assert/strict'
import type { Issue, RecordInput, Store } from '../lib/types.js'
import { DAY, HOUR, MINUTE } from '../common/duration.js'
import { assertMatches } from './assert-matches.js'
import { ids, iso, issueId, makeInput, recordAll, type EventSpec } from './record-input.js'
import { historyConformance } from './history-conformance.js'

/** The two functions of a test runner the suite needs; node:test's and vitest's both fit. */
export interface TestRunner {
  describe(name: string, fn: () => void): unknown
  it(name: string, fn: () => Promise<void>): unknown
}

export interface ConformanceOptions extends TestRunner {
  /** runs after each test, passed or failed; default: close the store */
  cleanup?: (store: Store) => Promise<void>
}

/** Runs the whole suite against one kind of store. */
export function storeConformance(name: string, makeStore: () => Store | Promise<Store>, options: ConformanceOptions): void {
  const { describe, it: runnerIt } = options
  const cleanup = options.cleanup ?? ((store: Store) => store.close())

  /** A test with a fresh store of its own, cleaned up after it whether it passed or not. */
  function it(title: string, body: (store: Store) => Promise<void>): void {
    runnerIt(title, async () => {
      const store = await makeStore()
      try {
        await body(store)
      } catch (err) {
        // the test's own failure is the one to report, not a cleanup that fails after it
        await cleanup(store).catch(() => {})
        throw err
      }
      await cleanup(store)
    })
  }

  describe(`store conformance: ${name}`, () => {
    /** the start of a UTC day two days ago: histogram boundaries are easy to name from it */
    const DAY0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY
    const T = (minutes: number) => DAY0 + minutes * MINUTE

    describe('record', () => {
      it('creates an unresolved issue from the first event of a fingerprint', async (store) => {
        const input = makeInput({ issue: 'a', time: T(10), user: 'u1', release: '1.0.0', level: 'warning' })
        const result = await store.record(input)
        assert.equal(result.isNew, true)
        assert.equal(result.isRegression, false)
        assert.equal(result.unignored, false)
        assertMatches(result.issue, {
          id: issueId('a'),
          fingerprint: input.grouping.fingerprint,
          title: input.grouping.title,
          culprit: 'handle (routes/orders.js)',
          type: 'TypeError',
          message: input.grouping.message,
          level: 'warning',
          status: 'unresolved',
          regressed: false,
          count: 1,
          userCount: 1,
          firstSeen: iso(T(10)),
          lastSeen: iso(T(10)),
          firstRelease: '1.0.0',
          lastRelease: '1.0.0',
          environments: ['production'],
          resolvedAt: null,
          ignoreUntil: null,
          regressedAt: null,
          countSinceRegression: 1,
          usersSinceRegression: 1,
          shed: 0,
          resolvedInRelease: null,
          platforms: ['node'],
        })
        assert.deepStrictEqual(await store.getIssue(issueId('a')), result.issue)
      })

      it('adds later events of the same fingerprint to the same issue, and keeps other fingerprints apart', async (store) => {
        const [first, second, third] = await recordAll(store, [{ issue: 'a', time: T(1) }, { issue: 'a', time: T(2) }, { issue: 'b', time: T(3) }])
        assert.equal(first.isNew, true)
        assert.equal(second.isNew, false)
        assert.equal(second.issue.count, 2)
        assert.equal(third.isNew, true)
        assert.equal(third.issue.count, 1)
        assert.equal((await store.getIssue(issueId('a')))!.count, 2)
      })

      it('counts distinct users by userKey, and events without a user add no user', async (store) => {
        await recordAll(store, [{ user: 'alice' }, { user: 'bob' }, { user: 'alice' }, { user: null }, { user: 'carol' }, { user: null }])
        const issue = (await store.getIssue(issueId('checkout')))!
        assert.equal(issue.count, 6)
        assert.equal(issue.userCount, 3)
        assert.equal(issue.usersSinceRegression, 3)
      })

      it('keeps exact counts when many events of one issue are recorded at once', async (store) => {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.record(makeInput({ issue: 'storm', user: `u${i % 7}` }))))
        assert.equal(results.filter((r) => r.isNew).length, 1)
        const issue = (await store.getIssue(issueId('storm')))!
        assert.equal(issue.count, 40)
        assert.equal(issue.userCount, 7)
        assert.equal((await store.listEvents(issueId('storm'), { limit: 100 })).events.length, 40)
      })

      it('takes first and last seen from event times, even when events arrive out of order', async (store) => {
        await recordAll(store, [{ time: T(50) }, { time: T(20) }, { time: T(80) }, { time: T(60) }])
        const issue = (await store.getIssue(issueId('checkout')))!
        assert.equal(issue.firstSeen, iso(T(20)))
        assert.equal(issue.lastSeen, iso(T(80)))
      })

      it('takes first and last release from the earliest and latest events that carry one', async (store) => {
        await recordAll(store, [{ time: T(5), release: '1.1.0' }, { time: T(1), release: '1.0.0' }, { time: T(9), release: '1.2.0' }, { time: T(20) }, { time: T(7), release: '1.1.5' }])
        const issue = (await store.getIssue(issueId('checkout')))!
        assert.equal(issue.firstRelease, '1.0.0')
        assert.equal(issue.lastRelease, '1.2.0')
      })

      it('leaves releases null when no event carried one', async (store) => {
        const [result] = await recordAll(store, [{ time: T(5) }])
        assert.equal(result.issue.firstRelease, null)
        assert.equal(result.issue.lastRelease, null)
      })

      it('lists each environment once, in the order first seen', async (store) => {
        await recordAll(store, [{ environment: 'production' }, { environment: 'staging' }, { environment: 'production' }, { environment: 'development' }])
        assert.deepStrictEqual((await store.getIssue(issueId('checkout')))!.environments, ['production', 'staging', 'development'])
      })

      it("takes the issue's level from its latest event", async (store) => {
        await recordAll(store, [{ time: T(1), level: 'error' }, { time: T(3), level: 'fatal' }, { time: T(2), level: 'warning' }])
        assert.equal((await store.getIssue(issueId('checkout')))!.level, 'fatal')
      })

      it('reopens a resolved issue as a regression and restarts the since-regression counts', async (store) => {
        await recordAll(store, [{ time: T(1), user: 'alice' }, { time: T(2), user: 'bob' }, { time: T(3), user: 'alice' }])
        const resolved = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        assert.equal(resolved.status, 'resolved')
        assert.notEqual(resolved.resolvedAt, null)

        const back = await store.record(makeInput({ time: T(30), user: 'alice' }))
        assert.equal(back.isNew, false)
        assert.equal(back.isRegression, true)
        assertMatches(back.issue, { status: 'unresolved', regressed: true, regressedAt: iso(T(30)), count: 4, userCount: 2, countSinceRegression: 1, usersSinceRegression: 1 })

        const next = await recordAll(store, [{ time: T(31), user: 'carol' }, { time: T(32), user: 'alice' }, { time: T(33) }])
        assert.equal(next.every((r) => !r.isRegression), true)
        assertMatches(next[2].issue, { count: 7, userCount: 3, countSinceRegression: 4, usersSinceRegression: 2 })

        const again = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        assert.equal(again.regressed, false)
        const twice = await store.record(makeInput({ time: T(40), user: 'bob' }))
        assert.equal(twice.isRegression, true)
        assertMatches(twice.issue, { regressedAt: iso(T(40)), countSinceRegression: 1, usersSinceRegression: 1, userCount: 3 })
      })

      it('keeps counting an ignored issue without reopening it', async (store) => {
        await recordAll(store, [{ time: T(1) }])
        await store.updateIssue(issueId('checkout'), { status: 'ignored' })
        const results = await recordAll(store, [{ time: T(2), user: 'a' }, { time: T(3), user: 'b' }])
        assert.deepStrictEqual(results.map((r) => [r.isRegression, r.unignored, r.issue.status]), [[false, false, 'ignored'], [false, false, 'ignored']])
        assertMatches((await store.getIssue(issueId('checkout')))!, { status: 'ignored', count: 3, userCount: 2 })
      })

      it('counts a shed record in full (count, users, tags, histogram, recent count, issue.shed) and keeps no event of it', async (store) => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        const id = issueId('checkout')
        const kept = makeInput({ time: m - 2 * MINUTE, user: 'alice', tags: { browser: 'chrome' }, release: '1.0.0' })
        const shed: RecordInput = { ...makeInput({ time: m - MINUTE, user: 'bob', tags: { browser: 'firefox' }, release: '2.0.0', level: 'fatal' }), shed: true }
        await store.record(kept)
        const result = await store.record(shed)
        assertMatches(result, { isNew: false, isRegression: false })
        assertMatches(result.issue, { count: 2, userCount: 2, shed: 1, level: 'fatal', lastSeen: iso(m - MINUTE), lastRelease: '2.0.0', countSinceRegression: 2 })
        assert.deepStrictEqual(await store.getIssue(id), result.issue)
        assert.deepStrictEqual((await store.tagBreakdown(id)).find((t) => t.key === 'browser'), { key: 'browser', total: 2, values: [{ value: 'chrome', count: 1 }, { value: 'firefox', count: 1 }] })
        assert.equal((await store.histogram(id, { interval: 'day', buckets: 2 })).reduce((a, b) => a + b), 2)
        assert.equal(await store.countEventsSince(id, new Date(m - HOUR)), 2)
        assert.deepStrictEqual(ids((await store.listIssues({ q: 'browser:firefox release:2.0.0' })).issues), [id])
        // counted, never shown
        assert.deepStrictEqual((await store.listEvents(id)).events.map((e) => e.event_id), [kept.event.event_id])
        assert.equal(await store.getEvent(id, shed.event.event_id), null)
        assert.deepStrictEqual(await store.eventNeighbors(id, kept.event.event_id), { older: null, newer: null })
        assert.equal(await store.eventNeighbors(id, shed.event.event_id), null)
        // a shed event reopens a resolved issue as any other does
        await store.updateIssue(id, { status: 'resolved' })
        const back = await store.record({ ...makeInput({ time: m, user: 'carol' }), shed: true })
        assertMatches(back, { isRegression: true, issue: { status: 'unresolved', count: 3, userCount: 3, shed: 2, countSinceRegression: 1, usersSinceRegression: 1 } })
      })

      it('counts a folded shed record (times) as that many errors, and reopens a resolved issue once', async (store) => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        const id = issueId('checkout')
        await store.record(makeInput({ time: m - 2 * MINUTE, user: 'alice', tags: { browser: 'chrome' } }))
        await store.updateIssue(id, { status: 'resolved' })
        const folded: RecordInput = { ...makeInput({ time: m - MINUTE, user: 'bob', tags: { browser: 'firefox' } }), shed: true, times: 40 }
        const result = await store.record(folded)
        assertMatches(result, { isNew: false, isRegression: true })
        assertMatches(result.issue, { status: 'unresolved', count: 41, userCount: 2, shed: 40, countSinceRegression: 40, usersSinceRegression: 1 })
        assert.deepStrictEqual(await store.getIssue(id), result.issue)
        assert.deepStrictEqual((await store.tagBreakdown(id)).find((t) => t.key === 'browser'), { key: 'browser', total: 41, values: [{ value: 'firefox', count: 40 }, { value: 'chrome', count: 1 }] })
        assert.equal((await store.histogram(id, { interval: 'day', buckets: 2 })).reduce((a, b) => a + b), 41)
        assert.equal(await store.countEventsSince(id, new Date(m - HOUR)), 41)
        assert.equal((await store.listEvents(id)).events.length, 1)
        // a fold that creates its issue is new, and counts in full
        const fresh = await store.record({ ...makeInput({ issue: 'refund', time: m }), shed: true, times: 7 })
        assertMatches(fresh, { isNew: true, issue: { count: 7, shed: 7, userCount: 0 } })
      })

      it('counts tags cut to the lengths events carry (keys 32, values 200), the same in every store', async (store) => {
        const key = 'k'.repeat(40)
        await store.record(makeInput({ tags: { [key]: 'v'.repeat(250), [`${'k'.repeat(32)}-other`]: 'second', plan: 'pro' } }))
        const tags = await store.tagBreakdown(issueId('checkout'))
        assert.deepStrictEqual(tags.find((t) => t.key === 'k'.repeat(32)), { key: 'k'.repeat(32), total: 1, values: [{ value: 'v'.repeat(200), count: 1 }] })
        assert.deepStrictEqual(tags.map((t) => t.key).sort(), ['environment', 'k'.repeat(32), 'level', 'plan', 'server_name'].sort())
      })

      it('refuses times that is not a whole number of at least 1, or above 1 on a kept event', async (store) => {
        for (const times of [0, -2, 1.5, Number.NaN, '3' as unknown as number]) {
          await assert.rejects(store.record({ ...makeInput(), shed: true, times }), TypeError)
        }
        await assert.rejects(store.record({ ...makeInput(), times: 2 }), TypeError)
        assert.deepStrictEqual((await store.listIssues()).issues, [])
      })

      it('refuses an input without a grouping hash or event id', async (store) => {
        const input = makeInput()
        await assert.rejects(store.record({ ...input, grouping: { ...input.grouping, hash: '' } }), TypeError)
        await assert.rejects(store.record({ ...input, event: { ...input.event, event_id: undefined as unknown as string } }), TypeError)
        await assert.rejects(store.record(null as unknown as RecordInput), TypeError)
        assert.equal(await store.getIssue(input.grouping.hash), null)
      })
    })

    describe('lookups', () => {
      it('returns null for unknown ids, prototype names and odd strings', async (store) => {
        await recordAll(store, [{ issue: 'a' }])
        for (const id of ['0123456789abcdef', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'x'.repeat(100_000), '../../etc/passwd', 'a\u0000b']) {
          assert.equal(await store.getIssue(id), null)
          assert.equal(await store.updateIssue(id, { status: 'resolved' }), null)
          assert.equal(await store.deleteIssue(id), false)
          assert.equal(await store.getEvent(id, 'x'), null)
          assert.equal(await store.eventNeighbors(id, 'x'), null)
          assert.deepStrictEqual(await store.listEvents(id), { events: [], nextCursor: null })
          assert.deepStrictEqual(await store.histogram(id, { interval: 'hour', buckets: 3 }), [0, 0, 0])
          assert.equal(await store.countEventsSince(id, new Date(0)), 0)
          assert.deepStrictEqual(await store.tagBreakdown(id), [])
        }
        assert.equal(await store.getEvent(issueId('a'), '__proto__'), null)
        assert.equal(await store.eventNeighbors(issueId('a'), 'constructor'), null)
      })

      it('hands out copies: changing a returned issue or event, or the recorded input, changes nothing stored', async (store) => {
        const input = makeInput({ tags: { browser: 'chrome' } })
        const result = await store.record(input)
        result.issue.count = 999
        result.issue.environments.push('hacked')
        input.event.tags.browser = 'changed'
        input.event.exception!.value = 'changed'
        const issue = (await store.getIssue(input.grouping.hash))!
        assert.equal(issue.count, 1)
        issue.fingerprint.push('x')
        const listed = (await store.listIssues()).issues[0]
        assert.equal(listed.count, 1)
        assert.deepStrictEqual(listed.environments, ['production'])
        assert.deepStrictEqual(listed.fingerprint, input.grouping.fingerprint)
        const event = (await store.getEvent(input.grouping.hash, input.event.event_id))!
        assert.equal(event.tags.browser, 'chrome')
        assert.notEqual(event.exception!.value, 'changed')
        event.tags.browser = 'mutated'
        assert.equal((await store.getEvent(input.grouping.hash, input.event.event_id))!.tags.browser, 'chrome')
      })
    })

    describe('listIssues', () => {
      it('lists unresolved issues by default, most recently seen first', async (store) => {
        await recordAll(store, [{ issue: 'a', time: T(1) }, { issue: 'b', time: T(3) }, { issue: 'c', time: T(2) }, { issue: 'd', time: T(4) }])
        await store.updateIssue(issueId('d'), { status: 'resolved' })
        const page = await store.listIssues()
        assert.deepStrictEqual(ids(page.issues), [issueId('b'), issueId('c'), issueId('a')])
        assert.equal(page.nextCursor, null)
      })

      it('filters by status, or lists every status with all', async (store) => {
        await recordAll(store, [{ issue: 'a', time: T(1) }, { issue: 'b', time: T(2) }, { issue: 'c', time: T(3) }])
        await store.updateIssue(issueId('a'), { status: 'resolved' })
        await store.updateIssue(issueId('b'), { status: 'ignored' })
        assert.deepStrictEqual(ids((await store.listIssues({ status: 'resolved' })).issues), [issueId('a')])
        assert.deepStrictEqual(ids((await store.listIssues({ status: 'ignored' })).issues), [issueId('b')])
        assert.deepStrictEqual(ids((await store.listIssues({ status: 'unresolved' })).issues), [issueId('c')])
        assert.deepStrictEqual(ids((await store.listIssues({ status: 'all' })).issues), [issueId('c'), issueId('b'), issueId('a')])
      })

      it('sorts by last seen, first seen, events and users, descending', async (store) => {
        // a: first T1, last T50; b: first T5, last T20; c: first T2, last T30
        await recordAll(store, [
          { issue: 'a', time: T(1), user: 'x' }, { issue: 'c', time: T(2), user: 'x' }, { issue: 'b', time: T(5), user: 'y' },
          { issue: 'a', time: T(50), user: 'x' }, { issue: 'c', time: T(30), user: 'z' }, { issue: 'a', time: T(40) }, { issue: 'b', time: T(20) },
        ])
        await store.record(makeInput({ issue: 'b', time: T(10) }))
        // now a: 3 events, 1 user; b: 3 events, 1 user; c: 2 events, 2 users
        const a = issueId('a'), b = issueId('b'), c = issueId('c')
        const aAndB = [a, b].sort().reverse()
        assert.deepStrictEqual(ids((await store.listIssues({ sort: 'lastSeen' })).issues), [a, c, b])
        assert.deepStrictEqual(ids((await store.listIssues({ sort: 'firstSeen' })).issues), [b, c, a])
        assert.deepStrictEqual(ids((await store.listIssues({ sort: 'events' })).issues), [...aAndB, c])
        assert.deepStrictEqual(ids((await store.listIssues({ sort: 'users' })).issues), [c, ...aAndB])
      })

      it('breaks ties by id (descending), so equal rows keep one order', async (store) => {
        const names = ['p', 'q', 'r', 's', 't']
        await recordAll(store, names.map((issue) => ({ issue, time: T(7) })))
        const expected = names.map(issueId).sort().reverse()
        for (const sort of ['lastSeen', 'firstSeen', 'events', 'users'] as const) {
          assert.deepStrictEqual(ids((await store.listIssues({ sort })).issues), expected)
        }
      })

      it('returns 25 issues by default and at most 100', async (store) => {
        await recordAll(store, Array.from({ length: 105 }, (_, i) => ({ issue: `n${i}`, time: T(i) })))
        const first = await store.listIssues()
        assert.equal(first.issues.length, 25)
        assert.notEqual(first.nextCursor, null)
        assert.equal((await store.listIssues({ limit: 1000 })).issues.length, 100)
        assert.equal((await store.listIssues({ limit: 3 })).issues.length, 3)
      })

      it('refuses a bad limit, sort or status with a TypeError', async (store) => {
        for (const limit of [0, -1, Number.NaN, '10' as unknown as number]) await assert.rejects(store.listIssues({ limit }), TypeError)
        await assert.rejects(store.listIssues({ sort: 'title' as 'events' }), TypeError)
        await assert.rejects(store.listIssues({ status: 'open' as 'resolved' }), TypeError)
      })

      for (const sort of ['lastSeen', 'firstSeen', 'events', 'users'] as const) {
        it(`pages through every issue sorted by ${sort} with no duplicates or gaps`, async (store) => {
          // few distinct sort values, so pages split inside runs of ties
          const specs: EventSpec[] = []
          for (let i = 0; i < 40; i++) {
            for (let n = 0; n <= i % 3; n++) specs.push({ issue: `i${i}`, time: T(i % 4) + n * MINUTE, user: `u${n}` })
          }
          await recordAll(store, specs)
          const all = (await store.listIssues({ sort, limit: 100 })).issues
          assert.equal(all.length, 40)
          const seen: string[] = []
          let cursor: string | null = null
          let pages = 0
          do {
            const page: Awaited<ReturnType<Store['listIssues']>> = await store.listIssues({ sort, limit: 7, cursor })
            seen.push(...ids(page.issues))
            cursor = page.nextCursor
            pages++
          } while (cursor !== null && pages < 20)
          assert.equal(pages, 6)
          assert.deepStrictEqual(seen, ids(all))
          assert.equal(new Set(seen).size, 40)
        })
      }

      it('keeps later pages steady when an issue is recorded between pages', async (store) => {
        await recordAll(store, Array.from({ length: 10 }, (_, i) => ({ issue: `k${i}`, time: T(i) })))
        const first = await store.listIssues({ limit: 4 })
        await store.record(makeInput({ issue: 'newcomer', time: T(100) }))
        const rest: Issue[] = []
        let cursor = first.nextCursor
        while (cursor) {
          const page = await store.listIssues({ limit: 4, cursor })
          rest.push(...page.issues)
          cursor = page.nextCursor
        }
        assert.deepStrictEqual(ids([...first.issues, ...rest]), Array.from({ length: 10 }, (_, i) => issueId(`k${9 - i}`)))
      })

      it('refuses a cursor it did not issue, or one from another sort, with a TypeError', async (store) => {
        await recordAll(store, [{ issue: 'a' }, { issue: 'b' }])
        const { nextCursor } = await store.listIssues({ limit: 1 })
        assert.equal(typeof nextCursor, 'string')
        // the right shape with values no page could end on: a time past what a Date holds, a fraction
        const madeUp = [1e300, 1.5, 1e20].map((value) => Buffer.from(JSON.stringify(['lastSeen', value, 'abcdef0123456789'])).toString('base64url'))
        for (const cursor of ['garbage', '!!!', 'eyJ4Ijox', Buffer.from('[1,2]').toString('base64url'), 'x'.repeat(5000), ...madeUp]) {
          await assert.rejects(store.listIssues({ cursor }), TypeError)
        }
        await assert.rejects(store.listIssues({ sort: 'events', cursor: nextCursor }), TypeError)
        assert.equal((await store.listIssues({ cursor: null })).issues.length, 2)
      })
    })

    describe('search', () => {
      /** the five issues every search test looks through */
      const recordIssuesToSearch = (store: Store) => recordAll(store, [
        { issue: 'db', type: 'DatabaseError', message: 'connection reset by peer', culprit: 'query (lib/db.js)', environment: 'production', release: '2.0.0', tags: { browser: 'Chrome', job: 'nightly billing' }, level: 'error', time: T(1) },
        { issue: 'db', release: '2.1.0', environment: 'production', time: T(2), type: 'DatabaseError', message: 'connection reset by peer', tags: { browser: 'Firefox' } },
        { issue: 'db', release: '2.2.0', environment: 'production', time: T(3), type: 'DatabaseError', message: 'connection reset by peer', tags: {} },
        { issue: 'auth', type: 'AuthError', message: 'token expired', culprit: 'verify (lib/auth.js)', environment: 'staging', release: '2.1.0', tags: { browser: 'Safari' }, level: 'warning', time: T(4) },
        { issue: 'pay', type: 'TypeError', message: 'amount is undefined', culprit: 'charge (lib/pay.js)', environment: 'production', tags: { job: 'billing' }, level: 'fatal', time: T(5) },
      ])
      const db = issueId('db'), auth = issueId('auth'), pay = issueId('pay')
      /** every status */
      const search = async (store: Store, q: string) => ids((await store.listIssues({ q, status: 'all' })).issues).sort()
      /** no status given, as the panel's default tab */
      const searchTab = async (store: Store, q: string) => ids((await store.listIssues({ q })).issues).sort()

      it('matches free text against title, culprit, message and type, case-insensitively, all words required', async (store) => {
        await recordIssuesToSearch(store)
        assert.deepStrictEqual(await search(store, 'connection'), [db])
        assert.deepStrictEqual(await search(store, 'CONNECTION Reset'), [db])
        assert.deepStrictEqual(await search(store, 'connection expired'), [])
        assert.deepStrictEqual(await search(store, 'lib/auth.js'), [auth])
        assert.deepStrictEqual(await search(store, 'typeerror'), [pay])
        assert.deepStrictEqual(await search(store, 'lib'), [auth, db, pay].sort())
      })

      it('treats a quoted phrase as one word', async (store) => {
        await recordIssuesToSearch(store)
        assert.deepStrictEqual(await search(store, '"reset by peer"'), [db])
        assert.deepStrictEqual(await search(store, '"peer reset"'), [])
      })

      it('filters by is:resolved, is:ignored, is:unresolved and is:regressed, lifting the default status filter', async (store) => {
        await recordIssuesToSearch(store)
        await store.updateIssue(auth, { status: 'resolved' })
        await store.updateIssue(pay, { status: 'ignored' })
        assert.deepStrictEqual(await searchTab(store, 'is:resolved'), [auth])
        assert.deepStrictEqual(await searchTab(store, 'is:ignored'), [pay])
        assert.deepStrictEqual(await searchTab(store, 'is:unresolved'), [db])
        assert.deepStrictEqual(await searchTab(store, ''), [db])
        assert.deepStrictEqual(await searchTab(store, '-is:resolved'), [db])
        assert.deepStrictEqual(await search(store, 'is:regressed'), [])
        await store.record(makeInput({ issue: 'auth', type: 'AuthError', message: 'token expired', time: T(6) }))
        assert.deepStrictEqual(await search(store, 'is:regressed'), [auth])
        assert.deepStrictEqual(await search(store, 'is:nonsense'), [])
      })

      it('filters by environment:, release: (any release the issue was seen in) and level:', async (store) => {
        await recordIssuesToSearch(store)
        assert.deepStrictEqual(await search(store, 'environment:staging'), [auth])
        assert.deepStrictEqual(await search(store, 'environment:production'), [db, pay].sort())
        assert.deepStrictEqual(await search(store, 'release:2.1.0'), [auth, db].sort())
        assert.deepStrictEqual(await search(store, 'release:2.0.0'), [db])
        assert.deepStrictEqual(await search(store, 'level:fatal'), [pay])
        assert.deepStrictEqual(await search(store, 'level:warning'), [auth])
      })

      it('treats any other key as a tag, with quoted values and case-insensitive matching', async (store) => {
        await recordIssuesToSearch(store)
        assert.deepStrictEqual(await search(store, 'browser:chrome'), [db])
        assert.deepStrictEqual(await search(store, 'browser:firefox'), [db])
        assert.deepStrictEqual(await search(store, 'browser:safari'), [auth])
        assert.deepStrictEqual(await search(store, 'job:billing'), [pay])
        assert.deepStrictEqual(await search(store, 'job:"nightly billing"'), [db])
        assert.deepStrictEqual(await search(store, 'server_name:web-1'), [auth, db, pay].sort())
        assert.deepStrictEqual(await search(store, 'browser:edge'), [])
      })

      it('combines terms, and negates a term with a leading minus', async (store) => {
        await recordIssuesToSearch(store)
        assert.deepStrictEqual(await search(store, 'environment:production -browser:chrome'), [pay])
        assert.deepStrictEqual(await search(store, '-lib/db.js'), [auth, pay].sort())
        assert.deepStrictEqual(await search(store, '-"token expired" level:error'), [db])
        assert.deepStrictEqual(await search(store, 'connection release:2.2.0 browser:firefox'), [db])
      })

      it('never fails on odd queries', async (store) => {
        await recordIssuesToSearch(store)
        for (const q of ['"unbalanced', 'job:"unclosed', ':::', '"', '-', '- -', 'is:', 'a:b:c', '\u0000', '__proto__:x', 'constructor:prototype', 'x'.repeat(100_000), '(*&^%$#@!'] ) {
          const page = await store.listIssues({ q, status: 'all' })
          assert.equal(Array.isArray(page.issues), true)
        }
        assert.deepStrictEqual(await search(store, '"unbalanced reset'), [])
        assert.deepStrictEqual(await search(store, '"reset by'), [db])
      })

      it('counts matching issues per status tab', async (store) => {
        await recordIssuesToSearch(store)
        await store.updateIssue(auth, { status: 'resolved' })
        assert.deepStrictEqual(await store.countIssues(), { unresolved: 2, resolved: 1, ignored: 0, all: 3 })
        assert.deepStrictEqual(await store.countIssues('lib'), { unresolved: 2, resolved: 1, ignored: 0, all: 3 })
        assert.deepStrictEqual(await store.countIssues('environment:production'), { unresolved: 2, resolved: 0, ignored: 0, all: 2 })
        assert.deepStrictEqual(await store.countIssues('is:resolved'), { unresolved: 0, resolved: 1, ignored: 0, all: 1 })
        assert.deepStrictEqual(await store.countIssues('"nothing like this"'), { unresolved: 0, resolved: 0, ignored: 0, all: 0 })
      })
    })

    describe('events', () => {
      it('lists events newest first and pages through them with no duplicates or gaps', async (store) => {
        // two events share a timestamp: the order must still be stable
        const times = [T(1), T(5), T(3), T(3), T(9), T(7), T(2), T(8), T(6), T(4), T(10)]
        const inputs = times.map((time) => makeInput({ time }))
        for (const input of inputs) await store.record(input)
        const expected = [...inputs].sort((a, b) => Date.parse(b.event.timestamp) - Date.parse(a.event.timestamp) || (a.event.event_id < b.event.event_id ? 1 : -1)).map((i) => i.event.event_id)
        const seen: string[] = []
        let cursor: string | null = null
        do {
          const page: Awaited<ReturnType<Store['listEvents']>> = await store.listEvents(issueId('checkout'), { limit: 3, cursor })
          assert.ok(page.events.length <= 3, `a page asked for 3 events has ${page.events.length}`)
          seen.push(...page.events.map((e) => e.event_id))
          cursor = page.nextCursor
        } while (cursor !== null)
        assert.deepStrictEqual(seen, expected)
        assert.equal((await store.listEvents(issueId('checkout'))).events.length, 11)
      })

      it('refuses a garbage events cursor with a TypeError', async (store) => {
        await recordAll(store, [{}])
        await assert.rejects(store.listEvents(issueId('checkout'), { cursor: 'nonsense' }), TypeError)
      })

      it('returns the stored event as recorded', async (store) => {
        const input = makeInput({ user: 'alice', tags: { browser: 'chrome' }, release: '3.0.0' })
        await store.record(input)
        assert.deepStrictEqual(await store.getEvent(input.grouping.hash, input.event.event_id), JSON.parse(JSON.stringify(input.event)))
        assert.equal(await store.getEvent(input.grouping.hash, 'f'.repeat(32)), null)
        await store.record(makeInput({ issue: 'other' }))
        assert.equal(await store.getEvent(issueId('other'), input.event.event_id), null)
      })

      it('names the neighbours of an event: older and newer', async (store) => {
        const inputs = [makeInput({ time: T(1) }), makeInput({ time: T(2) }), makeInput({ time: T(3) })]
        for (const input of [inputs[1], inputs[2], inputs[0]]) await store.record(input)
        const [a, b, c] = inputs.map((i) => i.event.event_id)
        assert.deepStrictEqual(await store.eventNeighbors(issueId('checkout'), b), { older: a, newer: c })
        assert.deepStrictEqual(await store.eventNeighbors(issueId('checkout'), a), { older: null, newer: b })
        assert.deepStrictEqual(await store.eventNeighbors(issueId('checkout'), c), { older: b, newer: null })
        assert.equal(await store.eventNeighbors(issueId('checkout'), 'nope'), null)
      })
    })

    describe('retention and maintenance', () => {
      it('prunes the oldest events beyond maxEventsPerIssue and keeps counts exact', async (store) => {
        const inputs = Array.from({ length: 15 }, (_, i) => makeInput({ time: T(i), user: `u${i % 5}` }))
        for (const input of [...inputs].reverse()) await store.record(input)
        const result = await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 365 * DAY } })
        assert.equal(result.prunedEvents, 5)
        const kept = (await store.listEvents(issueId('checkout'), { limit: 100 })).events.map((e) => e.event_id)
        assert.deepStrictEqual(kept, inputs.slice(5).reverse().map((i) => i.event.event_id))
        assert.equal(await store.getEvent(issueId('checkout'), inputs[0].event.event_id), null)
        const issue = (await store.getIssue(issueId('checkout')))!
        assertMatches(issue, { count: 15, userCount: 5, firstSeen: iso(T(0)), lastSeen: iso(T(14)) })
        assert.equal((await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 365 * DAY } })).prunedEvents, 0)
        // counting goes on exactly after pruning
        const next = await store.record(makeInput({ time: T(20), user: 'u1' }))
        assertMatches(next.issue, { count: 16, userCount: 5 })
      })

      it('counts only kept events against maxEventsPerIssue, never shed ones', async (store) => {
        const inputs = Array.from({ length: 9 }, (_, i) => ({ ...makeInput({ time: T(i) }), shed: i % 3 !== 0 }))
        for (const input of inputs) await store.record(input)
        const retention = { maxEventsPerIssue: 3, maxAgeMs: 365 * DAY }
        assert.equal((await store.maintain({ retention })).prunedEvents, 0)
        const keptIds = inputs.filter((i) => !i.shed).map((i) => i.event.event_id).reverse()
        assert.deepStrictEqual((await store.listEvents(issueId('checkout'))).events.map((e) => e.event_id), keptIds)
        const newest = makeInput({ time: T(20) })
        await store.record(newest)
        assert.equal((await store.maintain({ retention })).prunedEvents, 1)
        assert.deepStrictEqual((await store.listEvents(issueId('checkout'))).events.map((e) => e.event_id), [newest.event.event_id, ...keptIds.slice(0, 2)])
        assertMatches(await store.getIssue(issueId('checkout')), { count: 10, shed: 6 })
      })

      it('prunes events older than maxAgeMs, in every issue', async (store) => {
        await recordAll(store, [{ issue: 'a', time: T(0) }, { issue: 'a', time: T(60) }, { issue: 'a', time: T(200) }, { issue: 'b', time: T(10) }])
        const result = await store.maintain({ now: new Date(T(300)), retention: { maxEventsPerIssue: 100, maxAgeMs: 120 * MINUTE } })
        assert.equal(result.prunedEvents, 3)
        assert.deepStrictEqual((await store.listEvents(issueId('a'))).events.map((e) => e.timestamp), [iso(T(200))])
        assert.deepStrictEqual((await store.listEvents(issueId('b'))).events, [])
        assert.equal((await store.getIssue(issueId('b')))!.count, 1)
        assert.equal((await store.getIssue(issueId('a')))!.count, 3)
      })

      it('auto-resolves unresolved issues last seen before autoResolveBefore, all in one sweep', async (store) => {
        await recordAll(store, [{ issue: 'old1', time: T(0) }, { issue: 'old2', time: T(5) }, { issue: 'fresh', time: T(100) }, { issue: 'ignoredOld', time: T(1) }])
        await store.updateIssue(issueId('ignoredOld'), { status: 'ignored' })
        const result = await store.maintain({ now: new Date(T(120)), autoResolveBefore: new Date(T(50)) })
        assert.equal(result.resolvedIssues, 2)
        assertMatches((await store.getIssue(issueId('old1')))!, { status: 'resolved', resolvedAt: iso(T(120)) })
        assert.equal((await store.getIssue(issueId('old2')))!.status, 'resolved')
        assert.equal((await store.getIssue(issueId('fresh')))!.status, 'unresolved')
        assert.equal((await store.getIssue(issueId('ignoredOld')))!.status, 'ignored')
        const back = await store.record(makeInput({ issue: 'old1', time: T(130) }))
        assert.equal(back.isRegression, true)
      })

      it('does nothing harmful on an empty store or with no options', async (store) => {
        assert.deepStrictEqual(await store.maintain({}), { prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 })
      })
    })

    describe('updateIssue', () => {
      it('resolves: sets resolvedAt and clears regressed', async (store) => {
        await recordAll(store, [{ time: T(1) }])
        await store.updateIssue(issueId('checkout'), { status: 'resolved' })
        await recordAll(store, [{ time: T(2) }])
        assert.equal((await store.getIssue(issueId('checkout')))!.regressed, true)
        const before = Date.now()
        const issue = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        assert.equal(issue.regressed, false)
        assert.ok(Date.parse(issue.resolvedAt!) >= before - 1000, `resolvedAt ${issue.resolvedAt} is before the update at ${iso(before)}`)
        assert.ok(Date.parse(issue.resolvedAt!) <= Date.now() + 1000, `resolvedAt ${issue.resolvedAt} is in the future`)
        assert.deepStrictEqual(await store.getIssue(issueId('checkout')), issue)
      })

      it('ignores until N more events, then reopens on the Nth', async (store) => {
        await recordAll(store, [{ time: T(1) }, { time: T(2) }])
        const ignored = (await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { events: 3 } }))!
        assertMatches(ignored, { status: 'ignored', ignoreUntil: { count: 5 } })
        const results = await recordAll(store, [{ time: T(3) }, { time: T(4) }, { time: T(5) }, { time: T(6) }])
        assert.deepStrictEqual(results.map((r) => [r.issue.status, r.unignored]), [['ignored', false], ['ignored', false], ['unresolved', true], ['unresolved', false]])
        assert.equal(results[2].issue.ignoreUntil, null)
        assert.equal(results[2].isRegression, false)
      })

      it('ignores until N more users are affected', async (store) => {
        await recordAll(store, [{ user: 'a' }, { user: 'b' }])
        assert.deepStrictEqual((await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { users: 2 } }))!.ignoreUntil, { userCount: 4 })
        const results = await recordAll(store, [{ user: 'a' }, { user: 'c' }, { user: 'c' }, { user: null }, { user: 'd' }])
        assert.deepStrictEqual(results.map((r) => r.unignored), [false, false, false, false, true])
        assert.equal(results[4].issue.status, 'unresolved')
      })

      it('ignores for a duration: events inside it stay ignored, the first after it reopens', async (store) => {
        await recordAll(store, [{}])
        const before = Date.now()
        const ignored = (await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { for: '1h' } }))!
        const at = Date.parse(ignored.ignoreUntil!.at!)
        assert.ok(at >= before + HOUR - 1000, `ignoreUntil.at ${ignored.ignoreUntil!.at} is less than 1h after the update at ${iso(before)}`)
        assert.ok(at <= Date.now() + HOUR + 1000, `ignoreUntil.at ${ignored.ignoreUntil!.at} is more than 1h from now`)
        assert.equal((await store.record(makeInput({ time: Date.now() }))).unignored, false)
        const after = await store.record(makeInput({ time: at + MINUTE }))
        assert.equal(after.unignored, true)
        assertMatches(after.issue, { status: 'unresolved', ignoreUntil: null })
      })

      it('lifts an ignore whose time has passed in maintain', async (store) => {
        await recordAll(store, [{ issue: 'a' }, { issue: 'b' }])
        await store.updateIssue(issueId('a'), { status: 'ignored', until: { for: '30m' } })
        await store.updateIssue(issueId('b'), { status: 'ignored', until: { for: '3h' } })
        assert.equal((await store.maintain({ now: new Date(Date.now() + 10 * MINUTE) })).unignoredIssues, 0)
        const result = await store.maintain({ now: new Date(Date.now() + HOUR) })
        assert.equal(result.unignoredIssues, 1)
        assertMatches((await store.getIssue(issueId('a')))!, { status: 'unresolved', ignoreUntil: null })
        assert.equal((await store.getIssue(issueId('b')))!.status, 'ignored')
      })

      it('ignores forever without until; reopening clears the ignore', async (store) => {
        await recordAll(store, [{}])
        assertMatches((await store.updateIssue(issueId('checkout'), { status: 'ignored', until: null }))!, { status: 'ignored', ignoreUntil: null })
        await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { events: 5 } })
        const reopened = (await store.updateIssue(issueId('checkout'), { status: 'unresolved' }))!
        assertMatches(reopened, { status: 'unresolved', ignoreUntil: null })
      })

      it('refuses an invalid update with a TypeError that says what is wrong', async (store) => {
        await recordAll(store, [{}])
        const id = issueId('checkout')
        await assert.rejects(store.updateIssue(id, { status: 'closed' as 'resolved' }), { message: /status/ })
        await assert.rejects(store.updateIssue(id, { status: 'resolved', until: { events: 3 } }), { message: /until/ })
        await assert.rejects(store.updateIssue(id, { status: 'ignored', until: { for: 'soon' } }), { message: /duration/ })
        await assert.rejects(store.updateIssue(id, { status: 'ignored', until: { events: 0 } }), TypeError)
        await assert.rejects(store.updateIssue(id, { status: 'ignored', until: { minutes: 3 } as unknown as { events: number } }), TypeError)
        await assert.rejects(store.updateIssue(id, null as unknown as { status: 'resolved' }), TypeError)
        assert.equal((await store.getIssue(id))!.status, 'unresolved')
      })
    })

    describe('histogram and counts over time', () => {
      it('counts events per hour, oldest bucket first, splitting exactly at the hour', async (store) => {
        const h = (hours: number, ms = 0) => DAY0 + hours * HOUR + ms
        await recordAll(store, [{ time: h(10) - 1 }, { time: h(10) }, { time: h(10, 59 * MINUTE) }, { time: h(11) }, { time: h(12, 1) }, { time: h(12, 2) }, { time: h(13) }])
        assert.deepStrictEqual(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 4, now: new Date(h(12, 30 * MINUTE)) }), [1, 2, 1, 2])
        assert.deepStrictEqual(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 1, now: new Date(h(13)) }), [1])
        assert.deepStrictEqual(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 24, now: new Date(h(20)) }), [...Array(12).fill(0), 1, 2, 1, 2, 1, ...Array(7).fill(0)])
      })

      it('counts events per UTC day, oldest bucket first', async (store) => {
        await recordAll(store, [{ time: DAY0 - 1 }, { time: DAY0 }, { time: DAY0 + DAY - 1 }, { time: DAY0 + DAY }, { time: DAY0 + 2 * DAY + HOUR }])
        assert.deepStrictEqual(await store.histogram(issueId('checkout'), { interval: 'day', buckets: 4, now: new Date(DAY0 + 2 * DAY + 2 * HOUR) }), [1, 2, 1, 1])
        assert.equal((await store.histogram(issueId('checkout'), { interval: 'day', buckets: 30 })).length, 30)
      })

      it('refuses bad histogram options with a TypeError', async (store) => {
        await recordAll(store, [{}])
        await assert.rejects(store.histogram(issueId('checkout'), { interval: 'week' as 'day', buckets: 3 }), TypeError)
        await assert.rejects(store.histogram(issueId('checkout'), { interval: 'hour', buckets: 0 }), TypeError)
        await assert.rejects(store.histogram(issueId('checkout'), { interval: 'hour', buckets: 1e9 }), TypeError)
      })

      it('counts events since a time within the last 24 hours', async (store) => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        await recordAll(store, [{ time: m - 23 * HOUR }, { time: m - 90 * MINUTE }, { time: m - 30 * MINUTE }, { time: m - 5 * MINUTE }, { time: m - 5 * MINUTE + 30_000 }, { issue: 'other', time: m - MINUTE }])
        const id = issueId('checkout')
        assert.equal(await store.countEventsSince(id, new Date(m - 30 * MINUTE)), 3)
        assert.equal(await store.countEventsSince(id, new Date(m - HOUR)), 3)
        assert.equal(await store.countEventsSince(id, new Date(m - 2 * HOUR)), 4)
        assert.equal(await store.countEventsSince(id, new Date(m - 24 * HOUR)), 5)
        assert.equal(await store.countEventsSince(id, new Date(m - 4 * MINUTE)), 0)
        assert.equal(await store.countEventsSince(id, new Date(m + HOUR)), 0)
      })

      it('counts a recent window from its exact start, not from the start of its first minute', async (store) => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE
        await recordAll(store, [{ time: m + 10_000 }, { time: m + 40_000 }, { time: m + 50_000 }])
        const id = issueId('checkout')
        // whole minutes would say 3 for both
        assert.equal(await store.countEventsSince(id, new Date(m + 30_000)), 2)
        assert.equal(await store.countEventsSince(id, new Date(m + 50_000)), 1)
      })
    })

    describe('tagBreakdown', () => {
      it('lists each tag key with its total and top values, keys by total and values by count', async (store) => {
        await recordAll(store, [
          { tags: { browser: 'chrome', os: 'linux' }, environment: 'production' },
          { tags: { browser: 'chrome' }, environment: 'production' },
          { tags: { browser: 'firefox', os: 'mac' }, environment: 'staging' },
          { tags: { browser: 'safari' }, environment: 'production' },
          { tags: { browser: 'chrome', os: 'linux' }, environment: 'production' },
        ])
        const tags = await store.tagBreakdown(issueId('checkout'))
        const browser = tags.find((t) => t.key === 'browser')!
        assert.deepStrictEqual(browser, { key: 'browser', total: 5, values: [{ value: 'chrome', count: 3 }, { value: 'firefox', count: 1 }, { value: 'safari', count: 1 }] })
        assert.deepStrictEqual(tags.find((t) => t.key === 'os'), { key: 'os', total: 3, values: [{ value: 'linux', count: 2 }, { value: 'mac', count: 1 }] })
        assert.deepStrictEqual(tags.find((t) => t.key === 'environment'), { key: 'environment', total: 5, values: [{ value: 'production', count: 4 }, { value: 'staging', count: 1 }] })
        assert.deepStrictEqual(tags.find((t) => t.key === 'server_name'), { key: 'server_name', total: 5, values: [{ value: 'web-1', count: 5 }] })
        const totals = tags.map((t) => t.total)
        assert.deepStrictEqual(totals, [...totals].sort((a, b) => b - a))
        assert.equal(tags[tags.length - 1].key, 'os')
        const limited = await store.tagBreakdown(issueId('checkout'), { limit: 1 })
        assert.deepStrictEqual(limited.find((t) => t.key === 'browser')!.values, [{ value: 'chrome', count: 3 }])
      })

      it('keeps tag counts exact after events are pruned', async (store) => {
        await recordAll(store, Array.from({ length: 6 }, (_, i) => ({ time: T(i), tags: { browser: i < 4 ? 'chrome' : 'firefox' } })))
        await store.maintain({ retention: { maxEventsPerIssue: 2, maxAgeMs: 365 * DAY } })
        const browser = (await store.tagBreakdown(issueId('checkout'))).find((t) => t.key === 'browser')!
        assert.deepStrictEqual(browser.values, [{ value: 'chrome', count: 4 }, { value: 'firefox', count: 2 }])
        assertMatches(await store.listIssues({ q: 'browser:chrome' }), { issues: [{ id: issueId('checkout') }] })
      })
    })

    describe('deleteIssue', () => {
      it('removes the issue, its events and its alert claims', async (store) => {
        const input = makeInput({ issue: 'gone' })
        await store.record(input)
        await recordAll(store, [{ issue: 'stays' }])
        const id = issueId('gone')
        assert.equal(await store.claimAlert(`new:${id}`, { issueId: id }), true)
        assert.equal(await store.claimAlert(`new:${issueId('stays')}`, { issueId: issueId('stays') }), true)
        assert.equal(await store.deleteIssue(id), true)
        assert.equal(await store.getIssue(id), null)
        assert.equal(await store.getEvent(id, input.event.event_id), null)
        assert.deepStrictEqual(await store.listEvents(id), { events: [], nextCursor: null })
        assert.deepStrictEqual(ids((await store.listIssues({ status: 'all' })).issues), [issueId('stays')])
        assert.equal(await store.claimAlert(`new:${id}`, { issueId: id }), true)
        assert.equal(await store.claimAlert(`new:${issueId('stays')}`, { issueId: issueId('stays') }), false)
        assert.equal(await store.deleteIssue(id), false)
        // the same fingerprint starts a brand-new issue
        const again = await store.record(makeInput({ issue: 'gone' }))
        assert.equal(again.isNew, true)
        assert.equal(again.issue.count, 1)
      })
    })

    describe('claimAlert', () => {
      it('is true only for the first claim of a key', async (store) => {
        const id = issueId('checkout')
        assert.equal(await store.claimAlert('regression:1', { issueId: id }), true)
        assert.equal(await store.claimAlert('regression:1', { issueId: id }), false)
        assert.equal(await store.claimAlert('regression:2', { issueId: id }), true)
      })

      it('gives exactly one of many concurrent claims', async (store) => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimAlert('storm', { issueId: issueId('checkout') })))
        assert.equal(results.filter(Boolean).length, 1)
      })

      it('lets an expired claim be claimed again, and not a standing one', async (store) => {
        const id = issueId('checkout')
        assert.equal(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() - 1000) }), true)
        assert.equal(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() + HOUR) }), true)
        assert.equal(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() + HOUR) }), false)
        assert.equal(await store.claimAlert('throttle:a', { issueId: id }), false)
      })
    })

    historyConformance(describe, it, T)

    it('flushes and closes, and a second close is harmless', async (store) => {
      await recordAll(store, [{}])
      if (store.flush) assert.equal(await store.flush(), undefined)
      assert.equal(await store.close(), undefined)
      assert.equal(await store.close(), undefined)
    })
  })
}
