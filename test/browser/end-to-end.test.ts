// The browser ingest end to end: a real Chromium loads pages of a test app, built with esbuild
// (bundled, minified, with source maps) the way an app ships them, under a strict CSP. One page
// uses faultline's own client, the other @sentry/browser pointed at tracker.browserDsn(). Their
// uncaught errors, rejections and manual captures must land as issues, grouped, with the original
// file, line and function from the maps, the source lines, and the user and breadcrumbs the page set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import type { FaultlineEvent, Issue, StackFrame } from '../../lib/types.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'

const CSP = "default-src 'self'; script-src 'self'; connect-src 'self'"
const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)))
const PAGES = path.join(ROOT, 'test/browser/fixtures/pages')

const available = chromiumAvailable('browser ingest end-to-end tests')

/** The 1-based line of the page source that holds `text`. */
function lineOf(file: string, text: string): number {
  const index = readFileSync(path.join(PAGES, file), 'utf8').split('\n').findIndex((line) => line.includes(text))
  if (index < 0) throw new Error(`not in ${file}: ${text}`)
  return index + 1
}

describe.runIf(available)('browser errors end to end in Chromium', () => {
  let built: string
  let tracker: Tracker
  let server: http.Server
  let origin: string
  let browser: Browser

  beforeAll(async () => {
    built = mkdtempSync(path.join(tmpdir(), 'faultline-e2e-'))
    await build({
      entryPoints: [path.join(PAGES, 'client-page.ts'), path.join(PAGES, 'sentry-page.ts')],
      bundle: true,
      minify: true,
      sourcemap: true,
      format: 'iife',
      target: 'es2020',
      outdir: path.join(built, 'static'),
      logLevel: 'silent',
    })
    tracker = createTracker({
      store: memoryStore(),
      root: ROOT,
      captureUncaught: false,
      captureUnhandledRejections: false,
      panel: false,
      onInternalError: () => {},
      browser: { key: 'e2ekey0123456789abcdef', sourceMaps: built },
    })
    const app = express()
    app.use(tracker.express())
    app.use((_req, res, next) => {
      res.setHeader('Content-Security-Policy', CSP)
      next()
    })
    app.use('/static', express.static(path.join(built, 'static')))
    const page = (scripts: string) => `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${scripts}</head><body>
      <button data-action="uncaught">uncaught</button><button data-action="reject">reject</button><button data-action="capture">capture</button></body></html>`
    app.get('/client', async (req, res) => {
      const dsn = await tracker.browserDsn(`${req.protocol}://${req.get('host')}`)
      res.type('html').send(page(`<script src="/faultline/client.js" defer data-dsn="${dsn}" data-release="shop@1.0.0"></script><script src="/static/client-page.js" defer></script>`))
    })
    app.get('/sentry', async (req, res) => {
      const dsn = await tracker.browserDsn(`${req.protocol}://${req.get('host')}`)
      res.type('html').send(page(`<script src="/static/sentry-page.js" defer data-dsn="${dsn}"></script>`))
    })
    server = http.createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => server?.close(resolve))
    await tracker?.close()
    if (built) rmSync(built, { recursive: true, force: true })
  })

  /** Opens the page, clicks the buttons in turn, and waits until `count` events are recorded. */
  async function clickThrough(pathname: string, actions: string[], count: number): Promise<string[]> {
    const context = await browser.newContext()
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused/.test(message.text())) problems.push(message.text())
    })
    await page.goto(`${origin}${pathname}`, { waitUntil: 'load' })
    for (const action of actions) {
      await page.click(`button[data-action="${action}"]`)
      // one envelope after another, as a person clicks
      await page.waitForTimeout(700)
    }
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      await tracker.flush()
      if (tracker.stats().stored >= count) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await context.close()
    return problems
  }

  async function issuesNamed(pattern: RegExp): Promise<Array<{ issue: Issue; events: FaultlineEvent[] }>> {
    const { issues } = await tracker.store.listIssues({ status: 'all', limit: 100 })
    return Promise.all(issues.filter((issue) => pattern.test(issue.title)).map(async (issue) => ({ issue, events: (await tracker.store.listEvents(issue.id, { limit: 100 })).events })))
  }

  const innermost = (event: FaultlineEvent): StackFrame => event.exception!.stacktrace!.frames.at(-1)!

  /** What every recorded browser event must show: mapped frames with source lines, the user, the page. */
  function expectMapped(event: FaultlineEvent, file: string, fn: string, throwLine: string, user: string): void {
    expect(event.platform).toBe('javascript')
    expect(innermost(event)).toMatchObject({
      filename: `test/browser/fixtures/pages/${file}`,
      function: fn,
      lineno: lineOf(file, throwLine),
      in_app: true,
    })
    expect(innermost(event).context_line).toContain(throwLine)
    // the frame as the browser gave it, from the minified bundle, is kept beside
    expect(innermost(event).raw).toMatchObject({ filename: `/static/${file.replace('.ts', '.js')}`, lineno: expect.any(Number), colno: expect.any(Number) })
    expect(event.user).toMatchObject({ id: user })
    expect(event.request?.url).toMatch(new RegExp(`^${origin}/`))
    expect(event.tags).toMatchObject({ browser: 'Chrome' })
  }

  it("records the first-party client's uncaught errors, rejections and captures, grouped and mapped", async () => {
    const problems = await clickThrough('/client', ['uncaught', 'uncaught', 'reject', 'capture'], 4)
    expect(problems).toEqual([])

    const [uncaught] = await issuesNamed(/Order \d+ has no total/)
    // two throws from one place, with different messages: one issue
    expect(uncaught.issue.count).toBe(2)
    expect(uncaught.issue.culprit).toContain('client-page.ts')
    expectMapped(uncaught.events[0], 'client-page.ts', 'placeOrder', 'throw new TypeError(`Order ${orders} has no total`)', 'client-user-7')
    expect(uncaught.events[0].release).toBe('shop@1.0.0')
    expect(uncaught.events[0].breadcrumbs.some((crumb) => crumb.message === 'client page ready')).toBe(true)

    const [rejection] = await issuesNamed(/Payment declined by the bank/)
    expectMapped(rejection.events[0], 'client-page.ts', 'payNow', "throw new Error('Payment declined by the bank')", 'client-user-7')

    const [captured] = await issuesNamed(/Cart holds too many items/)
    expectMapped(captured.events[0], 'client-page.ts', 'loadCart', "throw new RangeError('Cart holds too many items')", 'client-user-7')
  }, 60_000)

  it("records @sentry/browser's uncaught errors, rejections and captures, grouped and mapped", async () => {
    const before = tracker.stats().stored
    const problems = await clickThrough('/sentry', ['uncaught', 'uncaught', 'reject', 'capture'], before + 4)
    expect(problems).toEqual([])

    const [uncaught] = await issuesNamed(/Submitted order \d+ has no total/)
    expect(uncaught.issue.count).toBe(2)
    expect(uncaught.issue.culprit).toContain('sentry-page.ts')
    expectMapped(uncaught.events[0], 'sentry-page.ts', 'submitOrder', 'throw new TypeError(`Submitted order ${orders} has no total`)', 'sentry-user-8')
    expect(uncaught.events[0]).toMatchObject({ release: 'shop@2.0.0', environment: 'staging' })
    expect(uncaught.events[0].breadcrumbs.some((crumb) => crumb.category === 'checkout' && crumb.message === 'opened the cart')).toBe(true)

    const [rejection] = await issuesNamed(/Card charge refused/)
    expectMapped(rejection.events[0], 'sentry-page.ts', 'chargeCard', "throw new Error('Card charge refused')", 'sentry-user-8')

    const [captured] = await issuesNamed(/Basket could not be read/)
    expectMapped(captured.events[0], 'sentry-page.ts', 'readBasket', "throw new RangeError('Basket could not be read')", 'sentry-user-8')
  }, 60_000)
})
