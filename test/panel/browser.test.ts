import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import type { Browser, Page } from 'playwright-core'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'

const available = chromiumAvailable('panel browser tests')

function chargeCard(): never {
  throw new Error('Card declined by the bank')
}
const LONG_DECLINE = 'Payment provider declined the charge after three retries: the card issuer reported insufficient funds on the account'
function payOrder(): never {
  throw new Error(LONG_DECLINE)
}
function loadProfile(): never {
  throw new TypeError("Cannot read properties of undefined (reading 'avatar')")
}
function exportReport(): never {
  throw new RangeError('Report export ran past the row limit')
}

describe.runIf(available)('panel in a browser', () => {
  let tracker: Tracker
  let server: http.Server
  let origin: string
  let browser: Browser

  beforeAll(async () => {
    tracker = createTracker({ store: memoryStore(), environment: 'development', appName: 'shop', captureUncaught: false, captureUnhandledRejections: false })
    const app = express()
    app.use(tracker.express())
    app.get('/checkout', () => {
      tracker.setTag('plan', 'pro')
      chargeCard()
    })
    app.get('/orders/:id/pay', (req) => {
      tracker.setUser({ email: `customer-${req.params.id}-with-a-long-mailbox@example.com` })
      payOrder()
    })
    app.get('/profile', () => {
      tracker.setTag('plan', 'free')
      loadProfile()
    })
    app.get('/export', () => {
      tracker.setUser({ id: 'u-7', email: 'ann@example.com', plan: 'team' })
      exportReport()
    })
    server = http.createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
    await tracker?.close()
  })

  async function hit(path: string): Promise<void> {
    expect((await fetch(origin + path)).status).toBe(500)
    await tracker.flush()
  }

  /** A page that records console errors, page errors and CSP violations. */
  async function watchedPage(width = 1280): Promise<{ page: Page; problems: string[]; violations: () => Promise<string[]> }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } })
    const problems: string[] = []
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('dialog', (dialog) => void dialog.accept())
    await page.addInitScript(() => {
      const w = window as unknown as { __violations: string[] }
      w.__violations = []
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    const violations = () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)
    return { page, problems, violations }
  }

  it('searches by tag, resolves an issue, and sees it come back as a regression', async () => {
    await hit('/checkout')
    await hit('/profile')
    const { page, problems, violations } = await watchedPage()

    await page.goto(`${origin}/errors`)
    await expect.poll(() => page.locator('.issues .issue').count()).toBe(2)
    expect(await page.locator('.tabs a[aria-current="page"]').innerText()).toMatch(/Unresolved\s+2/)

    // search by tag with the keyboard shortcut and Enter
    await page.keyboard.press('/')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q')
    await page.keyboard.type('plan:pro')
    await page.keyboard.press('Enter')
    await page.waitForURL(/q=plan%3Apro/)
    const titles = await page.locator('.issues a.title').allInnerTexts()
    expect(titles).toEqual(['Error: Card declined by the bank'])

    // open it: the stack shows the in-app frame with its source open
    await page.locator('.issues a.title').first().click()
    await page.waitForURL(/\/errors\/issues\/[0-9a-f]+$/)
    const issueUrl = page.url()
    expect(await page.locator('h1').innerText()).toBe('Error: Card declined by the bank')
    expect(await page.locator('.frame.in-app details[open] summary').first().innerText()).toContain('chargeCard')
    expect(await page.locator('.tags li').allInnerTexts()).toContain('plan\npro')

    await page.locator('button[value="resolve"]').click()
    await page.waitForURL(/done=resolve/)
    expect(await page.locator('.notice').innerText()).toBe('1 issue resolved.')
    expect(await page.locator('.issue-head .badge').first().innerText()).toMatch(/resolved/i)

    // back to the list: it left the unresolved tab and sits under Resolved
    await page.locator('.crumbs a').click()
    expect(await page.locator('.issues a.title').allInnerTexts()).toEqual(["TypeError: Cannot read properties of undefined (reading 'avatar')"])
    expect(await page.locator('.tabs a', { hasText: /^Resolved/ }).innerText()).toMatch(/Resolved\s+1/)
    await page.locator('.tabs a', { hasText: /^Resolved/ }).click()
    expect(await page.locator('.issues a.title').allInnerTexts()).toEqual(['Error: Card declined by the bank'])

    // it happens again: a regression, back in the unresolved tab with its badge
    await hit('/checkout')
    await page.goto(`${origin}/errors`)
    const row = page.locator('.issues .issue', { hasText: 'Card declined' })
    expect(await row.locator('.badge.regressed').innerText()).toBe('Regression')
    await page.goto(issueUrl)
    expect(await page.locator('.issue-head .badge.regressed').innerText()).toBe('Regression')

    expect(problems).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  }, 60_000)

  it('selects all rows with the script and deletes them in bulk after confirming', async () => {
    const { page, problems, violations } = await watchedPage()
    await page.goto(`${origin}/errors?status=all`)
    const before = await page.locator('.issues .issue').count()
    expect(before).toBeGreaterThan(0)
    await page.locator('[data-select-all]').check()
    expect(await page.locator('.issues input[name="id"]:checked').count()).toBe(before)
    await page.locator('.toolbar button[value="delete"]').click()
    await page.waitForURL(/done=delete/)
    expect(await page.locator('.notice').innerText()).toBe(`${before} issues deleted.`)
    expect(await page.locator('.issues .issue').count()).toBe(0)
    expect(problems).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  }, 60_000)

  it('notices a CSP violation when one happens (the watcher itself works)', async () => {
    const { page, problems, violations } = await watchedPage()
    await page.goto(`${origin}/errors`)
    await page.evaluate(() => {
      const style = document.createElement('style')
      style.textContent = 'body { color: red }'
      document.head.appendChild(style)
    })
    await expect.poll(violations).toEqual([expect.stringMatching(/^style-src/)])
    expect(problems.join('\n')).toContain('Content Security Policy')
    await page.close()
  }, 60_000)

  it('fits a 375 px wide phone screen without sideways scrolling', async () => {
    await hit('/profile')
    const { page, problems, violations } = await watchedPage(375)
    await page.goto(`${origin}/errors`)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    // every status tab is on screen, none cut off or left for a sideways scroll of the tab row
    const tabs = await page.locator('.tabs a').all()
    expect(tabs).toHaveLength(4)
    for (const tab of tabs) {
      const box = await tab.boundingBox()
      expect(box).not.toBeNull()
      expect(box!.x).toBeGreaterThanOrEqual(0)
      expect(box!.x + box!.width).toBeLessThanOrEqual(375)
    }
    await page.locator('.issues a.title').first().click()
    await page.waitForURL(/\/issues\//)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    expect(problems).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  }, 60_000)

  /** Where each status tab sits, and where the tab row's bottom line is, as the reader sees them. */
  async function tabLayout(page: Page) {
    return page.locator('.tabs').evaluate((nav) => {
      const box = (el: Element) => {
        const r = el.getBoundingClientRect()
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }
      }
      const tabs = Array.from(nav.querySelectorAll('a')).map((a) => {
        const style = getComputedStyle(a)
        return {
          label: a.textContent!.trim().split(/\s+/)[0],
          current: a.getAttribute('aria-current') === 'page',
          ...box(a),
          count: box(a.querySelector('.count')!),
          underline: parseFloat(style.borderBottomWidth),
          underlineColor: style.borderBottomColor,
        }
      })
      const navBox = box(nav)
      return { tabs, lineTop: navBox.bottom - parseFloat(getComputedStyle(nav).borderBottomWidth), scrollWidth: nav.scrollWidth, clientWidth: nav.clientWidth }
    })
  }

  it('keeps the status tabs on one row on a 375 px phone, the current one underlined right under it', async () => {
    for (const status of ['unresolved', 'resolved', 'ignored', 'all']) {
      const { page, problems, violations } = await watchedPage(375)
      await page.goto(`${origin}/errors?status=${status}`)
      const { tabs, lineTop, scrollWidth, clientWidth } = await tabLayout(page)
      expect(tabs.map((t) => t.label)).toEqual(['Unresolved', 'Resolved', 'Ignored', 'All'])
      // one row: every tab starts at the same height and ends on the row's bottom line
      for (const tab of tabs) {
        expect(tab.top, `${tab.label} tab on the ${status} page`).toBeCloseTo(tabs[0].top, 0)
        expect(tab.bottom, `${tab.label} tab on the ${status} page`).toBeCloseTo(lineTop, 0)
        expect(tab.left).toBeGreaterThanOrEqual(0)
        expect(tab.right).toBeLessThanOrEqual(375)
      }
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth)
      // the underline: the current tab's bottom border, coloured, lying on the row's bottom line and
      // spanning the current tab only, not running under a neighbour
      const current = tabs.filter((t) => t.current)
      expect(current.map((t) => t.label.toLowerCase())).toEqual([status])
      const [tab] = current
      expect(tab.underline).toBe(2)
      expect(tab.underlineColor).not.toBe('rgba(0, 0, 0, 0)')
      for (const other of tabs.filter((t) => !t.current)) {
        expect(other.underlineColor).toBe('rgba(0, 0, 0, 0)')
        expect(other.right <= tab.left + 0.5 || other.left >= tab.right - 0.5, `${other.label} overlaps the underlined ${tab.label}`).toBe(true)
        expect(other.bottom <= tab.bottom - tab.underline || other.top >= tab.bottom || other.right <= tab.left || other.left >= tab.right).toBe(true)
      }
      expect(problems).toEqual([])
      expect(await violations()).toEqual([])
      await page.close()
    }
  }, 60_000)

  it('lays the status tabs out as before on a wide screen: side by side, each count beside its label', async () => {
    const { page } = await watchedPage(1280)
    await page.goto(`${origin}/errors`)
    const { tabs, lineTop } = await tabLayout(page)
    expect(tabs.map((t) => t.label)).toEqual(['Unresolved', 'Resolved', 'Ignored', 'All'])
    for (const [i, tab] of tabs.entries()) {
      expect(tab.top).toBeCloseTo(tabs[0].top, 0)
      expect(tab.bottom).toBeCloseTo(lineTop, 0)
      // the count on the label's line, at the tab's right end after 12 px of padding
      expect(Math.abs((tab.count.top + tab.count.bottom) / 2 - (tab.top + tab.bottom - tab.underline) / 2)).toBeLessThan(3)
      expect(tab.right - tab.count.right).toBeCloseTo(12, 0)
      if (i > 0) expect(tab.left - tabs[i - 1].right).toBeCloseTo(2, 0)
    }
    expect(tabs[0].current).toBe(true)
    expect(tabs[0].underline).toBe(2)
    await page.close()
  }, 60_000)

  it('ignores until 3 more events when 3 is typed in the events box and Enter pressed, and says so', async () => {
    await hit('/profile')
    const { page, problems, violations } = await watchedPage()
    await page.goto(`${origin}/errors`)
    await page.locator('.issues a.title', { hasText: 'avatar' }).click()
    await page.waitForURL(/\/errors\/issues\/[0-9a-f]+$/)
    const id = page.url().split('/').pop()!
    const count = (await tracker.store.getIssue(id))!.count

    await page.locator('.ignore summary').click()
    const events = page.locator('.ignore-form input[name="events"]')
    await events.click()
    await page.keyboard.press('Control+A')
    await page.keyboard.type('3')
    // Enter in the box submits its own choice, not the first one (forever)
    await page.keyboard.press('Enter')
    await page.waitForURL(/done=ignore/)

    expect(await tracker.store.getIssue(id)).toMatchObject({ status: 'ignored', ignoreUntil: { count: count + 3 } })
    expect(await page.locator('.notice').innerText()).toBe('1 issue ignored until 3 more events.')
    expect(await page.locator('.issue-head .until').innerText()).toBe(`ignored until 3 more events (${count + 3} in total)`)

    // a duration, through its own button
    await page.locator('.ignore summary').click()
    await page.locator('.ignore-form select[name="for"]').selectOption('7d')
    await page.locator('.ignore-form form', { has: page.locator('select[name="for"]') }).locator('button').click()
    await page.waitForURL(/done=ignore/)
    const until = (await tracker.store.getIssue(id))!.ignoreUntil
    expect(Date.parse(until!.at!) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000)
    expect(until!.count).toBeUndefined()

    expect(problems).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  }, 60_000)

  it('shows each event\'s method and path on the events page, whole text in a tooltip, on a wide screen and a phone', async () => {
    for (const order of [1001, 1002]) expect((await fetch(`${origin}/orders/${order}/pay?attempt=2`)).status).toBe(500)
    await tracker.flush()
    const { issues } = await tracker.store.listIssues({ status: 'all', q: 'insufficient funds' })
    expect(issues).toHaveLength(1)
    for (const width of [1280, 390]) {
      const { page, problems, violations } = await watchedPage(width)
      await page.goto(`${origin}/errors/issues/${issues[0].id}/events`)
      const cells = await page.locator('.events-table tbody tr').evaluateAll((rows) => rows.map((tr) => {
        const cell = (name: string) => {
          const td = tr.querySelector(`td.${name}`) as HTMLElement
          const r = td.getBoundingClientRect()
          return { text: td.innerText, title: td.getAttribute('title'), clipped: td.scrollWidth > td.clientWidth, left: r.left, right: r.right, width: r.width }
        }
        return { url: cell('url'), message: cell('message'), user: cell('user') }
      }))
      // the part that differs between events is on screen in full, and the whole URL is in the tooltip
      expect(cells.map((c) => c.url.text), `at ${width} px`).toEqual(['GET /orders/1002/pay?attempt=2', 'GET /orders/1001/pay?attempt=2'])
      for (const [i, { url, message, user }] of cells.entries()) {
        const order = 1002 - i
        expect(url.clipped, `at ${width} px`).toBe(false)
        expect(url.width).toBeGreaterThan(0)
        expect(url.left).toBeGreaterThanOrEqual(0)
        expect(url.right).toBeLessThanOrEqual(width)
        expect(url.title).toBe(`GET ${origin}/orders/${order}/pay?attempt=2`)
        // clipped or not, the message and the user carry their whole text
        expect(message.title).toBe(LONG_DECLINE)
        expect(user.title).toBe(`customer-${order}-with-a-long-mailbox@example.com`)
        expect(message.clipped, `at ${width} px`).toBe(true)
      }
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
      expect(problems).toEqual([])
      expect(await violations()).toEqual([])
      await page.close()
    }
  }, 60_000)

  it('keeps the bulk buttons disabled until an issue is ticked', async () => {
    await hit('/checkout')
    const { page, problems, violations } = await watchedPage()
    await page.goto(`${origin}/errors`)
    const buttons = page.locator('.toolbar button[name="action"]')
    expect(await buttons.evaluateAll((bs) => bs.map((b) => (b as HTMLButtonElement).value))).toEqual(['resolve', 'ignore', 'delete'])
    const enabled = () => buttons.evaluateAll((bs) => bs.map((b) => !(b as HTMLButtonElement).disabled))
    expect(await enabled()).toEqual([false, false, false])
    const box = page.locator('.issues input[name="id"]').first()
    await box.check()
    expect(await enabled()).toEqual([true, true, true])
    await box.uncheck()
    expect(await enabled()).toEqual([false, false, false])
    // the keyboard and select-all tick boxes too
    await page.locator('body').click({ position: { x: 5, y: 5 } })
    await page.keyboard.press('j')
    await page.keyboard.press('x')
    expect(await enabled()).toEqual([true, true, true])
    await page.locator('[data-select-all]').check()
    await page.locator('[data-select-all]').uncheck()
    expect(await enabled()).toEqual([false, false, false])
    expect(problems).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  }, 60_000)

  it('without JavaScript, a bulk action with nothing ticked comes back to the list with a notice', async () => {
    await hit('/checkout')
    const page = await browser.newPage({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } })
    await page.goto(`${origin}/errors?sort=events`)
    const rows = await page.locator('.issues .issue').count()
    expect(rows).toBeGreaterThan(0)
    expect(await page.locator('.toolbar button[value="resolve"]').isDisabled()).toBe(false)
    await page.locator('.toolbar button[value="resolve"]').click()
    await page.waitForURL(/done=none/)
    expect(new URL(page.url()).pathname).toBe('/errors')
    expect(new URL(page.url()).searchParams.get('sort')).toBe('events')
    expect(await page.locator('.notice').innerText()).toBe('Tick at least one issue, then choose an action.')
    expect(await page.locator('.issues .issue').count()).toBe(rows)
    await page.close()
  }, 60_000)

  it('without JavaScript, adds a note and resolves in the next release from the issue page, both in its activity log', async () => {
    await hit('/export')
    const [issue] = (await tracker.store.listIssues({ status: 'all', q: 'row limit' })).issues
    const page = await browser.newPage({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } })
    await page.goto(`${origin}/errors/issues/${issue.id}`)
    expect(await page.locator('#users .user-fields').first().innerText()).toMatch(/id\s+u-7\s+email\s+ann@example\.com\s+plan\s+team/)

    const note = 'Export job hit the limit <b>again</b>\nRaising it in the next deploy'
    await page.locator('#note-text').fill(note)
    await page.locator('.note-form button[type="submit"]').click()
    await page.waitForURL(/done=note/)
    expect(await page.locator('.notice').innerText()).toBe('1 note added.')
    expect(await page.locator('.log-entry.kind-note .note-text').innerText()).toBe(note)

    await page.locator('button[value="resolveNext"]').click()
    await page.waitForURL(/done=resolveNext/)
    const { resolvedInRelease } = (await tracker.store.getIssue(issue.id))!
    expect(resolvedInRelease).toBe(issue.lastRelease)
    expect(await page.locator('.issue-head').innerText()).toContain(`Resolved in the next release (after ${resolvedInRelease})`)
    expect(await page.locator('.log-entry .what').allInnerTexts()).toEqual(['First seen', 'Note', `Resolved in the next release (after ${resolvedInRelease})`])
    await page.close()
  }, 60_000)
})
