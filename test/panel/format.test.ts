import { describe, it, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parseQuery } from '../../common/search.js'
import { axisTicks, barChart, bucketStarts } from '../../lib/panel/charts.js'
import { eventsCaption, exceptionChain } from '../../lib/panel/pages.js'
import type { FaultlineEvent } from '../../lib/types.js'
import { absoluteTime, describeActivity, ignoreEnd, inline, maskAddress, noun, plural, pretty, requestPath, searchTerm, shortCount, timeAgo, urlHost, withQuery } from '../../lib/panel/format.js'
import { describeFilter, describeWhen } from '../../lib/panel/rules-page.js'

describe('timeAgo', () => {
  const now = new Date('2024-05-10T12:00:00Z')
  it.each([
    ['2024-05-10T11:59:55Z', 'just now'],
    ['2024-05-10T11:59:30Z', '30s ago'],
    ['2024-05-10T11:55:00Z', '5 min ago'],
    ['2024-05-10T09:00:00Z', '3 h ago'],
    ['2024-05-09T12:00:00Z', '1 day ago'],
    ['2024-04-30T12:00:00Z', '10 days ago'],
    ['2024-02-10T12:00:00Z', '2 mo ago'],
    ['2021-05-10T12:00:00Z', '3 y ago'],
    ['2024-05-10T12:05:00Z', 'in the future'],
    ['not a date', ''],
  ])('says %s is %s', (iso, text) => {
    expect(timeAgo(iso, now)).toBe(text)
  })
})

describe('text helpers', () => {
  it('formats absolute times in UTC and counts in short form', () => {
    expect(absoluteTime('2024-05-10T09:08:07.123Z')).toBe('2024-05-10 09:08:07 UTC')
    expect([0, 999, 1000, 1250, 12_345, 999_499, 1_500_000].map(shortCount)).toEqual(['0', '999', '1k', '1.3k', '12k', '999k', '1.5M'])
  })

  it('says one event, but 0 or 1,200 events', () => {
    expect([0, 1, 2, 1200].map((n) => plural(n, 'event'))).toEqual(['0 events', '1 event', '2 events', '1,200 events'])
    expect([0, 1, 2].map((n) => noun(n, 'user'))).toEqual(['users', 'user', 'users'])
  })

  it('pretty-prints anything without throwing, cutting huge output', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    expect(pretty(cyclic)).toContain('"self": "[Circular]"')
    expect(pretty({ n: 10n })).toContain('"10n"')
    expect(pretty('x'.repeat(30_000))).toMatch(/… \(truncated\)$/)
    expect(inline({ a: [1, 2] })).toBe('{ "a": [ 1, 2 ] }')
    expect(inline(null)).toBe('')
  })

  it('writes search terms that common/search.ts parses back to the same tag', () => {
    for (const value of ['chrome', 'nightly billing', 'a:b', 'it"s', 'x\'y z']) {
      const term = searchTerm('browser', value)!
      expect(parseQuery(term).terms).toEqual([{ kind: 'tag', key: 'browser', value: value.toLowerCase(), negate: false }])
    }
    expect(searchTerm('k', 'both " and space')).toBeNull()
    expect(searchTerm('k', '"leading')).toBeNull()
  })

  it('builds query strings without empty parameters', () => {
    expect(withQuery('/errors', { status: 'all', q: '', sort: null, cursor: 'a&b' })).toBe('/errors?status=all&cursor=a%26b')
    expect(withQuery('/errors', {})).toBe('/errors')
  })
})

