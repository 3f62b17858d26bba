/**
 * The panel for every admin: axe-core (WCAG 2.1 A and AA) on every page the panel serves, found by
 * following its links from the list, so a page added later is checked without a change here; and
 * the actions done with the keyboard alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import type { Store } from '../../lib/types.js'
import { groupEvent, userKey } from '../../common/fingerprint.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'
import { capture, paymentError, panelServer, repeat, seededStore } from './helpers.js'

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
/** A bound on the crawl, far above the panel's kinds of page, so a link loop cannot run on. */
const MAX_PAGES = 40

const available = chromiumAvailable('panel accessibility tests')

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** The same kind of page: ids in the path and the query do not count (the seeds hold the queries that change a page's content). */
function pageKind(url: URL): string {
  return url.pathname.split('/').map((part) => (/^[0-9a-f]{16,}$/i.test(part) ? ':id' : part)).join('/')
}

/** Every issue state and an event with every section: message, causes, request with body, query and cookies, full user, breadcrumbs, contexts, extra, a custom fingerprint, cut parts. */
async function richStore(): Promise<{ store: Store; full: string }> {
  const { store, ids } = await seededStore()
  const recorded = await capture(store, {
    error: paymentError(),
    level: 'fatal',
    tags: { browser: 'Firefox', plan: 'pro', 'region name': 'eu west' },
    user: { id: 'u-42', email: 'ada@example.com', username: 'ada', ip_address: '203.0.113.7' },
    request: {
      method: 'POST',
      url: 'https://shop.example.com/checkout?step=pay&coupon=SPRING',
      query_string: { step: 'pay', coupon: 'SPRING' },
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0', 'content-type': 'application/json' },
      cookies: { theme: 'dark' },
      data: { order: 42, items: [{ sku: 'A-1', qty: 2 }], note: 'x'.repeat(4000) },
    },
    breadcrumbs: [
      { timestamp: new Date(Date.now() - 3000).toISOString(), category: 'http', message: 'POST /checkout', level: 'info' },
      { timestamp: new Date(Date.now() - 2000).toISOString(), category: 'db', message: 'insert into orders', level: 'warning', data: { ms: 31 } },
      { timestamp: new Date(Date.now() - 1000).toISOString(), category: 'payment', message: 'charge refused', level: 'error' },
    ],
    contexts: { app: { region: 'eu-west-1', build: 'b7' }, runtime: { name: 'node', version: process.version } },
    extra: { cart: Array.from({ length: 60 }, (_, i) => ({ line: i, sku: `SKU-${i}` })) },
    fingerprint: ['checkout', '{{ default }}'],
    transaction: 'POST /checkout',
  })
  const full = recorded.issue.id
  const [event] = (await store.listEvents(full, { limit: 1 })).events
  const withMessage = { ...event, event_id: 'f'.repeat(32), message: 'Charging order 42 failed', truncated: ['extra.cart'] }
  await store.record({ event: withMessage, grouping: groupEvent(withMessage), userKey: userKey(withMessage.user) })
  // resolved, ignored until more events, and a regression
  await store.updateIssue(ids.payment, { status: 'resolved' })
  await store.updateIssue(ids.message, { status: 'ignored', until: { events: 100 } })
  await store.updateIssue(ids.lookup, { status: 'resolved' })
  await repeat(store, ids.lookup)
  return { store, full }
}

describe.runIf(available)('panel accessibility', () => {
  let browser: Browser
  let store: Store
  let full: string
  const servers: http.Server[] = []
  let origin: string
  const refusals: Record<string, string> = {}

  beforeAll(async () => {
    ;({ store, full } = await richStore())
    const open = panelServer(store)
    servers.push(open)
    origin = await listen(open)
    const refusing = {
      credentials: panelServer(store, { panel: { auth: { username: 'admin', password: 'secret' } } }),
      denied: panelServer(store, { panel: { auth: () => false } }),
      production: panelServer(store, { environment: 'production' }),
    }
    for (const [name, server] of Object.entries(refusing)) {
      servers.push(server)
      refusals[name] = `${await listen(server)}/errors`
    }
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    for (const server of servers) server.close()
  })

  /** axe's WCAG 2.1 A and AA findings on the page as it is now, with every <details> opened so what they hold is checked too. */
  async function axeFindings(page: Page): Promise<string[]> {
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true }))
    await page.addScriptTag({ content: AXE_SOURCE })
    const violations = await page.evaluate(async (tags) => {
      const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> }> }> } }).axe
      const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`) }))
    }, WCAG_TAGS)
    return violations.flatMap((v) => v.nodes.map((node) => `${v.impact} ${v.id} (${v.help}) at ${node}`))
  }

  it('finds no WCAG 2.1 A or AA violation on any panel page, light or dark', async () => {
    const findings: Record<string, string[]> = {}
    for (const colorScheme of ['light', 'dark'] as const) {
      // axe is injected as an inline script, which the panel's CSP rightly refuses: the check runs with it bypassed
      const context = await browser.newContext({ bypassCSP: true, colorScheme, viewport: { width: 1280, height: 900 } })
      // the 401 page is what a browser shows once its sign-in prompt is cancelled: Chromium here has no
      // prompt, so the challenge header is taken off and the page itself is shown
      const signIn = new URL(refusals.credentials).origin
      await context.route((url) => url.origin === signIn, async (route) => {
        const response = await route.fetch()
        const { 'www-authenticate': _challenge, ...headers } = response.headers()
        await route.fulfill({ response, headers })
      })
      const page = await context.newPage()
      const seeds = [
        `${origin}/errors`,
        `${origin}/errors?q=browser:Firefox`,
        `${origin}/errors?status=all`,
        `${origin}/errors?q=nothing-matches-this`,
        `${origin}/errors/issues/${full}`,
        `${origin}/errors/issues/${full}/events/${'f'.repeat(32)}`,
        `${origin}/errors/issues/${full}/events`,
        `${origin}/errors/no-such-page`,
        `${origin}/errors/issues/${'0'.repeat(32)}`,
        ...Object.values(refusals),
      ]
      const queue = [...seeds]
      const seen = new Set<string>()
      const visited: string[] = []
      while (queue.length > 0 && visited.length < MAX_PAGES) {
        const href = queue.shift()!
        const url = new URL(href)
        const kind = `${url.origin} ${pageKind(url)}`
        // seeds are each visited (several are the same kind with different content); found links once a kind
        if (visited.includes(href) || (seen.has(kind) && !seeds.includes(href))) continue
        seen.add(kind)
        visited.push(href)
        await page.goto(href)
        const found = await axeFindings(page)
        if (found.length) findings[`${colorScheme} ${url.pathname}${url.search}`] = found
        if (url.origin !== origin) continue
        const links = await page.locator('a[href]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href))
        for (const link of links) {
          const next = new URL(link)
          if (next.origin !== origin || !next.pathname.startsWith('/errors') || /^\/errors\/(api\/|panel\.)/.test(next.pathname)) continue
          next.hash = ''
          queue.push(next.href)
        }
      }
      await context.close()
      // the crawl reached the panel's kinds of page: the list, an issue, an event, the events page
      expect(visited.map((v) => pageKind(new URL(v)))).toEqual(expect.arrayContaining(['/errors', '/errors/issues/:id', '/errors/issues/:id/events/:id', '/errors/issues/:id/events']))
      expect(visited.length, 'pages checked, under the crawl\'s bound').toBeLessThan(MAX_PAGES)
    }
    expect(findings, 'axe findings').toEqual({})
  }, 120_000)

  /** Presses Tab (or Shift+Tab) until the focused element matches `selector`; fails if it never does. */
  async function tabTo(page: Page, selector: string, key: 'Tab' | 'Shift+Tab' = 'Tab'): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await page.keyboard.press(key)
      if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) {
        // and the reader sees where the focus is
        expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), `focus ring on ${selector}`).not.toBe('none')
        return
      }
    }
    throw new Error(`${selector} never took the focus from the keyboard`)
  }

  it('resolves, reopens, ignores and deletes from the keyboard alone', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.on('dialog', (dialog) => void dialog.accept())
    const status = async () => (await store.getIssue(full))?.status

    await page.goto(`${origin}/errors/issues/${full}`)
    await tabTo(page, 'button[value="resolve"]')
    await page.keyboard.press('Enter')
    await page.waitForURL(/done=resolve/)
    expect(await status()).toBe('resolved')

    await tabTo(page, 'button[value="unresolve"]')
    await page.keyboard.press('Space')
    await page.waitForURL(/done=unresolve/)
    expect(await status()).toBe('unresolved')

    // Ignore… opens with Enter, then its first choice (until reopened) takes Enter too
    await tabTo(page, '.ignore summary')
    await page.keyboard.press('Enter')
    expect(await page.locator('.ignore').getAttribute('open')).not.toBeNull()
    await tabTo(page, '.ignore-form button')
    await page.keyboard.press('Enter')
    await page.waitForURL(/done=ignore/)
    expect(await status()).toBe('ignored')
    expect(await page.locator('.notice').innerText()).toBe('1 issue ignored until you reopen it.')

    // the list: j moves to an issue, x ticks it, Shift+Tab reaches the bulk actions
    await page.goto(`${origin}/errors?status=ignored`)
    await page.keyboard.press('j')
    await page.keyboard.press('x')
    expect(await page.locator('.issues input[name="id"]:checked').count()).toBe(1)
    const ticked = await page.locator('.issues input[name="id"]:checked').getAttribute('value')
    await tabTo(page, 'button[value="unresolve"]', 'Shift+Tab')
    await page.keyboard.press('Enter')
    await page.waitForURL(/done=unresolve/)
    expect((await store.getIssue(ticked!))?.status).toBe('unresolved')

    // and deleting asks first; the keyboard confirms
    await page.goto(`${origin}/errors/issues/${full}`)
    await tabTo(page, 'button[value="delete"]')
    await page.keyboard.press('Enter')
    await page.waitForURL((url) => url.pathname === '/errors')
    expect(await store.getIssue(full)).toBeNull()
    await context.close()
  }, 60_000)
})
