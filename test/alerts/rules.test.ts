import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../../lib/options.js'
import { decide, matchesFilter, reachedMilestone, ruleKeys } from '../../lib/alerts/rules.js'
import type { FaultlineEvent, Issue, RecordResult } from '../../lib/types.js'
import type { Rule } from '../../lib/types.js'

function rule(r: Rule) {
  return resolveOptions({ store: 'x.json', rules: [r], mail: { transport: 'smtp://localhost', to: 'a@example.com' } }).rules[0]
}

function issue(over: Partial<Issue> = {}): Issue {
  return {
    id: 'abcdef0123456789', fingerprint: ['x'], title: 'TypeError: boom', culprit: 'f (a.js)', type: 'TypeError', message: 'boom',
    level: 'error', status: 'unresolved', regressed: false, count: 1, userCount: 0, firstSeen: '2026-01-01T00:00:00.000Z',
    lastSeen: '2026-01-01T00:00:00.000Z', firstRelease: null, lastRelease: null, environments: ['production'], resolvedAt: null,
    ignoreUntil: null, regressedAt: null, countSinceRegression: 1, usersSinceRegression: 0, ...over,
  }
}

function result(over: Partial<Issue> = {}, flags: Partial<RecordResult> = {}): RecordResult {
  return { issue: issue(over), isNew: false, isRegression: false, unignored: false, ...flags }
}

const event = { environment: 'production', level: 'error', tags: { job: 'billing', region: 'eu' } } as unknown as FaultlineEvent

describe('decide', () => {
  it("fires 'new' only for the event that created the issue", () => {
    const r = rule({ when: 'new' })
    expect(decide(r, 'k', result({}, { isNew: true }), event)?.kind).toBe('new')
    expect(decide(r, 'k', result({ count: 2 }), event)).toBeNull()
  })

  it("fires 'regression' only when a resolved issue came back, with a key per regression", () => {
    const r = rule({ when: 'regression' })
    expect(decide(r, 'k', result(), event)).toBeNull()
    const first = decide(r, 'k', result({ regressedAt: '2026-02-01T00:00:00.000Z' }, { isRegression: true }), event)
    const second = decide(r, 'k', result({ regressedAt: '2026-03-01T00:00:00.000Z' }, { isRegression: true }), event)
    expect(first?.kind).toBe('regression')
    expect(first?.key).not.toBe(second?.key)
  })

  it('fires an event threshold once reached, with the same key for every later event until a regression', () => {
    const r = rule({ when: { events: 100 } })
    expect(decide(r, 'k', result({ count: 99, countSinceRegression: 99 }), event)).toBeNull()
    const at100 = decide(r, 'k', result({ count: 100, countSinceRegression: 100 }), event)
    const at150 = decide(r, 'k', result({ count: 150, countSinceRegression: 150 }), event)
    expect(at100).toMatchObject({ kind: 'threshold', events: 100 })
    expect(at150?.key).toBe(at100?.key)
    // after a regression the count starts again from it, and the key is a new one
    expect(decide(r, 'k', result({ count: 160, countSinceRegression: 10, regressedAt: '2026-02-01T00:00:00.000Z' }), event)).toBeNull()
    const again = decide(r, 'k', result({ count: 250, countSinceRegression: 100, regressedAt: '2026-02-01T00:00:00.000Z' }), event)
    expect(again?.events).toBe(100)
    expect(again?.key).not.toBe(at100?.key)
  })

  it('keeps a threshold key when an event stamped earlier moves the issue\'s first seen back', () => {
    const r = rule({ when: { events: 3 } })
    const before = decide(r, 'k', result({ count: 3, countSinceRegression: 3 }), event)
    // a retried or clock-skewed event, older than the first, arrives later
    const after = decide(r, 'k', result({ count: 4, countSinceRegression: 4, firstSeen: '2025-12-31T23:59:58.500Z' }), event)
    expect(after?.key).toBe(before?.key)
  })

  it('picks the highest milestone reached, one key per milestone', () => {
    const r = rule({ when: { events: [10, 100, 1000] } })
    expect(decide(r, 'k', result({ count: 9, countSinceRegression: 9 }), event)).toBeNull()
    const ten = decide(r, 'k', result({ count: 10, countSinceRegression: 10 }), event)
    const hundred = decide(r, 'k', result({ count: 140, countSinceRegression: 140 }), event)
    expect(ten?.events).toBe(10)
    expect(hundred?.events).toBe(100)
    expect(ten?.key).not.toBe(hundred?.key)
    expect(reachedMilestone([1000, 10, 100], 5000)).toBe(1000)
  })

  it('fires a users threshold on distinct users since the regression', () => {
    const r = rule({ when: { users: 100 } })
    expect(decide(r, 'k', result({ userCount: 150, usersSinceRegression: 99 }), event)).toBeNull()
    expect(decide(r, 'k', result({ userCount: 150, usersSinceRegression: 100 }), event)).toMatchObject({ users: 100 })
  })

  it('needs every key of a combined rule to hold', () => {
    const r = rule({ when: { events: 100, users: 10 } })
    expect(decide(r, 'k', result({ count: 500, countSinceRegression: 500, usersSinceRegression: 9 }), event)).toBeNull()
    expect(decide(r, 'k', result({ count: 99, countSinceRegression: 99, usersSinceRegression: 50 }), event)).toBeNull()
    expect(decide(r, 'k', result({ count: 100, countSinceRegression: 100, usersSinceRegression: 10 }), event)).toMatchObject({ events: 100, users: 10 })
  })

  it('leaves a sliding window for the store to measure, with a claim that lapses with the window', () => {
    const r = rule({ when: { events: 50, within: '1h' } })
    expect(decide(r, 'k', result({ count: 49, countSinceRegression: 49 }), event)).toBeNull()
    expect(decide(r, 'k', result({ count: 50, countSinceRegression: 50 }), event)).toMatchObject({ events: 50, withinMs: 3_600_000, expiresInMs: 3_600_000 })
  })

  it('never fires for an ignored issue', () => {
    expect(decide(rule({ when: 'new' }), 'k', result({ status: 'ignored' }, { isNew: true }), event)).toBeNull()
    expect(decide(rule({ when: { events: 1 } }), 'k', result({ status: 'ignored', count: 5, countSinceRegression: 5 }), event)).toBeNull()
  })
})

