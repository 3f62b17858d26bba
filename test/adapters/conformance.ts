/**
 * The store conformance suite: the definition of a correct store. Every store runs it:
 *
 *   storeConformance('memory', async () => memoryStore())
 *
 * `makeStore` must return a fresh, empty store for each test; `cleanup` (default: close it)
 * runs after each test. Event times are built around the real clock, because some methods
 * (countEventsSince, ignores `for` a duration, alert claim expiry) measure from "now".
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FaultlineEvent, Issue, Level, RecordInput, Store } from '../../lib/types.js'

export const MINUTE = 60_000
export const HOUR = 3_600_000
export const DAY = 86_400_000

/** A stable 16-hex issue id for a readable name, as grouping would make. */
export function issueId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 16)
}

export interface EventSpec {
  /** the issue's name (its id is issueId(issue)); default 'checkout' */
  issue?: string
  time?: number | string | Date
  user?: string | null
  release?: string
  environment?: string
  level?: Level
  tags?: Record<string, string>
  title?: string
  culprit?: string
  type?: string
  message?: string
  serverName?: string
}

/** A realistic RecordInput, as the tracker would hand it to a store. */
export function makeInput(spec: EventSpec = {}): RecordInput {
  const name = spec.issue ?? 'checkout'
  const type = spec.type ?? 'TypeError'
  const message = spec.message ?? `Cannot read properties of undefined (reading '${name}')`
  const time = spec.time === undefined ? Date.now() : new Date(spec.time).getTime()
  const user = spec.user === undefined ? null : spec.user
  const level = spec.level ?? 'error'
  const event: FaultlineEvent = {
    event_id: randomBytes(16).toString('hex'),
    timestamp: new Date(time).toISOString(),
    level,
    exception: {
      type,
      value: message,
      stacktrace: {
        frames: [
          { function: 'processTicksAndRejections', filename: 'node:internal/process/task_queues', lineno: 95, colno: 5, in_app: false },
          { function: 'handle', filename: 'routes/orders.js', lineno: 41, colno: 12, in_app: true, pre_context: ['async function handle (req, res) {', '  const order = await load(req.params.id)'], context_line: `  res.json(order.${name}.total)`, post_context: ['}'] },
        ],
      },
      mechanism: { type: 'middleware', handled: false },
    },
    message: undefined,
    tags: spec.tags ?? {},
    extra: { orderId: 1234, cart: { items: 3 } },
    user: user === null ? undefined : { id: user, email: `${user}@example.com` },
    request: { method: 'GET', url: `https://shop.example.com/orders/1234`, headers: { 'user-agent': 'Mozilla/5.0', accept: 'application/json' }, query_string: 'expand=items' },
    contexts: { runtime: { name: 'node', version: process.version } },
    breadcrumbs: [{ timestamp: new Date(time - 1000).toISOString(), category: 'http', message: 'GET /orders/1234', level: 'info' }],
    environment: spec.environment ?? 'production',
    release: spec.release,
    server_name: spec.serverName ?? 'web-1',
    fingerprint: ['{{ default }}'],
    transaction: 'GET /orders/:id',
  }
  return {
    event,
    grouping: {
      hash: issueId(name),
      fingerprint: [type, 'routes/orders.js', 'handle'],
      title: spec.title ?? `${type}: ${message}`,
      culprit: spec.culprit ?? `handle (routes/orders.js)`,
      type,
      message,
      level,
    },
    userKey: user,
  }
}

const iso = (ms: number) => new Date(ms).toISOString()
const ids = (issues: Issue[]) => issues.map((i) => i.id)