describe('charts', () => {
  it('lays out one bar per bucket, the tallest filling the height, empty ones as stubs', () => {
    const chart = barChart([0, 5, 10, 0], { interval: 'hour', now: new Date('2024-05-10T12:30:00Z'), width: 40, height: 20 })
    expect(chart.bars.map((b) => b.height)).toEqual([1, 10, 20, 1])
    expect(chart.bars.map((b) => b.x)).toEqual([0, 10, 20, 30])
    expect(chart.bars.every((b) => b.y + b.height === 20)).toBe(true)
    expect(chart.total).toBe(15)
    expect(chart.bars[3].label).toBe('2024-05-10 12:00 UTC: 0 events')
    expect(chart.bars[2].label).toBe('2024-05-10 11:00 UTC: 10 events')
  })

  it('ends the buckets with the one holding now, by hour or by UTC day', () => {
    const now = new Date('2024-05-10T12:30:00Z')
    expect(bucketStarts('day', 2, now).map((d) => d.toISOString())).toEqual(['2024-05-09T00:00:00.000Z', '2024-05-10T00:00:00.000Z'])
    expect(bucketStarts('hour', 1, now)[0].toISOString()).toBe('2024-05-10T12:00:00.000Z')
  })

  it('labels the time axis every quarter of a day in UTC hours, every ten days by date, and its right end', () => {
    const now = new Date('2024-05-10T12:30:00Z')
    expect(axisTicks('hour', bucketStarts('hour', 24, now))).toEqual([
      { at: '2024-05-09T13:00:00.000Z', text: '13:00' },
      { at: '2024-05-09T19:00:00.000Z', text: '19:00' },
      { at: '2024-05-10T01:00:00.000Z', text: '01:00' },
      { at: '2024-05-10T07:00:00.000Z', text: '07:00' },
      { at: null, text: 'now' },
    ])
    expect(axisTicks('day', bucketStarts('day', 30, now)).map((t) => t.text)).toEqual(['Apr 11', 'Apr 21', 'May 1', 'today'])
  })

  it('treats bad counts as zero', () => {
    const chart = barChart([NaN, -3, Infinity], { interval: 'day', now: new Date(), width: 30, height: 10 })
    expect(chart.bars.map((b) => b.count)).toEqual([0, 0, 0])
    expect(chart.max).toBe(0)
  })
})

describe('the events page caption', () => {
  it('says how many events it shows of how many, and why fewer are kept', () => {
    expect(eventsCaption(10, 10, true, true)).toBe('Showing 10 of 10 events.')
    expect(eventsCaption(1, 1, true, true)).toBe('Showing 1 of 1 event.')
    expect(eventsCaption(50, 1234, true, false)).toBe('Showing the newest 50 of 1,234 events.')
    expect(eventsCaption(20, 1234, false, false)).toBe('Showing 20 of 1,234 events, older than the page before.')
    expect(eventsCaption(100, 130, true, true)).toMatch(/^Showing 100 of 130 events: the other 30 were counted but not kept/)
  })
})

describe('templates', () => {
  it('print data only with <%= %>: <%- is used for include() alone', () => {
    const dir = path.resolve('views/panel')
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ejs'))) {
      const raw = readFileSync(path.join(dir, file), 'utf8').match(/<%-[^%]*%>/g) ?? []
      for (const tag of raw) expect(tag, `${file}: ${tag}`).toMatch(/^<%- include\('[\w-]+'(, \{[^}]*\})?\) %>$/)
    }
  })
})

describe('exceptionChain', () => {
  it('lists the exception then its causes, frames newest first, opening the newest in-app frame with source', () => {
    const f = (name: string, inApp: boolean, source = false) => ({ function: name, in_app: inApp, ...(source ? { context_line: 'x' } : {}) })
    const event = {
      exception: {
        type: 'Error', value: 'outer',
        stacktrace: { frames: [f('main', true, true), f('a', true, true), f('b', true), f('lib', false, true)], frames_omitted: [1, 41] as [number, number] },
        causes: [{ type: 'Error', value: 'inner', stacktrace: { frames: [f('c', false)] } }],
      },
    } as unknown as FaultlineEvent
    const [outer, inner] = exceptionChain(event)
    expect(outer.frames.map((fr) => fr.function)).toEqual(['lib', 'b', 'a', 'main'])
    expect(outer.frames.map((fr) => fr.open)).toEqual([false, false, true, false])
    // 40 frames were dropped between stored frames 0 and 1, i.e. just below 'a' in newest-first order
    expect(outer.frames.map((fr) => fr.omittedBelow)).toEqual([0, 0, 40, 0])
    expect(inner.exception.value).toBe('inner')
    expect(exceptionChain({ message: 'm' } as unknown as FaultlineEvent)).toEqual([])
  })
})

describe('ignoreEnd', () => {
  it('says what ends an ignore in the words of the form, counting what is left', () => {
    expect(ignoreEnd({ count: 7, userCount: 2, ignoreUntil: null })).toBe('until you reopen it')
    expect(ignoreEnd({ count: 7, userCount: 2, ignoreUntil: { count: 10 } })).toBe('until 3 more events')
    expect(ignoreEnd({ count: 9, userCount: 2, ignoreUntil: { count: 10 } })).toBe('until 1 more event')
    expect(ignoreEnd({ count: 7, userCount: 2, ignoreUntil: { userCount: 12 } })).toBe('until 10 more users')
    expect(ignoreEnd({ count: 7, userCount: 2, ignoreUntil: { at: '2024-05-11T12:00:00.000Z' } })).toBe('until 2024-05-11 12:00:00 UTC')
    // a store that keeps several ends: any one of them lifts the ignore
    expect(ignoreEnd({ count: 7, userCount: 2, ignoreUntil: { count: 8, userCount: 3 } })).toBe('until 1 more event or 1 more user')
  })
})

