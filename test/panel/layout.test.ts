/**
 * What the panel's pages look like in Chromium: the stat tiles on a phone, the level bar's colours,
 * the breadcrumb, times in the viewer's time zone, chart axes, and the events table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { memoryStore } from '../../adapters/memory.js'
import type { Store } from '../../lib/types.js'
import { groupEvent } from '../../common/fingerprint.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { capture, failingLookup, panelServer } from './helpers.js'

const available = chromiumAvailable('panel layout tests')

describe.runIf(available)('panel layout', () => {
  let browser: Browser
  let server: http.Server
  let base: string
  let store: Store
  const ids: Record<string, string> = {}
  // an hour boundary a little while ago, so the event's local time is known exactly
  const at = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000 + 125_000)

  beforeAll(async () => {
    store = memoryStore()
    ids.error = (await capture(store, { error: failingLookup(1), at, user: { id: 'u1' } })).issue.id
    // the same error a second later, from nobody signed in
    const [first] = (await store.listEvents(ids.error, { limit: 1 })).events
    const { user: _user, ...anonymous } = { ...first, event_id: 'a'.repeat(32), timestamp: new Date(at.getTime() + 1000).toISOString() }
    await store.record({ event: anonymous, grouping: groupEvent(anonymous), userKey: null })
    ids.fatal = (await capture(store, { error: new Error('Out of memory'), level: 'fatal' })).issue.id
    ids.warning = (await capture(store, { message: 'Disk at 91%', level: 'warning' })).issue.id
    ids.info = (await capture(store, { message: 'Deploy finished', level: 'info' })).issue.id
    ids.resolved = (await capture(store, { error: new Error('Fixed already') })).issue.id
    ids.ignored = (await capture(store, { error: new Error('Noise') })).issue.id
    await store.updateIssue(ids.resolved, { status: 'resolved' })
    await store.updateIssue(ids.ignored, { status: 'ignored' })
    server = panelServer(store)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/errors`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  /** The tiles grouped in rows as they are laid out, with the box they sit in. */
  async function tileRows(page: Page) {
    return page.locator('.stats').evaluate((stats) => {
      const inner = stats.getBoundingClientRect()
      const border = parseFloat(getComputedStyle(stats).borderLeftWidth)
      const rows = new Map<number, Array<{ left: number; right: number }>>()
      for (const tile of Array.from(stats.children)) {
        const r = tile.getBoundingClientRect()
        const row = rows.get(Math.round(r.top)) ?? []
        row.push({ left: r.left, right: r.right })
        rows.set(Math.round(r.top), row)
      }
      return { left: inner.left + border, right: inner.right - border, rows: [...rows.values()] }
    })
  }

  it('lays the five stat tiles out with no empty cell, on a 375 px phone and wider', async () => {
    for (const [width, perRow] of [[375, [2, 2, 1]], [600, [3, 2]], [1280, [5]]] as const) {
      const page = await browser.newPage({ viewport: { width, height: 800 } })
      await page.goto(`${base}/issues/${ids.error}`)
      const { left, right, rows } = await tileRows(page)
      expect(rows.map((r) => r.length), `at ${width} px`).toEqual(perRow)
      // every row, the last one too, runs from the box's left edge to its right edge
      for (const row of rows) {
        expect(row[0].left, `at ${width} px`).toBeCloseTo(left, 0)
        expect(row[row.length - 1].right, `at ${width} px`).toBeCloseTo(right, 0)
      }
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
      await page.close()
    }
  }, 60_000)

  it('colours the left bar by level, and grey once an issue is resolved or ignored', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}?status=all`)
    const bar = (id: string) => page.locator(`.issue[data-id="${id}"]`).evaluate((li) => getComputedStyle(li).borderLeftColor)
    const colours = { fatal: await bar(ids.fatal), error: await bar(ids.error), warning: await bar(ids.warning), info: await bar(ids.info) }
    expect(new Set(Object.values(colours)).size).toBe(4)
    const grey = await bar(ids.resolved)
    expect(await bar(ids.ignored)).toBe(grey)
    expect(Object.values(colours)).not.toContain(grey)
    const [r, g, b] = grey.match(/\d+/g)!.map(Number)
    expect(Math.max(r, g, b) - Math.min(r, g, b), `${grey} is a grey`).toBeLessThan(30)
    // the issue page's head says the same
    await page.goto(`${base}/issues/${ids.fatal}`)
    expect(await page.locator('.issue-head').evaluate((el) => getComputedStyle(el).borderLeftColor)).toBe(colours.fatal)
    await page.goto(`${base}/issues/${ids.resolved}`)
    expect(await page.locator('.issue-head').evaluate((el) => getComputedStyle(el).borderLeftColor)).toBe(grey)
    await page.close()
  }, 60_000)

  it('names the issue in the breadcrumb, cut to one line when long', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } })
    await page.goto(`${base}/issues/${ids.error}`)
    const title = await page.locator('h1').innerText()
    expect(await page.locator('.crumbs [aria-current="page"]').innerText()).toBe(title)
    expect(await page.locator('.crumbs').innerText()).not.toContain(ids.error)
    const crumbs = await page.locator('.crumbs').evaluate((nav) => ({ height: nav.getBoundingClientRect().height, line: parseFloat(getComputedStyle(nav).lineHeight) || 20 }))
    expect(crumbs.height).toBeLessThan(crumbs.line * 1.5)
    expect(await page.locator('.crumbs [aria-current="page"]').getAttribute('title')).toBe(title)
    await page.close()
  }, 60_000)

  it('shows times in the viewer\'s time zone with UTC on hover, and chart axes', async () => {
    // Tokyo: 9 hours ahead of UTC all year round
    const context = await browser.newContext({ timezoneId: 'Asia/Tokyo', locale: 'en-US' })
    const page = await context.newPage()
    await page.goto(`${base}/issues/${ids.error}/events`)
    await page.locator('.events-table a').last().click()
    const tokyo = new Date(at.getTime() + 9 * 3_600_000).toISOString()
    const time = page.locator('.event-meta time')
    expect(await time.innerText()).toBe(`${tokyo.slice(0, 10)} ${tokyo.slice(11, 19)} GMT+9`)
    expect(await time.getAttribute('title')).toBe(`${at.toISOString().slice(0, 10)} ${at.toISOString().slice(11, 19)} UTC`)
    // relative times keep their words, with the exact time on hover
    expect(await page.locator('.stats time').first().getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+9 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/)

    // the hourly chart: its axis in Tokyo hours from 24 hours ago to now, the tallest bar's count on the left
    const hourly = page.locator('.charts figure').first()
    expect(await hourly.locator('figcaption').innerText()).toContain('times in GMT+9')
    const ticks = await hourly.locator('.x-axis > *').allInnerTexts()
    const firstHour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 23 * 3_600_000 + 9 * 3_600_000).toISOString().slice(11, 16)
    expect(ticks).toHaveLength(5)
    expect(ticks[0]).toBe(firstHour)
    expect(ticks[4]).toBe('now')
    expect(await hourly.locator('.y-axis').innerText()).toBe('2\n0')
    const barTitle = await hourly.locator('rect.bar title').first().textContent()
    expect(barTitle).toBe(`${tokyo.slice(0, 10)} ${tokyo.slice(11, 13)}:00 GMT+9: 2 events`)
    // the daily chart counts UTC days, and says so
    const daily = page.locator('.charts figure').nth(1)
    expect(await daily.locator('figcaption').innerText()).toContain('(daily, UTC)')
    expect(await daily.locator('.x-axis > *').allInnerTexts()).toEqual([expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}$/), expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}$/), expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}$/), 'today'])
    await context.close()

    // without JavaScript the same page says UTC
    const plain = await browser.newContext({ timezoneId: 'Asia/Tokyo', javaScriptEnabled: false })
    const still = await plain.newPage()
    await still.goto(`${base}/issues/${ids.error}`)
    expect(await still.locator('.event-meta time').innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
    expect(await still.locator('.charts figure').first().locator('figcaption').innerText()).toContain('times in UTC')
    await plain.close()
  }, 60_000)

  it('gives the message the room in the events table, a dash for no user, and says what it shows', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(`${base}/issues/${ids.error}/events`)
    const widths = await page.locator('.events-table thead th').evaluateAll((ths) => ths.map((th) => [th.className, th.getBoundingClientRect().width] as const))
    const widest = widths.reduce((a, b) => (b[1] > a[1] ? b : a))
    expect(widest[0]).toBe('message')
    expect(await page.locator('.events-table tbody td.user').allInnerTexts()).toEqual(['—', 'u1'])
    expect(await page.locator('.events-table tbody td.user').first().getAttribute('title')).toBe('No user')
    expect(await page.locator('.caption').innerText()).toBe('Showing 2 of 2 events.')
    await page.close()
  }, 60_000)
})
