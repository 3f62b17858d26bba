import { describe, expect, it } from 'vitest'
import { matchesIssue, mentionsStatus, parseQuery, MAX_QUERY_LENGTH, type IssueFacets } from '../common/search.js'
import type { Issue } from '../lib/types.js'

const issue: Issue = {
  id: 'abc', fingerprint: ['x'], title: 'TypeError: Cannot read properties of undefined', culprit: 'getUser (routes/users.js)',
  type: 'TypeError', message: 'Cannot read properties of undefined', level: 'error', status: 'unresolved', regressed: true,
  count: 3, userCount: 2, firstSeen: '2025-01-01T00:00:00.000Z', lastSeen: '2025-01-02T00:00:00.000Z', firstRelease: '1.0.0',
  lastRelease: '1.2.0', environments: ['production', 'Staging'], resolvedAt: null, ignoreUntil: null, regressedAt: '2025-01-02T00:00:00.000Z',
  countSinceRegression: 1, usersSinceRegression: 1, shed: 0, resolvedInRelease: null, platforms: ['node', 'javascript'],
}
const facets: IssueFacets = {
  hasTag: (key, value) => (key === 'browser' && value === 'chrome') || (key === 'job' && value === 'nightly billing'),
  hasRelease: (release) => ['1.0.0', '1.1.0', '1.2.0'].includes(release),
  hasUser: (field, value) => (field === null || field === 'email') && value === 'ann@example.com',
}
const matches = (q: string) => matchesIssue(parseQuery(q), issue, facets)

describe('parseQuery', () => {
  it('splits free text into lowercased words and keeps a quoted phrase whole', () => {
    expect(parseQuery('Database  "Connection Reset"').terms).toEqual([
      { kind: 'text', value: 'database', negate: false },
      { kind: 'text', value: 'connection reset', negate: false },
    ])
  })

  it('reads is:, environment:, release:, level: and treats other keys as tags', () => {
    expect(parseQuery('is:Resolved environment:prod release:1.2.0 level:error browser:Chrome').terms).toEqual([
      { kind: 'is', value: 'resolved', negate: false },
      { kind: 'environment', value: 'prod', negate: false },
      { kind: 'release', value: '1.2.0', negate: false },
      { kind: 'level', value: 'error', negate: false },
      { kind: 'tag', key: 'browser', value: 'chrome', negate: false },
    ])
  })

  it('reads quoted values and negation', () => {
    expect(parseQuery('job:"nightly billing" -is:ignored -"bad thing" -word').terms).toEqual([
      { kind: 'tag', key: 'job', value: 'nightly billing', negate: false },
      { kind: 'is', value: 'ignored', negate: true },
      { kind: 'text', value: 'bad thing', negate: true },
      { kind: 'text', value: 'word', negate: true },
    ])
  })

  it('runs an unclosed quote to the end of the input', () => {
    expect(parseQuery('job:"nightly bill').terms).toEqual([{ kind: 'tag', key: 'job', value: 'nightly bill', negate: false }])
    expect(parseQuery('"reset by').terms).toEqual([{ kind: 'text', value: 'reset by', negate: false }])
  })

  it('keeps words that only look like keys as text', () => {
    expect(parseQuery('browser: chrome http://x').terms).toEqual([
      { kind: 'text', value: 'browser:', negate: false },
      { kind: 'text', value: 'chrome', negate: false },
      { kind: 'tag', key: 'http', value: '//x', negate: false },
    ])
    expect(parseQuery('12:30').terms).toEqual([{ kind: 'text', value: '12:30', negate: false }])
  })

  it('never throws, and cuts input to 500 characters', () => {
    for (const q of ['', ' ', '"', '""', '-', '- -', 'a:""', ':::', '\u0000"\\', null, undefined, 42, {}, '-"', 'is:']) {
      expect(() => parseQuery(q)).not.toThrow()
    }
    expect(parseQuery('""').terms).toEqual([])
    expect(parseQuery('-').terms).toEqual([])
    const long = parseQuery('a'.repeat(10_000)).terms
    expect(long).toHaveLength(1)
    expect((long[0] as { value: string }).value).toHaveLength(MAX_QUERY_LENGTH)
  })

  it('parses a huge adversarial query quickly', () => {
    const start = performance.now()
    parseQuery('"a'.repeat(100_000))
    parseQuery('k:"'.repeat(100_000))
    expect(performance.now() - start).toBeLessThan(100)
  })

  it('reads platform: and the user terms', () => {
    expect(parseQuery('platform:JavaScript user:Ann user.id:42 user.email:a@b.example user.username:ann').terms).toEqual([
      { kind: 'platform', value: 'javascript', negate: false },
      { kind: 'user', field: null, value: 'ann', negate: false },
      { kind: 'user', field: 'id', value: '42', negate: false },
      { kind: 'user', field: 'email', value: 'a@b.example', negate: false },
      { kind: 'user', field: 'username', value: 'ann', negate: false },
    ])
    expect(parseQuery('user:ann').problems).toEqual([])
  })

  it('says what it could not use, in sentences, and keeps such terms so they match nothing', () => {
    const { terms, problems } = parseQuery('is:bogus level:nope platform:ios user.phone:1 release: checkout -is:')
    expect(terms.map((t) => t.kind)).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'text', 'invalid'])
    expect(problems).toEqual([
      'is:bogus matches nothing: is: takes unresolved, resolved, ignored or regressed.',
      'level:nope matches nothing: level: takes fatal, error, warning, log, info or debug.',
      'platform:ios matches nothing: platform: takes node or javascript.',
      'user.phone:1 matches nothing: search users with user.id:, user.email:, user.username:, or user: for any of them.',
      'release: has no value, so it matches nothing: write one after the colon, as in release:value.',
      'is: has no value, so it matches nothing: write one after the colon, as in is:resolved.',
    ])
    expect(parseQuery('browser:chrome "a b" is:resolved').problems).toEqual([])
    // a word that ends in a colon stays a word: a title pasted into the box
    expect(parseQuery('TypeError: cannot')).toEqual({ terms: [{ kind: 'text', value: 'typeerror:', negate: false }, { kind: 'text', value: 'cannot', negate: false }], problems: [] })
  })

  it('says each problem once, at most 10, and cuts long values in them', () => {
    expect(parseQuery('is:x is:x is:x').problems).toHaveLength(1)
    expect(parseQuery(Array.from({ length: 20 }, (_, i) => `is:v${i}`).join(' ')).problems).toHaveLength(10)
    const [problem] = parseQuery(`level:${'z'.repeat(300)}`).problems
    expect(problem.length).toBeLessThan(150)
  })

  it('says whether the query names a status', () => {
    expect(mentionsStatus(parseQuery('is:resolved'))).toBe(true)
    expect(mentionsStatus(parseQuery('is:regressed'))).toBe(false)
    expect(mentionsStatus(parseQuery('-is:resolved'))).toBe(false)
    expect(mentionsStatus(parseQuery('resolved'))).toBe(false)
  })
})