describe('requestPath', () => {
  it.each([
    ['https://shop.example.com/users/7?ref=mail', '/users/7?ref=mail'],
    ['http://localhost:3000/a b/ü?q=1#top', '/a b/ü?q=1#top'],
    ['http://localhost:3000?x=1', '/?x=1'],
    ['http://localhost:3000', '/'],
    ['/already/a/path', '/already/a/path'],
    ['', ''],
  ])('keeps the path and query of %s', (url, path) => {
    expect(requestPath(url)).toBe(path)
  })
})

describe('maskAddress and urlHost', () => {
  it.each([
    ['ann@example.com', 'a•••@example.com'],
    ['Ann Lee <ann.lee@mail.example.org>', 'a•••@mail.example.org'],
    ['x@y.z', 'x•••@y.z'],
    ['not-an-address', '•••'],
  ])('hides %s as %s', (address, masked) => {
    expect(maskAddress(address)).toBe(masked)
  })

  it('keeps only the host of a webhook, whose path and query hold its secret', () => {
    expect(urlHost('https://hooks.slack.com/services/T0/B0/secret?token=1')).toBe('hooks.slack.com')
    expect(urlHost('http://127.0.0.1:9000/hook')).toBe('127.0.0.1:9000')
  })
})

describe('describeActivity', () => {
  const at = '2024-05-10T12:00:00.000Z'
  it.each([
    [{ kind: 'first_seen', release: '1.0.0' }, 'First seen, in release 1.0.0'],
    [{ kind: 'resolved' }, 'Resolved'],
    [{ kind: 'resolved', release: '1.4.2' }, 'Resolved in the next release (after 1.4.2)'],
    [{ kind: 'unresolved' }, 'Reopened'],
    [{ kind: 'ignored', until: null }, 'Ignored until someone reopens it'],
    [{ kind: 'ignored', until: { count: 120 } }, 'Ignored until 120 events in total'],
    [{ kind: 'ignored', until: { userCount: 1 } }, 'Ignored until 1 user in total'],
    [{ kind: 'ignored', until: { at: '2024-05-11T09:08:07.000Z' } }, 'Ignored until 2024-05-11 09:08:07 UTC'],
    [{ kind: 'unignored' }, 'The ignore ended: unresolved again'],
    [{ kind: 'regressed', release: '1.5.0', resolvedAt: '2024-05-09T08:00:00.000Z' }, 'Regressed: came back in release 1.5.0, after being resolved 2024-05-09 08:00:00 UTC'],
    [{ kind: 'regressed', release: null, resolvedAt: null }, 'Regressed: came back'],
    [{ kind: 'auto_resolved' }, 'Resolved automatically: not seen for the autoResolve period'],
    [{ kind: 'events_pruned', count: 1 }, '1 stored event deleted by the retention settings (counts stay exact)'],
  ] as const)('says %o as %s', (entry, text) => {
    expect(describeActivity({ id: '1', at, actor: 'faultline', ...entry })).toBe(text)
  })
})

describe('the rules in words', () => {
  it.each([
    ['new', null, 'A new issue: its first event'],
    ['regression', null, 'A regression: a resolved issue comes back'],
    [{ events: [10, 100, 1000] }, null, 'The issue reaches 10, 100, 1000 events (an alert at each)'],
    [{ events: 50, within: '1h' }, 3_600_000, '50 events within 1h'],
    [{ events: 100, users: 10 }, null, 'The issue reaches 100 events and 10 users are affected'],
  ] as const)('says when %o fires', (when, withinMs, text) => {
    expect(describeWhen(when as never, withinMs)).toBe(text)
  })

  it('says which events a filter takes', () => {
    expect(describeFilter(null)).toBe('Every event')
    expect(describeFilter({ environment: ['production', 'staging'], level: 'fatal', tags: { job: 'billing' } })).toBe('environment production or staging; level fatal; tag job = billing')
    expect(describeFilter({ platform: 'javascript' })).toBe('platform javascript')
  })
})
