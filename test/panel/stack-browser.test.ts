import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { memoryStore } from '../../adapters/memory.js'
import { capture, panelServer } from './helpers.js'
import { checkoutError } from './stacks.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'

const available = chromiumAvailable('panel stack trace browser tests')

describe.runIf(available)('the stack trace in a browser', () => {
  let server: http.Server
  let issueUrl: string
  let browser: Browser

  beforeAll(async () => {
    const store = memoryStore()
    const { issue } = await capture(store, { error: checkoutError().error })
    server = panelServer(store)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    issueUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/errors/issues/${issue.id}`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  it('opens the folded library frames on a click, with JavaScript off, and switches to the raw view by its link', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    const page = await context.newPage()
    await page.goto(issueUrl)
    const outer = page.locator('.exception').first()
    const folded = outer.locator('.frame.library').first()
    expect(await folded.locator('summary').innerText()).toBe('2 library frames')
    const hidden = folded.locator('.frame .fn', { hasText: /^next$/ })
    expect(await hidden.isVisible()).toBe(false)

    await folded.locator('summary').click()
    expect(await folded.locator('details').getAttribute('open')).toBe('')
    expect(await hidden.isVisible()).toBe(true)
    // the app's frames stay as they were; the other fold is still closed
    expect(await outer.locator('.frame.library details[open]').count()).toBe(1)

    await page.locator('.stack-views a', { hasText: 'Raw' }).click()
    await page.waitForURL(/\?view=raw#stack$/)
    const raw = await page.locator('pre.raw-stack').innerText()
    expect(raw.split('\n').slice(0, 2)).toEqual(['Error: Payment failed', expect.stringMatching(/^ {4}at chargeCard \(.*src\/payments\.js:10:11\)$/)])
    expect(raw).toContain('Caused by: Error: connect ECONNREFUSED 127.0.0.1:5432')
    await context.close()
  }, 60_000)
})
