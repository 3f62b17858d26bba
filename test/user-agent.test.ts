import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import request from 'supertest'
import express from 'express'
import Koa from 'koa'
import { createTracker, type Tracker } from '../lib/index.js'
import { memoryStore } from '../adapters/memory.js'
import { loadUserAgentParser, userAgentOf, userAgentTags } from '../lib/user-agent.js'

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
const CHROME_ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'
const CURL = 'curl/8.5.0'

const trackers: Tracker[] = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker(options = {}) {
  const tracker = createTracker({ store: memoryStore(), panel: false, captureUncaught: false, captureUnhandledRejections: false, ...options })
  trackers.push(tracker)
  return tracker
}

async function onlyEvent(tracker: Tracker) {
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all' })
  expect(issues).toHaveLength(1)
  return { issue: issues[0], event: (await tracker.store.listEvents(issues[0].id, { limit: 1 })).events[0] }
}

// first in the file: the parser is not loaded yet when this test's app is made
describe('browser and OS tags on events', () => {
  it('tags the events of an Express request, from its first one, and `browser:chrome` finds the issue', async () => {
    const tracker = newTracker()
    const app = express()
    app.use(tracker.express())
    app.get('/boom', () => {
      throw new Error('boom')
    })
    await request(app).get('/boom').set('User-Agent', CHROME).expect(500)
    await request(app).get('/boom').set('User-Agent', SAFARI_IOS).expect(500)
    await request(app).get('/boom').set('User-Agent', CURL).expect(500)
    expect(await tracker.flush()).toBe(true)
    const { issues } = await tracker.store.listIssues({ status: 'all', q: 'browser:chrome' })
    expect(issues).toHaveLength(1)
    expect((await tracker.store.listIssues({ status: 'all', q: 'browser:firefox' })).issues).toHaveLength(0)
    const breakdown = await tracker.store.tagBreakdown(issues[0].id, { limit: 5 })
    const browser = breakdown.find((tag) => tag.key === 'browser')
    expect(browser?.values.map((v) => [v.value, v.count])).toEqual(expect.arrayContaining([['Chrome', 1], ['Safari', 1]]))
    expect(breakdown.find((tag) => tag.key === 'os')?.values.map((v) => v.value).sort()).toEqual(['Windows', 'iOS'])
    const events = (await tracker.store.listEvents(issues[0].id, { limit: 10 })).events
    const curl = events.find((e) => e.request?.headers?.['user-agent'] === CURL)!
    expect(curl.tags.browser).toBeUndefined()
  })

  it('tags the events of a Koa request; a tag the app set itself wins', async () => {
    const tracker = newTracker()
    const app = new Koa()
    app.use(tracker.koa())
    app.use(() => {
      tracker.setTag('browser', 'our own kiosk')
      throw new Error('koa boom')
    })
    app.silent = true
    await request(app.callback()).get('/').set('User-Agent', FIREFOX).expect(500)
    const { event } = await onlyEvent(tracker)
    expect(event.tags).toMatchObject({ browser: 'our own kiosk', 'browser.version': 'Firefox 133', os: 'Linux', device: 'desktop' })
  })

  it('tags events whose body is shed under load, so the breakdown counts every event', async () => {
    const tracker = newTracker({ retention: { maxEventsPerIssue: 1 } })
    const app = express()
    app.use(tracker.express())
    app.get('/boom', () => {
      throw new Error('boom')
    })
    for (const ua of [CHROME, FIREFOX, SAFARI_IOS, CHROME_ANDROID]) await request(app).get('/boom').set('User-Agent', ua).expect(500)
    const { issue } = await onlyEvent(tracker)
    expect(tracker.stats().shed).toBe(3)
    const breakdown = await tracker.store.tagBreakdown(issue.id, { limit: 5 })
    expect(breakdown.find((tag) => tag.key === 'browser')?.values.map((v) => [v.value, v.count]).sort()).toEqual([['Chrome', 2], ['Firefox', 1], ['Safari', 1]])
    expect(breakdown.find((tag) => tag.key === 'device')?.values.map((v) => [v.value, v.count]).sort()).toEqual([['desktop', 2], ['mobile', 2]])
  })

  it('gives a server event without a request no browser or OS tags', async () => {
    const tracker = newTracker()
    tracker.express()
    tracker.captureException(new Error('in a cron job'))
    const { event } = await onlyEvent(tracker)
    expect(Object.keys(event.tags)).not.toContain('browser')
    expect(Object.keys(event.tags)).not.toContain('os')
    expect(Object.keys(event.tags)).not.toContain('device')
  })
})

describe('userAgentTags', () => {
  beforeAll(() => loadUserAgentParser())

  it('names the browser, its major version, the OS and the kind of device', () => {
    expect(userAgentTags(CHROME)).toEqual({ browser: 'Chrome', 'browser.version': 'Chrome 131', os: 'Windows', device: 'desktop' })
    expect(userAgentTags(FIREFOX)).toEqual({ browser: 'Firefox', 'browser.version': 'Firefox 133', os: 'Linux', device: 'desktop' })
    expect(userAgentTags(SAFARI_IOS)).toEqual({ browser: 'Safari', 'browser.version': 'Safari 17', os: 'iOS', device: 'mobile' })
    expect(userAgentTags(CHROME_ANDROID)).toEqual({ browser: 'Chrome', 'browser.version': 'Chrome 131', os: 'Android', device: 'mobile' })
  })

  it('gives no tags for a client it does not recognise, nor for garbage', () => {
    expect(userAgentTags(CURL)).toEqual({})
    expect(userAgentTags('\u0000\u00ff<script>alert(1)</script>')).toEqual({})
    expect(userAgentTags('')).toEqual({})
  })

  it('reads only the start of a 10 KB user agent, quickly', () => {
    const huge = CHROME + ' ' + 'x'.repeat(10 * 1024)
    const started = performance.now()
    for (let i = 0; i < 100; i++) userAgentTags(`${huge}${i}`)
    // 100 distinct 10 KB headers: each parse reads 512 characters, not 10 KB
    expect(performance.now() - started).toBeLessThan(500)
    expect(userAgentTags(huge)).toEqual({ browser: 'Chrome', 'browser.version': 'Chrome 131', os: 'Windows', device: 'desktop' })
    expect(userAgentTags('y'.repeat(10 * 1024))).toEqual({})
  })

  it('finds the header in any letter case, and never throws on a hostile request object', () => {
    expect(userAgentOf({ headers: { 'user-agent': CHROME } })).toBe(CHROME)
    expect(userAgentOf({ headers: { 'User-Agent': FIREFOX } })).toBe(FIREFOX)
    expect(userAgentOf({ headers: {} })).toBeNull()
    expect(userAgentOf(null)).toBeNull()
    const hostile = new Proxy({}, { get: () => { throw new Error('no') }, ownKeys: () => { throw new Error('no') } })
    expect(userAgentOf(hostile)).toBeNull()
    expect(userAgentOf({ headers: hostile })).toBeNull()
  })
})
