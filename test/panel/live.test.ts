/**
 * The live list and issue pages in Chromium: what is recorded while a page is open shows there within
 * the poll interval, with one request per interval at most and none while the tab is hidden.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { memoryStore } from '../../adapters/memory.js'
import type { Store } from '../../lib/types.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { capture, failingLookup, panelServer, repeat } from './helpers.js'

/** The script's poll interval (views/panel/panel.js), and the bound a test waits for a change. */
const POLL_MS = 5000
const WITHIN = POLL_MS + 2500

const available = chromiumAvailable('panel live update tests')

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Hides or shows the page as a switch of tab does: document.hidden, visibilityState and the event. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

describe.runIf(available)('panel live update', () => {
  let browser: Browser
  const servers: http.Server[] = []

  beforeAll(async () => {
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    for (const server of servers) server.close()
  })

  async function openPanel(store: Store, options = {}): Promise<string> {
    const server = panelServer(store, options)
    servers.push(server)
    return `${await listen(server)}/errors`
  }

  /** A page in its own context, with the panel API requests it makes and any script or CSP problem. */
  async function watched(context: BrowserContext): Promise<{ page: Page; polls: string[]; problems: string[] }> {
    const page = await context.newPage()
    const polls: string[] = []
    const problems: string[] = []
    page.on('request', (req) => { if (req.url().includes('/errors/api/')) polls.push(req.url()) })
    page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(msg.text()) })
    page.on('pageerror', (err) => problems.push(err.message))
    return { page, polls, problems }
  }

  it('announces a new issue of the open tab and search, and updates the counts in place', async () => {
    const store = memoryStore()
    const first = (await capture(store, { error: failingLookup(1), tags: { plan: 'pro' } })).issue.id
    const base = await openPanel(store)
    const context = await browser.newContext()
    const { page, polls, problems } = await watched(context)
    await page.goto(`${base}?q=plan:pro`)
    expect(await page.locator('.issues .issue').count()).toBe(1)
    const row = page.locator(`.issues .issue[data-id="${first}"]`)
    expect(await row.locator('.events').innerText()).toBe('1 event')

    // another event of the shown issue, a new issue that matches the search, one that does not
    await repeat(store, first)
    await capture(store, { error: new RangeError('Quota exceeded for plan'), tags: { plan: 'pro' } })
    await capture(store, { error: new RangeError('Free plan only'), tags: { plan: 'free' } })
    const recordedAt = Date.now()

    await expect.poll(() => page.locator('.live-bar').textContent(), { timeout: WITHIN }).toBe('1 new issue in this list. Show them')
    expect(Date.now() - recordedAt).toBeLessThan(WITHIN)
    expect(await row.locator('.events').innerText()).toBe('2 events')
    expect(await row.locator('.events').getAttribute('title')).toBe('2 events')
    expect(await page.locator('.tabs a', { hasText: 'Unresolved' }).innerText()).toMatch(/Unresolved\s+2/)
    expect(await page.locator('.tabs a', { hasText: 'All' }).innerText()).toMatch(/All\s+2/)
    // the rows themselves are left as they were until asked for
    expect(await page.locator('.issues .issue').count()).toBe(1)
    // the poll asks for this very list: same status, search and sort, with the counts
    const asked = new URL(polls[0])
    expect(asked.pathname).toBe('/errors/api/issues')
    expect(Object.fromEntries(asked.searchParams)).toEqual({ status: 'unresolved', q: 'plan:pro', sort: 'lastSeen', limit: '25', counts: '1' })

    await page.locator('.live-bar a').click()
    await page.waitForLoadState()
    expect(await page.locator('.issues a.title').allInnerTexts()).toEqual(['RangeError: Quota exceeded for plan', expect.stringContaining('TypeError')])
    expect(new URL(page.url()).searchParams.get('q')).toBe('plan:pro')
    expect(problems).toEqual([])
    await context.close()
  }, 60_000)

  it('updates an issue page\'s counts and says how many events came since it was loaded', async () => {
    const store = memoryStore()
    const id = (await capture(store, { error: failingLookup(2), user: { id: 'u1' } })).issue.id
    const base = await openPanel(store)
    const context = await browser.newContext()
    const { page, problems } = await watched(context)
    await page.goto(`${base}/issues/${id}`)
    const events = page.locator('.stats [data-live="count"]')
    expect(await events.innerText()).toBe('1')
    expect(await page.locator('.live').innerText()).toBe('')

    await repeat(store, id)
    await repeat(store, id)
    await expect.poll(() => events.innerText(), { timeout: WITHIN }).toBe('3')
    await expect.poll(() => page.locator('.live-bar').textContent(), { timeout: 1000 }).toBe('2 new events since this page was loaded. Show')
    expect(await page.locator('.stats [data-live="lastSeen"]').innerText()).toBe('just now')

    // resolved in another tab: said too
    await store.updateIssue(id, { status: 'resolved' })
    await expect.poll(() => page.locator('.live-bar').textContent(), { timeout: WITHIN }).toBe('2 new events since this page was loaded. The issue is now resolved. Show')
    await page.locator('.live-bar a').click()
    await page.waitForLoadState()
    expect(await page.locator('.issue-head .badge').first().innerText()).toMatch(/resolved/i)

    // deleted in another tab: said, and the page stops asking
    await store.deleteIssue(id)
    await expect.poll(() => page.locator('.live-bar').textContent(), { timeout: WITHIN }).toBe('This issue has been deleted.')
    expect(problems.filter((p) => !p.includes('404'))).toEqual([])
    await context.close()
  }, 60_000)

  it('asks at most once per interval, never while the tab is hidden, and again as soon as it is shown', async () => {
    const store = memoryStore()
    await capture(store, { error: failingLookup(3) })
    const base = await openPanel(store)
    const context = await browser.newContext()
    const { page, polls } = await watched(context)
    // the page's clock is run forward by hand, a second at a time, each answer let in before the next
    await page.clock.install()
    await page.goto(base)
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        await page.clock.runFor(Math.min(1000, ms - t))
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await pass(POLL_MS * 6)
    expect(polls).toHaveLength(6)

    await setHidden(page, true)
    await pass(POLL_MS * 12)
    expect(polls).toHaveLength(6)

    // shown again: it asks at once (the last answer is a minute old), then once per interval again
    await capture(store, { error: new Error('While hidden') })
    await setHidden(page, false)
    await expect.poll(() => polls.length).toBe(7)
    await expect.poll(() => page.locator('.live-bar').textContent()).toBe('1 new issue in this list. Show them')
    // (the page's clock also runs on by itself: the checks below leave it a second or two)
    await pass(POLL_MS - 2000)
    expect(polls).toHaveLength(7)
    await pass(2000)
    await expect.poll(() => polls.length).toBe(8)

    // hidden and shown again before an interval has passed: it waits for the rest of the interval
    await pass(1000)
    await setHidden(page, true)
    await setHidden(page, false)
    await pass(2000)
    expect(polls).toHaveLength(8)
    await pass(2000)
    await expect.poll(() => polls.length).toBe(9)
    await context.close()
  }, 60_000)

  it('polls with the Basic credentials the browser already holds', async () => {
    const store = memoryStore()
    await capture(store, { error: failingLookup(4) })
    const base = await openPanel(store, { panel: { auth: { username: 'admin', password: 'secret' } } })
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: 'secret' } })
    const { page, problems } = await watched(context)
    const answers: number[] = []
    page.on('response', (res) => { if (res.url().includes('/errors/api/')) answers.push(res.status()) })
    await page.goto(base)
    await capture(store, { error: new Error('Seen by an admin') })
    await expect.poll(() => page.locator('.live-bar').textContent(), { timeout: WITHIN }).toBe('1 new issue in this list. Show them')
    expect(answers).toEqual([200])
    expect(problems).toEqual([])
    await context.close()
  }, 60_000)

  it('leaves a page without JavaScript as it was: no bar, no request', async () => {
    const store = memoryStore()
    await capture(store, { error: failingLookup(5) })
    const base = await openPanel(store)
    const context = await browser.newContext({ javaScriptEnabled: false })
    const { page, polls } = await watched(context)
    await page.goto(base)
    expect(await page.locator('.issues .issue').count()).toBe(1)
    await capture(store, { error: new Error('Not shown without a reload') })
    await new Promise((resolve) => setTimeout(resolve, WITHIN))
    expect(polls).toEqual([])
    expect(await page.locator('.live-bar').count()).toBe(0)
    await page.reload()
    expect(await page.locator('.issues .issue').count()).toBe(2)
    await context.close()
  }, 60_000)
})