/** Runs the whole suite against one kind of store. */
export function storeConformance(name: string, makeStore: () => Promise<Store>, cleanup: (store: Store) => Promise<void> = (s) => s.close()): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store
    /** the start of a UTC day two days ago: histogram boundaries are easy to name from it */
    const DAY0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY
    const T = (minutes: number) => DAY0 + minutes * MINUTE

    beforeEach(async () => {
      store = await makeStore()
    })
    afterEach(async () => {
      await cleanup(store)
    })

    async function recordAll(specs: EventSpec[]) {
      const results = []
      for (const spec of specs) results.push(await store.record(makeInput(spec)))
      return results
    }

    describe('record', () => {
      it('creates an unresolved issue from the first event of a fingerprint', async () => {
        const input = makeInput({ issue: 'a', time: T(10), user: 'u1', release: '1.0.0', level: 'warning' })
        const result = await store.record(input)
        expect(result.isNew).toBe(true)
        expect(result.isRegression).toBe(false)
        expect(result.unignored).toBe(false)
        expect(result.issue).toMatchObject({
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
        })
        expect(await store.getIssue(issueId('a'))).toEqual(result.issue)
      })

      it('adds later events of the same fingerprint to the same issue, and keeps other fingerprints apart', async () => {
        const [first, second, third] = await recordAll([{ issue: 'a', time: T(1) }, { issue: 'a', time: T(2) }, { issue: 'b', time: T(3) }])
        expect(first.isNew).toBe(true)
        expect(second.isNew).toBe(false)
        expect(second.issue.count).toBe(2)
        expect(third.isNew).toBe(true)
        expect(third.issue.count).toBe(1)
        expect((await store.getIssue(issueId('a')))!.count).toBe(2)
      })

      it('counts distinct users by userKey, and events without a user add no user', async () => {
        await recordAll([{ user: 'alice' }, { user: 'bob' }, { user: 'alice' }, { user: null }, { user: 'carol' }, { user: null }])
        const issue = (await store.getIssue(issueId('checkout')))!
        expect(issue.count).toBe(6)
        expect(issue.userCount).toBe(3)
        expect(issue.usersSinceRegression).toBe(3)
      })

      it('keeps exact counts when many events of one issue are recorded at once', async () => {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.record(makeInput({ issue: 'storm', user: `u${i % 7}` }))))
        expect(results.filter((r) => r.isNew)).toHaveLength(1)
        const issue = (await store.getIssue(issueId('storm')))!
        expect(issue.count).toBe(40)
        expect(issue.userCount).toBe(7)
        expect((await store.listEvents(issueId('storm'), { limit: 100 })).events).toHaveLength(40)
      })

      it('takes first and last seen from event times, even when events arrive out of order', async () => {
        await recordAll([{ time: T(50) }, { time: T(20) }, { time: T(80) }, { time: T(60) }])
        const issue = (await store.getIssue(issueId('checkout')))!
        expect(issue.firstSeen).toBe(iso(T(20)))
        expect(issue.lastSeen).toBe(iso(T(80)))
      })

      it('takes first and last release from the earliest and latest events that carry one', async () => {
        await recordAll([{ time: T(5), release: '1.1.0' }, { time: T(1), release: '1.0.0' }, { time: T(9), release: '1.2.0' }, { time: T(20) }, { time: T(7), release: '1.1.5' }])
        const issue = (await store.getIssue(issueId('checkout')))!
        expect(issue.firstRelease).toBe('1.0.0')
        expect(issue.lastRelease).toBe('1.2.0')
      })

      it('leaves releases null when no event carried one', async () => {
        const [result] = await recordAll([{ time: T(5) }])
        expect(result.issue.firstRelease).toBeNull()
        expect(result.issue.lastRelease).toBeNull()
      })

      it('lists each environment once, in the order first seen', async () => {
        await recordAll([{ environment: 'production' }, { environment: 'staging' }, { environment: 'production' }, { environment: 'development' }])
        expect((await store.getIssue(issueId('checkout')))!.environments).toEqual(['production', 'staging', 'development'])
      })

      it("takes the issue's level from its latest event", async () => {
        await recordAll([{ time: T(1), level: 'error' }, { time: T(3), level: 'fatal' }, { time: T(2), level: 'warning' }])
        expect((await store.getIssue(issueId('checkout')))!.level).toBe('fatal')
      })

      it('reopens a resolved issue as a regression and restarts the since-regression counts', async () => {
        await recordAll([{ time: T(1), user: 'alice' }, { time: T(2), user: 'bob' }, { time: T(3), user: 'alice' }])
        const resolved = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        expect(resolved.status).toBe('resolved')
        expect(resolved.resolvedAt).not.toBeNull()

        const back = await store.record(makeInput({ time: T(30), user: 'alice' }))
        expect(back.isNew).toBe(false)
        expect(back.isRegression).toBe(true)
        expect(back.issue).toMatchObject({ status: 'unresolved', regressed: true, regressedAt: iso(T(30)), count: 4, userCount: 2, countSinceRegression: 1, usersSinceRegression: 1 })

        const next = await recordAll([{ time: T(31), user: 'carol' }, { time: T(32), user: 'alice' }, { time: T(33) }])
        expect(next.every((r) => !r.isRegression)).toBe(true)
        expect(next[2].issue).toMatchObject({ count: 7, userCount: 3, countSinceRegression: 4, usersSinceRegression: 2 })

        const again = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        expect(again.regressed).toBe(false)
        const twice = await store.record(makeInput({ time: T(40), user: 'bob' }))
        expect(twice.isRegression).toBe(true)
        expect(twice.issue).toMatchObject({ regressedAt: iso(T(40)), countSinceRegression: 1, usersSinceRegression: 1, userCount: 3 })
      })

      it('keeps counting an ignored issue without reopening it', async () => {
        await recordAll([{ time: T(1) }])
        await store.updateIssue(issueId('checkout'), { status: 'ignored' })
        const results = await recordAll([{ time: T(2), user: 'a' }, { time: T(3), user: 'b' }])
        expect(results.map((r) => [r.isRegression, r.unignored, r.issue.status])).toEqual([[false, false, 'ignored'], [false, false, 'ignored']])
        expect((await store.getIssue(issueId('checkout')))!).toMatchObject({ status: 'ignored', count: 3, userCount: 2 })
      })

      it('counts a shed record in full (count, users, tags, histogram, recent count, issue.shed) and keeps no event of it', async () => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        const id = issueId('checkout')
        const kept = makeInput({ time: m - 2 * MINUTE, user: 'alice', tags: { browser: 'chrome' }, release: '1.0.0' })
        const shed: RecordInput = { ...makeInput({ time: m - MINUTE, user: 'bob', tags: { browser: 'firefox' }, release: '2.0.0', level: 'fatal' }), shed: true }
        await store.record(kept)
        const result = await store.record(shed)
        expect(result).toMatchObject({ isNew: false, isRegression: false })
        expect(result.issue).toMatchObject({ count: 2, userCount: 2, shed: 1, level: 'fatal', lastSeen: iso(m - MINUTE), lastRelease: '2.0.0', countSinceRegression: 2 })
        expect(await store.getIssue(id)).toEqual(result.issue)
        expect((await store.tagBreakdown(id)).find((t) => t.key === 'browser')).toEqual({ key: 'browser', total: 2, values: [{ value: 'chrome', count: 1 }, { value: 'firefox', count: 1 }] })
        expect((await store.histogram(id, { interval: 'day', buckets: 2 })).reduce((a, b) => a + b)).toBe(2)
        expect(await store.countEventsSince(id, new Date(m - HOUR))).toBe(2)
        expect(ids((await store.listIssues({ q: 'browser:firefox release:2.0.0' })).issues)).toEqual([id])
        // counted, never shown
        expect((await store.listEvents(id)).events.map((e) => e.event_id)).toEqual([kept.event.event_id])
        expect(await store.getEvent(id, shed.event.event_id)).toBeNull()
        expect(await store.eventNeighbors(id, kept.event.event_id)).toEqual({ older: null, newer: null })
        expect(await store.eventNeighbors(id, shed.event.event_id)).toBeNull()
        // a shed event reopens a resolved issue as any other does
        await store.updateIssue(id, { status: 'resolved' })
        const back = await store.record({ ...makeInput({ time: m, user: 'carol' }), shed: true })
        expect(back).toMatchObject({ isRegression: true, issue: { status: 'unresolved', count: 3, userCount: 3, shed: 2, countSinceRegression: 1, usersSinceRegression: 1 } })
      })

      it('counts a folded shed record (times) as that many errors, and reopens a resolved issue once', async () => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        const id = issueId('checkout')
        await store.record(makeInput({ time: m - 2 * MINUTE, user: 'alice', tags: { browser: 'chrome' } }))
        await store.updateIssue(id, { status: 'resolved' })
        const folded: RecordInput = { ...makeInput({ time: m - MINUTE, user: 'bob', tags: { browser: 'firefox' } }), shed: true, times: 40 }
        const result = await store.record(folded)
        expect(result).toMatchObject({ isNew: false, isRegression: true })
        expect(result.issue).toMatchObject({ status: 'unresolved', count: 41, userCount: 2, shed: 40, countSinceRegression: 40, usersSinceRegression: 1 })
        expect(await store.getIssue(id)).toEqual(result.issue)
        expect((await store.tagBreakdown(id)).find((t) => t.key === 'browser')).toEqual({ key: 'browser', total: 41, values: [{ value: 'firefox', count: 40 }, { value: 'chrome', count: 1 }] })
        expect((await store.histogram(id, { interval: 'day', buckets: 2 })).reduce((a, b) => a + b)).toBe(41)
        expect(await store.countEventsSince(id, new Date(m - HOUR))).toBe(41)
        expect((await store.listEvents(id)).events).toHaveLength(1)
        // a fold that creates its issue is new, and counts in full
        const fresh = await store.record({ ...makeInput({ issue: 'refund', time: m }), shed: true, times: 7 })
        expect(fresh).toMatchObject({ isNew: true, issue: { count: 7, shed: 7, userCount: 0 } })
      })

      it('counts tags cut to the lengths events carry (keys 32, values 200), the same in every store', async () => {
        const key = 'k'.repeat(40)
        await store.record(makeInput({ tags: { [key]: 'v'.repeat(250), [`${'k'.repeat(32)}-other`]: 'second', plan: 'pro' } }))
        const tags = await store.tagBreakdown(issueId('checkout'))
        expect(tags.find((t) => t.key === 'k'.repeat(32))).toEqual({ key: 'k'.repeat(32), total: 1, values: [{ value: 'v'.repeat(200), count: 1 }] })
        expect(tags.map((t) => t.key).sort()).toEqual(['environment', 'k'.repeat(32), 'level', 'plan', 'server_name'].sort())
      })

      it('refuses times that is not a whole number of at least 1, or above 1 on a kept event', async () => {
        for (const times of [0, -2, 1.5, Number.NaN, '3' as unknown as number]) {
          await expect(store.record({ ...makeInput(), shed: true, times })).rejects.toThrow(TypeError)
        }
        await expect(store.record({ ...makeInput(), times: 2 })).rejects.toThrow(TypeError)
        expect((await store.listIssues()).issues).toEqual([])
      })

      it('refuses an input without a grouping hash or event id', async () => {
        const input = makeInput()
        await expect(store.record({ ...input, grouping: { ...input.grouping, hash: '' } })).rejects.toThrow(TypeError)
        await expect(store.record({ ...input, event: { ...input.event, event_id: undefined as unknown as string } })).rejects.toThrow(TypeError)
        await expect(store.record(null as unknown as RecordInput)).rejects.toThrow(TypeError)
        expect(await store.getIssue(input.grouping.hash)).toBeNull()
      })
    })

    describe('lookups', () => {
      it('returns null for unknown ids, prototype names and odd strings', async () => {
        await recordAll([{ issue: 'a' }])
        for (const id of ['0123456789abcdef', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'x'.repeat(100_000), '../../etc/passwd', 'a\u0000b']) {
          expect(await store.getIssue(id)).toBeNull()
          expect(await store.updateIssue(id, { status: 'resolved' })).toBeNull()
          expect(await store.deleteIssue(id)).toBe(false)
          expect(await store.getEvent(id, 'x')).toBeNull()
          expect(await store.eventNeighbors(id, 'x')).toBeNull()
          expect(await store.listEvents(id)).toEqual({ events: [], nextCursor: null })
          expect(await store.histogram(id, { interval: 'hour', buckets: 3 })).toEqual([0, 0, 0])
          expect(await store.countEventsSince(id, new Date(0))).toBe(0)
          expect(await store.tagBreakdown(id)).toEqual([])
        }
        expect(await store.getEvent(issueId('a'), '__proto__')).toBeNull()
        expect(await store.eventNeighbors(issueId('a'), 'constructor')).toBeNull()
      })

      it('hands out copies: changing a returned issue or event, or the recorded input, changes nothing stored', async () => {
        const input = makeInput({ tags: { browser: 'chrome' } })
        const result = await store.record(input)
        result.issue.count = 999
        result.issue.environments.push('hacked')
        input.event.tags.browser = 'changed'
        input.event.exception!.value = 'changed'
        const issue = (await store.getIssue(input.grouping.hash))!
        expect(issue.count).toBe(1)
        issue.fingerprint.push('x')
        const listed = (await store.listIssues()).issues[0]
        expect(listed.count).toBe(1)
        expect(listed.environments).toEqual(['production'])
        expect(listed.fingerprint).toEqual(input.grouping.fingerprint)
        const event = (await store.getEvent(input.grouping.hash, input.event.event_id))!
        expect(event.tags.browser).toBe('chrome')
        expect(event.exception!.value).not.toBe('changed')
        event.tags.browser = 'mutated'
        expect((await store.getEvent(input.grouping.hash, input.event.event_id))!.tags.browser).toBe('chrome')
      })
    })

    describe('listIssues', () => {
      it('lists unresolved issues by default, most recently seen first', async () => {
        await recordAll([{ issue: 'a', time: T(1) }, { issue: 'b', time: T(3) }, { issue: 'c', time: T(2) }, { issue: 'd', time: T(4) }])
        await store.updateIssue(issueId('d'), { status: 'resolved' })
        const page = await store.listIssues()
        expect(ids(page.issues)).toEqual([issueId('b'), issueId('c'), issueId('a')])
        expect(page.nextCursor).toBeNull()
      })

      it('filters by status, or lists every status with all', async () => {
        await recordAll([{ issue: 'a', time: T(1) }, { issue: 'b', time: T(2) }, { issue: 'c', time: T(3) }])
        await store.updateIssue(issueId('a'), { status: 'resolved' })
        await store.updateIssue(issueId('b'), { status: 'ignored' })
        expect(ids((await store.listIssues({ status: 'resolved' })).issues)).toEqual([issueId('a')])
        expect(ids((await store.listIssues({ status: 'ignored' })).issues)).toEqual([issueId('b')])
        expect(ids((await store.listIssues({ status: 'unresolved' })).issues)).toEqual([issueId('c')])
        expect(ids((await store.listIssues({ status: 'all' })).issues)).toEqual([issueId('c'), issueId('b'), issueId('a')])
      })

      it('sorts by last seen, first seen, events and users, descending', async () => {
        // a: first T1, last T50; b: first T5, last T20; c: first T2, last T30
        await recordAll([
          { issue: 'a', time: T(1), user: 'x' }, { issue: 'c', time: T(2), user: 'x' }, { issue: 'b', time: T(5), user: 'y' },
          { issue: 'a', time: T(50), user: 'x' }, { issue: 'c', time: T(30), user: 'z' }, { issue: 'a', time: T(40) }, { issue: 'b', time: T(20) },
        ])
        await store.record(makeInput({ issue: 'b', time: T(10) }))
        // now a: 3 events, 1 user; b: 3 events, 1 user; c: 2 events, 2 users
        const a = issueId('a'), b = issueId('b'), c = issueId('c')
        const aAndB = [a, b].sort().reverse()
        expect(ids((await store.listIssues({ sort: 'lastSeen' })).issues)).toEqual([a, c, b])
        expect(ids((await store.listIssues({ sort: 'firstSeen' })).issues)).toEqual([b, c, a])
        expect(ids((await store.listIssues({ sort: 'events' })).issues)).toEqual([...aAndB, c])
        expect(ids((await store.listIssues({ sort: 'users' })).issues)).toEqual([c, ...aAndB])
      })

      it('breaks ties by id (descending), so equal rows keep one order', async () => {
        const names = ['p', 'q', 'r', 's', 't']
        await recordAll(names.map((issue) => ({ issue, time: T(7) })))
        const expected = names.map(issueId).sort().reverse()
        for (const sort of ['lastSeen', 'firstSeen', 'events', 'users'] as const) {
          expect(ids((await store.listIssues({ sort })).issues)).toEqual(expected)
        }
      })

      it('returns 25 issues by default and at most 100', async () => {
        await recordAll(Array.from({ length: 105 }, (_, i) => ({ issue: `n${i}`, time: T(i) })))
        const first = await store.listIssues()
        expect(first.issues).toHaveLength(25)
        expect(first.nextCursor).not.toBeNull()
        expect((await store.listIssues({ limit: 1000 })).issues).toHaveLength(100)
        expect((await store.listIssues({ limit: 3 })).issues).toHaveLength(3)
      })

      it('refuses a bad limit, sort or status with a TypeError', async () => {
        for (const limit of [0, -1, Number.NaN, '10' as unknown as number]) await expect(store.listIssues({ limit })).rejects.toThrow(TypeError)
        await expect(store.listIssues({ sort: 'title' as 'events' })).rejects.toThrow(TypeError)
        await expect(store.listIssues({ status: 'open' as 'resolved' })).rejects.toThrow(TypeError)
      })

      for (const sort of ['lastSeen', 'firstSeen', 'events', 'users'] as const) {
        it(`pages through every issue sorted by ${sort} with no duplicates or gaps`, async () => {
          // few distinct sort values, so pages split inside runs of ties
          const specs: EventSpec[] = []
          for (let i = 0; i < 40; i++) {
            for (let n = 0; n <= i % 3; n++) specs.push({ issue: `i${i}`, time: T(i % 4) + n * MINUTE, user: `u${n}` })
          }
          await recordAll(specs)
          const all = (await store.listIssues({ sort, limit: 100 })).issues
          expect(all).toHaveLength(40)
          const seen: string[] = []
          let cursor: string | null = null
          let pages = 0
          do {
            const page: Awaited<ReturnType<Store['listIssues']>> = await store.listIssues({ sort, limit: 7, cursor })
            seen.push(...ids(page.issues))
            cursor = page.nextCursor
            pages++
          } while (cursor !== null && pages < 20)
          expect(pages).toBe(6)
          expect(seen).toEqual(ids(all))
          expect(new Set(seen).size).toBe(40)
        })
      }

      it('keeps later pages steady when an issue is recorded between pages', async () => {
        await recordAll(Array.from({ length: 10 }, (_, i) => ({ issue: `k${i}`, time: T(i) })))
        const first = await store.listIssues({ limit: 4 })
        await store.record(makeInput({ issue: 'newcomer', time: T(100) }))
        const rest: Issue[] = []
        let cursor = first.nextCursor
        while (cursor) {
          const page = await store.listIssues({ limit: 4, cursor })
          rest.push(...page.issues)
          cursor = page.nextCursor
        }
        expect(ids([...first.issues, ...rest])).toEqual(Array.from({ length: 10 }, (_, i) => issueId(`k${9 - i}`)))
      })

      it('refuses a cursor it did not issue, or one from another sort, with a TypeError', async () => {
        await recordAll([{ issue: 'a' }, { issue: 'b' }])
        const { nextCursor } = await store.listIssues({ limit: 1 })
        expect(nextCursor).toEqual(expect.any(String))
        // the right shape with values no page could end on: a time past what a Date holds, a fraction
        const madeUp = [1e300, 1.5, 1e20].map((value) => Buffer.from(JSON.stringify(['lastSeen', value, 'abcdef0123456789'])).toString('base64url'))
        for (const cursor of ['garbage', '!!!', 'eyJ4Ijox', Buffer.from('[1,2]').toString('base64url'), 'x'.repeat(5000), ...madeUp]) {
          await expect(store.listIssues({ cursor })).rejects.toThrow(TypeError)
        }
        await expect(store.listIssues({ sort: 'events', cursor: nextCursor })).rejects.toThrow(TypeError)
        expect((await store.listIssues({ cursor: null })).issues).toHaveLength(2)
      })
    })

    describe('search', () => {
      beforeEach(async () => {
        await recordAll([
          { issue: 'db', type: 'DatabaseError', message: 'connection reset by peer', culprit: 'query (lib/db.js)', environment: 'production', release: '2.0.0', tags: { browser: 'Chrome', job: 'nightly billing' }, level: 'error', time: T(1) },
          { issue: 'db', release: '2.1.0', environment: 'production', time: T(2), type: 'DatabaseError', message: 'connection reset by peer', tags: { browser: 'Firefox' } },
          { issue: 'db', release: '2.2.0', environment: 'production', time: T(3), type: 'DatabaseError', message: 'connection reset by peer', tags: {} },
          { issue: 'auth', type: 'AuthError', message: 'token expired', culprit: 'verify (lib/auth.js)', environment: 'staging', release: '2.1.0', tags: { browser: 'Safari' }, level: 'warning', time: T(4) },
          { issue: 'pay', type: 'TypeError', message: 'amount is undefined', culprit: 'charge (lib/pay.js)', environment: 'production', tags: { job: 'billing' }, level: 'fatal', time: T(5) },
        ])
      })
      const db = issueId('db'), auth = issueId('auth'), pay = issueId('pay')
      /** every status */
      const search = async (q: string) => ids((await store.listIssues({ q, status: 'all' })).issues).sort()
      /** no status given, as the panel's default tab */
      const searchTab = async (q: string) => ids((await store.listIssues({ q })).issues).sort()

      it('matches free text against title, culprit, message and type, case-insensitively, all words required', async () => {
        expect(await search('connection')).toEqual([db])
        expect(await search('CONNECTION Reset')).toEqual([db])
        expect(await search('connection expired')).toEqual([])
        expect(await search('lib/auth.js')).toEqual([auth])
        expect(await search('typeerror')).toEqual([pay])
        expect(await search('lib')).toEqual([auth, db, pay].sort())
      })

      it('treats a quoted phrase as one word', async () => {
        expect(await search('"reset by peer"')).toEqual([db])
        expect(await search('"peer reset"')).toEqual([])
      })

      it('filters by is:resolved, is:ignored, is:unresolved and is:regressed, lifting the default status filter', async () => {
        await store.updateIssue(auth, { status: 'resolved' })
        await store.updateIssue(pay, { status: 'ignored' })
        expect(await searchTab('is:resolved')).toEqual([auth])
        expect(await searchTab('is:ignored')).toEqual([pay])
        expect(await searchTab('is:unresolved')).toEqual([db])
        expect(await searchTab('')).toEqual([db])
        expect(await searchTab('-is:resolved')).toEqual([db])
        expect(await search('is:regressed')).toEqual([])
        await store.record(makeInput({ issue: 'auth', type: 'AuthError', message: 'token expired', time: T(6) }))
        expect(await search('is:regressed')).toEqual([auth])
        expect(await search('is:nonsense')).toEqual([])
      })

      it('filters by environment:, release: (any release the issue was seen in) and level:', async () => {
        expect(await search('environment:staging')).toEqual([auth])
        expect(await search('environment:production')).toEqual([db, pay].sort())
        expect(await search('release:2.1.0')).toEqual([auth, db].sort())
        expect(await search('release:2.0.0')).toEqual([db])
        expect(await search('level:fatal')).toEqual([pay])
        expect(await search('level:warning')).toEqual([auth])
      })

      it('treats any other key as a tag, with quoted values and case-insensitive matching', async () => {
        expect(await search('browser:chrome')).toEqual([db])
        expect(await search('browser:firefox')).toEqual([db])
        expect(await search('browser:safari')).toEqual([auth])
        expect(await search('job:billing')).toEqual([pay])
        expect(await search('job:"nightly billing"')).toEqual([db])
        expect(await search('server_name:web-1')).toEqual([auth, db, pay].sort())
        expect(await search('browser:edge')).toEqual([])
      })

      it('combines terms, and negates a term with a leading minus', async () => {
        expect(await search('environment:production -browser:chrome')).toEqual([pay])
        expect(await search('-lib/db.js')).toEqual([auth, pay].sort())
        expect(await search('-"token expired" level:error')).toEqual([db])
        expect(await search('connection release:2.2.0 browser:firefox')).toEqual([db])
      })

      it('never fails on odd queries', async () => {
        for (const q of ['"unbalanced', 'job:"unclosed', ':::', '"', '-', '- -', 'is:', 'a:b:c', '\u0000', '__proto__:x', 'constructor:prototype', 'x'.repeat(100_000), '(*&^%$#@!'] ) {
          const page = await store.listIssues({ q, status: 'all' })
          expect(Array.isArray(page.issues)).toBe(true)
        }
        expect(await search('"unbalanced reset')).toEqual([])
        expect(await search('"reset by')).toEqual([db])
      })

      it('counts matching issues per status tab', async () => {
        await store.updateIssue(auth, { status: 'resolved' })
        expect(await store.countIssues()).toEqual({ unresolved: 2, resolved: 1, ignored: 0, all: 3 })
        expect(await store.countIssues('lib')).toEqual({ unresolved: 2, resolved: 1, ignored: 0, all: 3 })
        expect(await store.countIssues('environment:production')).toEqual({ unresolved: 2, resolved: 0, ignored: 0, all: 2 })
        expect(await store.countIssues('is:resolved')).toEqual({ unresolved: 0, resolved: 1, ignored: 0, all: 1 })
        expect(await store.countIssues('"nothing like this"')).toEqual({ unresolved: 0, resolved: 0, ignored: 0, all: 0 })
      })
    })

    describe('events', () => {
      it('lists events newest first and pages through them with no duplicates or gaps', async () => {
        // two events share a timestamp: the order must still be stable
        const times = [T(1), T(5), T(3), T(3), T(9), T(7), T(2), T(8), T(6), T(4), T(10)]
        const inputs = times.map((time) => makeInput({ time }))
        for (const input of inputs) await store.record(input)
        const expected = [...inputs].sort((a, b) => Date.parse(b.event.timestamp) - Date.parse(a.event.timestamp) || (a.event.event_id < b.event.event_id ? 1 : -1)).map((i) => i.event.event_id)
        const seen: string[] = []
        let cursor: string | null = null
        do {
          const page: Awaited<ReturnType<Store['listEvents']>> = await store.listEvents(issueId('checkout'), { limit: 3, cursor })
          expect(page.events.length).toBeLessThanOrEqual(3)
          seen.push(...page.events.map((e) => e.event_id))
          cursor = page.nextCursor
        } while (cursor !== null)
        expect(seen).toEqual(expected)
        expect((await store.listEvents(issueId('checkout'))).events).toHaveLength(11)
      })

      it('refuses a garbage events cursor with a TypeError', async () => {
        await recordAll([{}])
        await expect(store.listEvents(issueId('checkout'), { cursor: 'nonsense' })).rejects.toThrow(TypeError)
      })

      it('returns the stored event as recorded', async () => {
        const input = makeInput({ user: 'alice', tags: { browser: 'chrome' }, release: '3.0.0' })
        await store.record(input)
        expect(await store.getEvent(input.grouping.hash, input.event.event_id)).toEqual(JSON.parse(JSON.stringify(input.event)))
        expect(await store.getEvent(input.grouping.hash, 'f'.repeat(32))).toBeNull()
        await store.record(makeInput({ issue: 'other' }))
        expect(await store.getEvent(issueId('other'), input.event.event_id)).toBeNull()
      })

      it('names the neighbours of an event: older and newer', async () => {
        const inputs = [makeInput({ time: T(1) }), makeInput({ time: T(2) }), makeInput({ time: T(3) })]
        for (const input of [inputs[1], inputs[2], inputs[0]]) await store.record(input)
        const [a, b, c] = inputs.map((i) => i.event.event_id)
        expect(await store.eventNeighbors(issueId('checkout'), b)).toEqual({ older: a, newer: c })
        expect(await store.eventNeighbors(issueId('checkout'), a)).toEqual({ older: null, newer: b })
        expect(await store.eventNeighbors(issueId('checkout'), c)).toEqual({ older: b, newer: null })
        expect(await store.eventNeighbors(issueId('checkout'), 'nope')).toBeNull()
      })
    })

    describe('retention and maintenance', () => {
      it('prunes the oldest events beyond maxEventsPerIssue and keeps counts exact', async () => {
        const inputs = Array.from({ length: 15 }, (_, i) => makeInput({ time: T(i), user: `u${i % 5}` }))
        for (const input of [...inputs].reverse()) await store.record(input)
        const result = await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 365 * DAY } })
        expect(result.prunedEvents).toBe(5)
        const kept = (await store.listEvents(issueId('checkout'), { limit: 100 })).events.map((e) => e.event_id)
        expect(kept).toEqual(inputs.slice(5).reverse().map((i) => i.event.event_id))
        expect(await store.getEvent(issueId('checkout'), inputs[0].event.event_id)).toBeNull()
        const issue = (await store.getIssue(issueId('checkout')))!
        expect(issue).toMatchObject({ count: 15, userCount: 5, firstSeen: iso(T(0)), lastSeen: iso(T(14)) })
        expect((await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 365 * DAY } })).prunedEvents).toBe(0)
        // counting goes on exactly after pruning
        const next = await store.record(makeInput({ time: T(20), user: 'u1' }))
        expect(next.issue).toMatchObject({ count: 16, userCount: 5 })
      })

      it('counts only kept events against maxEventsPerIssue, never shed ones', async () => {
        const inputs = Array.from({ length: 9 }, (_, i) => ({ ...makeInput({ time: T(i) }), shed: i % 3 !== 0 }))
        for (const input of inputs) await store.record(input)
        const retention = { maxEventsPerIssue: 3, maxAgeMs: 365 * DAY }
        expect((await store.maintain({ retention })).prunedEvents).toBe(0)
        const keptIds = inputs.filter((i) => !i.shed).map((i) => i.event.event_id).reverse()
        expect((await store.listEvents(issueId('checkout'))).events.map((e) => e.event_id)).toEqual(keptIds)
        const newest = makeInput({ time: T(20) })
        await store.record(newest)
        expect((await store.maintain({ retention })).prunedEvents).toBe(1)
        expect((await store.listEvents(issueId('checkout'))).events.map((e) => e.event_id)).toEqual([newest.event.event_id, ...keptIds.slice(0, 2)])
        expect(await store.getIssue(issueId('checkout'))).toMatchObject({ count: 10, shed: 6 })
      })

      it('prunes events older than maxAgeMs, in every issue', async () => {
        await recordAll([{ issue: 'a', time: T(0) }, { issue: 'a', time: T(60) }, { issue: 'a', time: T(200) }, { issue: 'b', time: T(10) }])
        const result = await store.maintain({ now: new Date(T(300)), retention: { maxEventsPerIssue: 100, maxAgeMs: 120 * MINUTE } })
        expect(result.prunedEvents).toBe(3)
        expect((await store.listEvents(issueId('a'))).events.map((e) => e.timestamp)).toEqual([iso(T(200))])
        expect((await store.listEvents(issueId('b'))).events).toEqual([])
        expect((await store.getIssue(issueId('b')))!.count).toBe(1)
        expect((await store.getIssue(issueId('a')))!.count).toBe(3)
      })

      it('auto-resolves unresolved issues last seen before autoResolveBefore, all in one sweep', async () => {
        await recordAll([{ issue: 'old1', time: T(0) }, { issue: 'old2', time: T(5) }, { issue: 'fresh', time: T(100) }, { issue: 'ignoredOld', time: T(1) }])
        await store.updateIssue(issueId('ignoredOld'), { status: 'ignored' })
        const result = await store.maintain({ now: new Date(T(120)), autoResolveBefore: new Date(T(50)) })
        expect(result.resolvedIssues).toBe(2)
        expect((await store.getIssue(issueId('old1')))!).toMatchObject({ status: 'resolved', resolvedAt: iso(T(120)) })
        expect((await store.getIssue(issueId('old2')))!.status).toBe('resolved')
        expect((await store.getIssue(issueId('fresh')))!.status).toBe('unresolved')
        expect((await store.getIssue(issueId('ignoredOld')))!.status).toBe('ignored')
        const back = await store.record(makeInput({ issue: 'old1', time: T(130) }))
        expect(back.isRegression).toBe(true)
      })

      it('does nothing harmful on an empty store or with no options', async () => {
        expect(await store.maintain({})).toEqual({ prunedEvents: 0, resolvedIssues: 0, unignoredIssues: 0 })
      })
    })

    describe('updateIssue', () => {
      it('resolves: sets resolvedAt and clears regressed', async () => {
        await recordAll([{ time: T(1) }])
        await store.updateIssue(issueId('checkout'), { status: 'resolved' })
        await recordAll([{ time: T(2) }])
        expect((await store.getIssue(issueId('checkout')))!.regressed).toBe(true)
        const before = Date.now()
        const issue = (await store.updateIssue(issueId('checkout'), { status: 'resolved' }))!
        expect(issue.regressed).toBe(false)
        expect(Date.parse(issue.resolvedAt!)).toBeGreaterThanOrEqual(before - 1000)
        expect(Date.parse(issue.resolvedAt!)).toBeLessThanOrEqual(Date.now() + 1000)
        expect(await store.getIssue(issueId('checkout'))).toEqual(issue)
      })

      it('ignores until N more events, then reopens on the Nth', async () => {
        await recordAll([{ time: T(1) }, { time: T(2) }])
        const ignored = (await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { events: 3 } }))!
        expect(ignored).toMatchObject({ status: 'ignored', ignoreUntil: { count: 5 } })
        const results = await recordAll([{ time: T(3) }, { time: T(4) }, { time: T(5) }, { time: T(6) }])
        expect(results.map((r) => [r.issue.status, r.unignored])).toEqual([['ignored', false], ['ignored', false], ['unresolved', true], ['unresolved', false]])
        expect(results[2].issue.ignoreUntil).toBeNull()
        expect(results[2].isRegression).toBe(false)
      })

      it('ignores until N more users are affected', async () => {
        await recordAll([{ user: 'a' }, { user: 'b' }])
        expect((await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { users: 2 } }))!.ignoreUntil).toEqual({ userCount: 4 })
        const results = await recordAll([{ user: 'a' }, { user: 'c' }, { user: 'c' }, { user: null }, { user: 'd' }])
        expect(results.map((r) => r.unignored)).toEqual([false, false, false, false, true])
        expect(results[4].issue.status).toBe('unresolved')
      })

      it('ignores for a duration: events inside it stay ignored, the first after it reopens', async () => {
        await recordAll([{}])
        const before = Date.now()
        const ignored = (await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { for: '1h' } }))!
        const at = Date.parse(ignored.ignoreUntil!.at!)
        expect(at).toBeGreaterThanOrEqual(before + HOUR - 1000)
        expect(at).toBeLessThanOrEqual(Date.now() + HOUR + 1000)
        expect((await store.record(makeInput({ time: Date.now() }))).unignored).toBe(false)
        const after = await store.record(makeInput({ time: at + MINUTE }))
        expect(after.unignored).toBe(true)
        expect(after.issue).toMatchObject({ status: 'unresolved', ignoreUntil: null })
      })

      it('lifts an ignore whose time has passed in maintain', async () => {
        await recordAll([{ issue: 'a' }, { issue: 'b' }])
        await store.updateIssue(issueId('a'), { status: 'ignored', until: { for: '30m' } })
        await store.updateIssue(issueId('b'), { status: 'ignored', until: { for: '3h' } })
        expect((await store.maintain({ now: new Date(Date.now() + 10 * MINUTE) })).unignoredIssues).toBe(0)
        const result = await store.maintain({ now: new Date(Date.now() + HOUR) })
        expect(result.unignoredIssues).toBe(1)
        expect((await store.getIssue(issueId('a')))!).toMatchObject({ status: 'unresolved', ignoreUntil: null })
        expect((await store.getIssue(issueId('b')))!.status).toBe('ignored')
      })

      it('ignores forever without until; reopening clears the ignore', async () => {
        await recordAll([{}])
        expect((await store.updateIssue(issueId('checkout'), { status: 'ignored', until: null }))!).toMatchObject({ status: 'ignored', ignoreUntil: null })
        await store.updateIssue(issueId('checkout'), { status: 'ignored', until: { events: 5 } })
        const reopened = (await store.updateIssue(issueId('checkout'), { status: 'unresolved' }))!
        expect(reopened).toMatchObject({ status: 'unresolved', ignoreUntil: null })
      })

      it('refuses an invalid update with a TypeError that says what is wrong', async () => {
        await recordAll([{}])
        const id = issueId('checkout')
        await expect(store.updateIssue(id, { status: 'closed' as 'resolved' })).rejects.toThrow(/status/)
        await expect(store.updateIssue(id, { status: 'resolved', until: { events: 3 } })).rejects.toThrow(/until/)
        await expect(store.updateIssue(id, { status: 'ignored', until: { for: 'soon' } })).rejects.toThrow(/duration/)
        await expect(store.updateIssue(id, { status: 'ignored', until: { events: 0 } })).rejects.toThrow(TypeError)
        await expect(store.updateIssue(id, { status: 'ignored', until: { minutes: 3 } as unknown as { events: number } })).rejects.toThrow(TypeError)
        await expect(store.updateIssue(id, null as unknown as { status: 'resolved' })).rejects.toThrow(TypeError)
        expect((await store.getIssue(id))!.status).toBe('unresolved')
      })
    })

    describe('histogram and counts over time', () => {
      it('counts events per hour, oldest bucket first, splitting exactly at the hour', async () => {
        const h = (hours: number, ms = 0) => DAY0 + hours * HOUR + ms
        await recordAll([{ time: h(10) - 1 }, { time: h(10) }, { time: h(10, 59 * MINUTE) }, { time: h(11) }, { time: h(12, 1) }, { time: h(12, 2) }, { time: h(13) }])
        expect(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 4, now: new Date(h(12, 30 * MINUTE)) })).toEqual([1, 2, 1, 2])
        expect(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 1, now: new Date(h(13)) })).toEqual([1])
        expect(await store.histogram(issueId('checkout'), { interval: 'hour', buckets: 24, now: new Date(h(20)) })).toEqual([...Array(12).fill(0), 1, 2, 1, 2, 1, ...Array(7).fill(0)])
      })

      it('counts events per UTC day, oldest bucket first', async () => {
        await recordAll([{ time: DAY0 - 1 }, { time: DAY0 }, { time: DAY0 + DAY - 1 }, { time: DAY0 + DAY }, { time: DAY0 + 2 * DAY + HOUR }])
        expect(await store.histogram(issueId('checkout'), { interval: 'day', buckets: 4, now: new Date(DAY0 + 2 * DAY + 2 * HOUR) })).toEqual([1, 2, 1, 1])
        expect(await store.histogram(issueId('checkout'), { interval: 'day', buckets: 30 })).toHaveLength(30)
      })

      it('refuses bad histogram options with a TypeError', async () => {
        await recordAll([{}])
        await expect(store.histogram(issueId('checkout'), { interval: 'week' as 'day', buckets: 3 })).rejects.toThrow(TypeError)
        await expect(store.histogram(issueId('checkout'), { interval: 'hour', buckets: 0 })).rejects.toThrow(TypeError)
        await expect(store.histogram(issueId('checkout'), { interval: 'hour', buckets: 1e9 })).rejects.toThrow(TypeError)
      })

      it('counts events since a time within the last 24 hours', async () => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE
        await recordAll([{ time: m - 23 * HOUR }, { time: m - 90 * MINUTE }, { time: m - 30 * MINUTE }, { time: m - 5 * MINUTE }, { time: m - 5 * MINUTE + 30_000 }, { issue: 'other', time: m - MINUTE }])
        const id = issueId('checkout')
        expect(await store.countEventsSince(id, new Date(m - 30 * MINUTE))).toBe(3)
        expect(await store.countEventsSince(id, new Date(m - HOUR))).toBe(3)
        expect(await store.countEventsSince(id, new Date(m - 2 * HOUR))).toBe(4)
        expect(await store.countEventsSince(id, new Date(m - 24 * HOUR))).toBe(5)
        expect(await store.countEventsSince(id, new Date(m - 4 * MINUTE))).toBe(0)
        expect(await store.countEventsSince(id, new Date(m + HOUR))).toBe(0)
      })

      it('counts a recent window from its exact start, not from the start of its first minute', async () => {
        const m = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE
        await recordAll([{ time: m + 10_000 }, { time: m + 40_000 }, { time: m + 50_000 }])
        const id = issueId('checkout')
        // whole minutes would say 3 for both
        expect(await store.countEventsSince(id, new Date(m + 30_000))).toBe(2)
        expect(await store.countEventsSince(id, new Date(m + 50_000))).toBe(1)
      })
    })

    describe('tagBreakdown', () => {
      it('lists each tag key with its total and top values, keys by total and values by count', async () => {
        await recordAll([
          { tags: { browser: 'chrome', os: 'linux' }, environment: 'production' },
          { tags: { browser: 'chrome' }, environment: 'production' },
          { tags: { browser: 'firefox', os: 'mac' }, environment: 'staging' },
          { tags: { browser: 'safari' }, environment: 'production' },
          { tags: { browser: 'chrome', os: 'linux' }, environment: 'production' },
        ])
        const tags = await store.tagBreakdown(issueId('checkout'))
        const browser = tags.find((t) => t.key === 'browser')!
        expect(browser).toEqual({ key: 'browser', total: 5, values: [{ value: 'chrome', count: 3 }, { value: 'firefox', count: 1 }, { value: 'safari', count: 1 }] })
        expect(tags.find((t) => t.key === 'os')).toEqual({ key: 'os', total: 3, values: [{ value: 'linux', count: 2 }, { value: 'mac', count: 1 }] })
        expect(tags.find((t) => t.key === 'environment')).toEqual({ key: 'environment', total: 5, values: [{ value: 'production', count: 4 }, { value: 'staging', count: 1 }] })
        expect(tags.find((t) => t.key === 'server_name')).toEqual({ key: 'server_name', total: 5, values: [{ value: 'web-1', count: 5 }] })
        const totals = tags.map((t) => t.total)
        expect(totals).toEqual([...totals].sort((a, b) => b - a))
        expect(tags[tags.length - 1].key).toBe('os')
        const limited = await store.tagBreakdown(issueId('checkout'), { limit: 1 })
        expect(limited.find((t) => t.key === 'browser')!.values).toEqual([{ value: 'chrome', count: 3 }])
      })

      it('keeps tag counts exact after events are pruned', async () => {
        await recordAll(Array.from({ length: 6 }, (_, i) => ({ time: T(i), tags: { browser: i < 4 ? 'chrome' : 'firefox' } })))
        await store.maintain({ retention: { maxEventsPerIssue: 2, maxAgeMs: 365 * DAY } })
        const browser = (await store.tagBreakdown(issueId('checkout'))).find((t) => t.key === 'browser')!
        expect(browser.values).toEqual([{ value: 'chrome', count: 4 }, { value: 'firefox', count: 2 }])
        expect(await store.listIssues({ q: 'browser:chrome' })).toMatchObject({ issues: [{ id: issueId('checkout') }] })
      })
    })

    describe('deleteIssue', () => {
      it('removes the issue, its events and its alert claims', async () => {
        const input = makeInput({ issue: 'gone' })
        await store.record(input)
        await recordAll([{ issue: 'stays' }])
        const id = issueId('gone')
        expect(await store.claimAlert(`new:${id}`, { issueId: id })).toBe(true)
        expect(await store.claimAlert(`new:${issueId('stays')}`, { issueId: issueId('stays') })).toBe(true)
        expect(await store.deleteIssue(id)).toBe(true)
        expect(await store.getIssue(id)).toBeNull()
        expect(await store.getEvent(id, input.event.event_id)).toBeNull()
        expect(await store.listEvents(id)).toEqual({ events: [], nextCursor: null })
        expect(ids((await store.listIssues({ status: 'all' })).issues)).toEqual([issueId('stays')])
        expect(await store.claimAlert(`new:${id}`, { issueId: id })).toBe(true)
        expect(await store.claimAlert(`new:${issueId('stays')}`, { issueId: issueId('stays') })).toBe(false)
        expect(await store.deleteIssue(id)).toBe(false)
        // the same fingerprint starts a brand-new issue
        const again = await store.record(makeInput({ issue: 'gone' }))
        expect(again.isNew).toBe(true)
        expect(again.issue.count).toBe(1)
      })
    })

    describe('claimAlert', () => {
      it('is true only for the first claim of a key', async () => {
        const id = issueId('checkout')
        expect(await store.claimAlert('regression:1', { issueId: id })).toBe(true)
        expect(await store.claimAlert('regression:1', { issueId: id })).toBe(false)
        expect(await store.claimAlert('regression:2', { issueId: id })).toBe(true)
      })

      it('gives exactly one of many concurrent claims', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimAlert('storm', { issueId: issueId('checkout') })))
        expect(results.filter(Boolean)).toHaveLength(1)
      })

      it('lets an expired claim be claimed again, and not a standing one', async () => {
        const id = issueId('checkout')
        expect(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() - 1000) })).toBe(true)
        expect(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() + HOUR) })).toBe(true)
        expect(await store.claimAlert('throttle:a', { issueId: id, expiresAt: new Date(Date.now() + HOUR) })).toBe(false)
        expect(await store.claimAlert('throttle:a', { issueId: id })).toBe(false)
      })
    })

    it('flushes and closes, and a second close is harmless', async () => {
      await recordAll([{}])
      if (store.flush) await expect(store.flush()).resolves.toBeUndefined()
      await expect(store.close()).resolves.toBeUndefined()
      await expect(store.close()).resolves.toBeUndefined()
    })
  })
}
