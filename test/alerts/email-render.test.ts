import { mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { memoryStore } from '../../adapters/memory.js'
import { renderAlertEmail, renderSummaryEmail } from '../../lib/alerts/email.js'
import { alertView } from '../../lib/alerts/message.js'
import { alertOptions, recordEvent } from './fixtures.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'

const available = chromiumAvailable('alert email rendering tests')

const shots = path.join(os.tmpdir(), 'faultline-email-shots')

/** The alert email for a realistic event, with attacker-controlled text in every field it shows. */
async function alertHtml(): Promise<{ html: string; url: string }> {
  const store = memoryStore()
  const options = alertOptions(store, { mail: { transport: 'smtp://127.0.0.1:1', to: 'team@example.com', baseUrl: 'https://shop.example.com' } })
  function loadOrder(): never {
    throw new TypeError("Cannot read properties of undefined (reading 'total') <img src=x onerror=\"window.pwned=1\">")
  }
  let error: unknown
  try {
    loadOrder()
  } catch (err) {
    error = err
  }
  const { result, event } = await recordEvent(store, null, options, {
    error,
    tags: { route: 'orders', region: 'eu-west-1', '<script>window.pwned=2</script>': 'x', plan: 'enterprise-with-a-very-long-plan-name-that-should-wrap' },
    request: { method: 'GET', url: 'https://shop.example.com/orders/12345?expand=' + 'lines,'.repeat(60) + '"><script>window.pwned=3</script>' },
    user: { id: 'u-42' },
  })
  const view = alertView({ rule: options.rules[0], firing: { kind: 'new', key: '' }, issue: result.issue, event, at: new Date() }, options)
  return { html: renderAlertEmail(view).html, url: view.url! }
}

describe.runIf(available)('alert emails in a browser engine', () => {
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true })
    browser = await launchChromium()
    page = await browser.newPage()
    // mail clients show no remote content by default; neither does this page
    await page.route('**/*', (route) => route.abort())
  })

  afterAll(async () => {
    await browser?.close()
  })

  for (const [name, width] of [['desktop', 800], ['phone', 375]] as const) {
    it(`lays out the alert without overflow and shows what matters (${name}, ${width}px)`, async () => {
      const { html, url } = await alertHtml()
      await page.setViewportSize({ width, height: 900 })
      await page.setContent(html, { waitUntil: 'load' })
      await page.screenshot({ path: path.join(shots, `alert-${name}.png`), fullPage: true })

      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
      await expect(page.getByRole('heading', { level: 1 }).isVisible()).resolves.toBe(true)
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(
        "TypeError: Cannot read properties of undefined (reading 'total') <img src=x onerror=\"window.pwned=1\">",
      )
      const link = page.getByRole('link', { name: 'View the issue' })
      expect(await link.isVisible()).toBe(true)
      expect(await link.getAttribute('href')).toBe(url)
      expect(await page.getByText('seen for the first time').isVisible()).toBe(true)
      expect(await page.getByText('Where it happened (your code)').isVisible()).toBe(true)
      expect(await page.getByText('loadOrder', { exact: true }).first().isVisible()).toBe(true)
      expect(await page.getByText('region = eu-west-1').isVisible()).toBe(true)
      expect(await page.getByText('<script>window.pwned=2</script> = x').isVisible()).toBe(true)
      // the counts sit side by side in one row, readable
      const boxes = await page.locator('td:has-text("Events"), td:has-text("Users")').evaluateAll((tds) =>
        tds.filter((td) => td.children.length === 2).map((td) => td.getBoundingClientRect().top))
      expect(new Set(boxes).size).toBe(1)
      // attacker text stayed text
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()
      expect(await page.locator('script, img').count()).toBe(0)
    })
  }

  it('lays out the summary email', async () => {
    const { html } = renderSummaryEmail({
      appName: 'shop', subjectPrefix: '', total: 9980, dropped: 0, maxPerHour: 20,
      items: Array.from({ length: 50 }, (_, i) => ({ headline: 'New issue', title: `Error: failure ${i} ${'x'.repeat(i * 3)}`, url: `https://shop.example.com/errors/issues/${i}`, count: 1, environment: 'production' })),
      from: new Date('2026-01-01T10:00:00Z'), until: new Date('2026-01-01T11:00:00Z'), panelUrl: 'https://shop.example.com/errors',
    })
    await page.setViewportSize({ width: 375, height: 900 })
    await page.setContent(html, { waitUntil: 'load' })
    await page.screenshot({ path: path.join(shots, 'summary-phone.png'), fullPage: true })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('9980 more alerts were held back')
    expect(await page.getByText('and 9930 more not listed here.').isVisible()).toBe(true)
    expect(await page.getByRole('link', { name: 'Open the issue list' }).getAttribute('href')).toBe('https://shop.example.com/errors')
  })
})