describe('matchesFilter', () => {
  it('matches environment as one value or a list, level, and every tag', () => {
    expect(matchesFilter({ environment: 'production' }, event)).toBe(true)
    expect(matchesFilter({ environment: ['staging', 'production'] }, event)).toBe(true)
    expect(matchesFilter({ environment: 'staging' }, event)).toBe(false)
    expect(matchesFilter({ level: ['fatal', 'error'] }, event)).toBe(true)
    expect(matchesFilter({ level: 'fatal' }, event)).toBe(false)
    expect(matchesFilter({ tags: { job: 'billing' } }, event)).toBe(true)
    expect(matchesFilter({ tags: { job: 'billing', region: 'us' } }, event)).toBe(false)
    expect(matchesFilter({ tags: { missing: 'x' } }, event)).toBe(false)
  })

  it("matches the platform: a server event's is node, a browser event's javascript", () => {
    expect(matchesFilter({ platform: 'node' }, event)).toBe(true)
    expect(matchesFilter({ platform: 'javascript' }, event)).toBe(false)
    expect(matchesFilter({ platform: 'javascript' }, { ...event, platform: 'javascript' })).toBe(true)
    expect(matchesFilter({ platform: ['node', 'javascript'] }, { ...event, platform: 'javascript' })).toBe(true)
  })

  it('refuses a platform that is neither', () => {
    const mail = { transport: 'smtp://localhost', to: 'a@example.com' }
    expect(() => resolveOptions({ store: 'x.json', mail, rules: [{ when: 'new', filter: { platform: 'browser' as never } }] })).toThrow(/`rules\[0\]\.filter\.platform` must be 'node', 'javascript' or a list of them/)
  })
})

describe('ruleKeys', () => {
  it('names rules by what they do, so reordering keeps their claims', () => {
    const a: Rule = { when: 'new' }
    const b: Rule = { when: { events: 100 } }
    const opts = (rules: Rule[]) => resolveOptions({ store: 'x.json', rules, mail: { transport: 'smtp://localhost', to: 'a@example.com' } }).rules
    const [ka, kb] = ruleKeys(opts([a, b]))
    const [kb2, ka2] = ruleKeys(opts([b, a]))
    expect(ka).toBe(ka2)
    expect(kb).toBe(kb2)
  })

  it('tells apart rules that differ only in where they send, and identical rules', () => {
    const opts = resolveOptions({
      store: 'x.json',
      mail: { transport: 'smtp://localhost', to: 'a@example.com' },
      rules: [{ when: { users: 100 } }, { when: { users: 100 }, to: 'oncall@example.com' }, { when: { users: 100 } }],
    }).rules
    const keys = ruleKeys(opts)
    expect(new Set(keys).size).toBe(3)
  })
})