describe('matchesIssue', () => {
  it('requires every word in the title, culprit, message or type, case-insensitively', () => {
    expect(matches('cannot UNDEFINED')).toBe(true)
    expect(matches('getuser')).toBe(true)
    expect(matches('typeerror users.js')).toBe(true)
    expect(matches('cannot missing')).toBe(false)
    expect(matches('"read properties"')).toBe(true)
    expect(matches('"properties read"')).toBe(false)
  })

  it('matches status and regression terms', () => {
    expect(matches('is:unresolved')).toBe(true)
    expect(matches('is:resolved')).toBe(false)
    expect(matches('is:regressed')).toBe(true)
    expect(matches('-is:regressed')).toBe(false)
    expect(matches('is:whatever')).toBe(false)
    expect(matches('-is:whatever')).toBe(false)
  })

  it('matches platforms and users, and nothing for a term with a problem, negated or not', () => {
    expect(matches('platform:javascript')).toBe(true)
    expect(matches('-platform:node')).toBe(false)
    expect(matches('user:ann@example.com')).toBe(true)
    expect(matches('user.email:ANN@example.com')).toBe(true)
    expect(matches('user.id:ann@example.com')).toBe(false)
    expect(matches('-user:ann@example.com')).toBe(false)
    expect(matches('-level:nope')).toBe(false)
    expect(matchesIssue(parseQuery('user:ann@example.com'), issue)).toBe(false)
  })

  it('matches environment, level and any release the issue was seen in', () => {
    expect(matches('environment:staging')).toBe(true)
    expect(matches('environment:dev')).toBe(false)
    expect(matches('level:error')).toBe(true)
    expect(matches('level:fatal')).toBe(false)
    expect(matches('release:1.1.0')).toBe(true)
    expect(matches('release:2.0.0')).toBe(false)
  })

  it('falls back to first and last release without facets, and matches no tag', () => {
    expect(matchesIssue(parseQuery('release:1.2.0'), issue)).toBe(true)
    expect(matchesIssue(parseQuery('release:1.1.0'), issue)).toBe(false)
    expect(matchesIssue(parseQuery('browser:chrome'), issue)).toBe(false)
  })

  it('matches tags through the facets, with quoted values and negation', () => {
    expect(matches('browser:Chrome')).toBe(true)
    expect(matches('browser:firefox')).toBe(false)
    expect(matches('-browser:firefox')).toBe(true)
    expect(matches('job:"Nightly Billing" cannot')).toBe(true)
    expect(matches('-job:"nightly billing"')).toBe(false)
  })

  it('matches everything with an empty query', () => {
    expect(matches('')).toBe(true)
  })
})
