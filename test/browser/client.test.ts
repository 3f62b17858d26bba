import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { clientScript } from '../../lib/browser/client-script.js'
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js'

const available = chromiumAvailable('browser client tests')

const KEY = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6'
const CSP = "default-src 'self'; script-src 'self'; connect-src 'self'"

// The page's own script: each button runs one way of failing. Tests find lines by their text.
const PAGE_JS = `'use strict'
window.ownErrors = []
window.ownRejections = 0
window.onerror = function (message) { window.ownErrors.push(String(message)) }
window.addEventListener('unhandledrejection', function () { window.ownRejections++ })
faultline.setUser({ id: '42', email: 'ada@example.com' })
faultline.setTag('plan', 'pro')

function placeOrder() {
  throw new TypeError('Order total is not a number')
}
function rejectWithError() {
  Promise.reject(new Error('Payment service unavailable'))
}
function loadCart() {
  throw new RangeError('Cart has too many items')
}
const actions = {
  uncaught: placeOrder,
  'reject-error': rejectWithError,
  'reject-string': function () { Promise.reject('quota exceeded') },
  capture: function () {
    try { loadCart() } catch (err) { window.lastId = faultline.captureException(err, { tags: { area: 'cart' } }) }
  },
  rethrow: function () {
    try { loadCart() } catch (err) { faultline.captureException(err); throw err }
  },
  message: function () { window.lastId = faultline.captureMessage('Checkout reached step 3', 'warning') },
  log: function () { console.log('checkout started', 'step', 2, { coupon: 'FREE100' }) },
  'fetch-fail': function () { fetch('/api/items?token=s3cret&page=2') },
  'xhr-fail': function () {
    const xhr = new XMLHttpRequest()
    xhr.open('post', '/api/missing?id=991')
    xhr.send('{}')
  },
  navigate: function () { history.pushState({}, '', '/checkout/step-2?coupon=FREE100#access_token=t0k3n') },
  loop: function () {
    for (let i = 0; i < 1000; i++) setTimeout(function () { throw new Error('loop ' + i) })
  },
}
document.addEventListener('click', function (event) {
  const action = event.target.dataset.action
  if (action) actions[action]()
})
`
const BUTTONS = ['uncaught', 'reject-error', 'reject-string', 'capture', 'rethrow', 'message', 'log', 'fetch-fail', 'xhr-fail', 'navigate', 'loop']
  .map((action) => `<button data-action="${action}">${action}</button>`)
  .join('\n')

/** 1-based line and column, as the browser reports them, of `column` on the page script's line that holds `line`. */
function at(line: string, column = line): { lineno: number; colno: number } {
  const lines = PAGE_JS.split('\n')
  const index = lines.findIndex((text) => text.includes(line))
  if (index < 0 || !lines[index].includes(column)) throw new Error(`not in the page script: ${line}`)
  return { lineno: index + 1, colno: lines[index].indexOf(column) + 1 }
}

interface Received {
  method: string
  url: URL
  headers: http.IncomingHttpHeaders
  body: string
  header: Record<string, unknown>
  itemHeader: Record<string, unknown>
  // what the client sends, read loosely
  event: any
}

describe.runIf(available)('the browser client in Chromium', () => {
  let server: http.Server
  let origin: string
  let browser: Browser
  let received: Received[] = []
  let otherRequests: string[] = []
  // what the endpoint answers next: 200, or a status with its headers
  let answer: { status: number; headers?: Record<string, string> } = { status: 200 }

  function html(head: string): string {
    return `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${head}</head><body>${BUTTONS}</body></html>`
  }

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', origin)
      const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': type, ...headers })
        res.end(body)
      }
      if (req.method === 'POST' && url.pathname === '/api/1/envelope/') {
        const chunks: Buffer[] = []
        req.on('data', (chunk: Buffer) => chunks.push(chunk))
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          const [header, itemHeader, event] = body.split('\n')
          received.push({ method: req.method!, url, headers: req.headers, body, header: JSON.parse(header), itemHeader: JSON.parse(itemHeader), event: JSON.parse(event) })
          send(answer.status, 'application/json', '{}', answer.headers)
        })
        return
      }
      otherRequests.push(`${req.method} ${url.pathname}`)
      const page = (head: string) => send(200, 'text/html; charset=utf-8', html(head), { 'Content-Security-Policy': CSP })
      const dsn = `http://${KEY}@${url.host}/1`
      if (url.pathname === '/client.js') return send(200, clientScript().type, clientScript().body)
      if (url.pathname === '/page.js') return send(200, 'text/javascript', PAGE_JS)
      if (url.pathname === '/config.js') {
        const config = { dsn, release: 'shop@2.0.0', maxEvents: 25, eventsPerMinute: 1000, user: { id: '7' }, tags: { region: 'eu' } }
        return send(200, 'text/javascript', `window.faultlineConfig = ${JSON.stringify(config)}\n`)
      }
      if (url.pathname === '/api/items') return send(500, 'application/json', '{"error":"down"}')
      if (url.pathname === '/api/missing') return send(404, 'application/json', '{}')
      if (url.pathname === '/config') {
        // the tag says one release, the page's config another: the config wins; the environment only the tag gives
        return page(`<script src="/config.js" defer></script><script src="/client.js" defer data-release="tag@1" data-environment="canary"></script><script src="/page.js" defer></script>`)
      }
      if (url.pathname === '/no-dsn') return page(`<script src="/client.js" defer></script>`)
      if (url.pathname === '/inline') return page(`<script>document.title = 'inline'</script>`)
      if (url.pathname === '/' || url.pathname.startsWith('/checkout')) {
        return page(`<script src="/client.js" defer data-dsn="${dsn}" data-release="shop@1.4.2" data-environment="staging"></script><script src="/page.js" defer></script>`)
      }
      send(404, 'text/plain', 'not found')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  beforeEach(() => {
    received = []
    otherRequests = []
    answer = { status: 200 }
  })

  /** A page that records its errors, console lines and CSP violations. */
  async function open(path = '/'): Promise<{ page: Page; pageErrors: string[]; consoleLines: string[]; violations: () => Promise<string[]> }> {
    const page = await browser.newPage()
    const pageErrors: string[] = []
    const consoleLines: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`))
    await page.addInitScript(() => {
      const w = window as unknown as { __violations: string[] }
      w.__violations = []
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    await page.goto(origin + path)
    await page.waitForFunction(() => 'ownErrors' in window || !document.querySelector('script[src="/page.js"]'))
    const violations = () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)
    return { page, pageErrors, consoleLines, violations }
  }

  const click = (page: Page, action: string) => page.click(`[data-action="${action}"]`)
  const events = () => received.map((r) => r.event)

  it('sends an uncaught error with its stack, the scope and the breadcrumbs, without query values', async () => {
    const { page, pageErrors, consoleLines, violations } = await open()
    await click(page, 'log')
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/items')), click(page, 'fetch-fail')])
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/missing')), click(page, 'xhr-fail')])
    await click(page, 'navigate')
    await click(page, 'uncaught')

    await expect.poll(() => received.length).toBe(1)
    const [{ url, headers, header, itemHeader, event, body }] = received
    // a simple request: the key in the query, text/plain, no preflight
    expect(url.searchParams.get('sentry_key')).toBe(KEY)
    expect(url.searchParams.get('sentry_version')).toBe('7')
    expect(headers['content-type']).toBe('text/plain;charset=UTF-8')
    expect(headers.cookie).toBeUndefined()
    expect(otherRequests.filter((r) => r.startsWith('OPTIONS'))).toEqual([])
    expect(header.event_id).toBe(event.event_id)
    expect(event.event_id).toMatch(/^[0-9a-f]{32}$/)
    expect(itemHeader).toEqual({ type: 'event' })

    expect(event).toMatchObject({
      platform: 'javascript',
      level: 'error',
      release: 'shop@1.4.2',
      environment: 'staging',
      user: { id: '42', email: 'ada@example.com' },
      tags: { plan: 'pro' },
      request: { url: `${origin}/checkout/step-2?coupon` },
      sdk: { name: 'faultline.js' },
    })
    expect(event.request.headers['User-Agent']).toContain('Chrome')
    const [exception] = event.exception.values
    expect(exception).toMatchObject({ type: 'TypeError', value: 'Order total is not a number', mechanism: { type: 'onerror', handled: false } })
    // oldest first: the click listener, then the function that threw
    const frames = exception.stacktrace.frames
    expect(frames.at(-1)).toEqual({ filename: `${origin}/page.js`, function: expect.stringContaining('placeOrder'), ...at("new TypeError('Order total") })
    expect(frames.at(-2)).toMatchObject({ filename: `${origin}/page.js`, ...at('actions[action]()', '()') })

    const crumbs = event.breadcrumbs.map(({ timestamp, ...rest }: { timestamp: number }) => (expect(timestamp).toBeGreaterThan(0), rest))
    expect(crumbs).toEqual([
      { category: 'console', level: 'log', message: 'checkout started step 2 Object with keys: coupon' },
      { category: 'fetch', type: 'http', level: 'error', data: { method: 'GET', url: `${origin}/api/items?token&page`, status_code: 500 } },
      { category: 'xhr', type: 'http', level: 'warning', data: { method: 'POST', url: `${origin}/api/missing?id`, status_code: 404 } },
      { category: 'navigation', data: { from: `${origin}/`, to: `${origin}/checkout/step-2?coupon` } },
    ])
    for (const secret of ['s3cret', 'FREE100', 't0k3n', '991']) expect(body).not.toContain(secret)

    // the page's own handler and the console saw it as before
    expect(await page.evaluate(() => (window as unknown as { ownErrors: string[] }).ownErrors)).toEqual(['Uncaught TypeError: Order total is not a number'])
    expect(pageErrors).toEqual(['Order total is not a number'])
    expect(consoleLines.filter((line) => line.startsWith('log: checkout started'))).toEqual(['log: checkout started step 2 {coupon: FREE100}'])
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('sends unhandled rejections of an Error and of a string', async () => {
    const { page, violations } = await open()
    await click(page, 'reject-error')
    await click(page, 'reject-string')
    await expect.poll(() => received.length).toBe(2)
    const [error, text] = events()
      .sort((a, b) => a.timestamp - b.timestamp)
      .map((e) => e.exception.values.at(-1))
    expect(error).toMatchObject({ type: 'Error', value: 'Payment service unavailable', mechanism: { type: 'onunhandledrejection', handled: false } })
    expect(error.stacktrace.frames.at(-1)).toMatchObject({ filename: `${origin}/page.js`, function: expect.stringContaining('rejectWithError'), ...at("new Error('Payment") })
    expect(text).toEqual({
      type: 'UnhandledRejection',
      value: 'Non-Error promise rejection captured with value: quota exceeded',
      mechanism: { type: 'onunhandledrejection', handled: false },
    })
    expect(await page.evaluate(() => (window as unknown as { ownRejections: number }).ownRejections)).toBe(2)
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('sends captureException and captureMessage, each returning its event id', async () => {
    const { page, pageErrors, violations } = await open()
    await click(page, 'capture')
    const exceptionId = await page.evaluate(() => (window as unknown as { lastId: string }).lastId)
    await click(page, 'message')
    const messageId = await page.evaluate(() => (window as unknown as { lastId: string }).lastId)
    await expect.poll(() => received.length).toBe(2)

    const captured = events().find((e) => e.event_id === exceptionId)
    expect(captured).toMatchObject({ level: 'error', tags: { plan: 'pro', area: 'cart' }, user: { id: '42' } })
    const [exception] = captured.exception.values
    expect(exception).toMatchObject({ type: 'RangeError', value: 'Cart has too many items', mechanism: { type: 'generic', handled: true } })
    expect(exception.stacktrace.frames.at(-1)).toEqual({ filename: `${origin}/page.js`, function: 'loadCart', ...at("new RangeError('Cart") })
    expect(exception.stacktrace.frames.at(-2)).toMatchObject({ function: expect.stringContaining('capture'), ...at('try { loadCart()', 'loadCart()') })

    const message = events().find((e) => e.event_id === messageId)
    expect(message).toMatchObject({ level: 'warning', message: 'Checkout reached step 3', release: 'shop@1.4.2', tags: { plan: 'pro' } })
    expect(message.exception).toBeUndefined()
    expect(pageErrors).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('sends an error once when it is captured, rethrown and uncaught', async () => {
    const { page, pageErrors } = await open()
    await click(page, 'rethrow')
    await expect.poll(() => received.length).toBe(1)
    expect(received[0].event.exception.values[0]).toMatchObject({ value: 'Cart has too many items', mechanism: { type: 'generic', handled: true } })
    expect(pageErrors).toEqual(['Cart has too many items'])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(received).toHaveLength(1)
    await page.close()
  })

  it('reads Firefox and Safari stacks, eval frames and the cause chain', async () => {
    const { page } = await open()
    const app = 'https://shop.example/assets/app.js'
    await page.evaluate((app) => {
      const firefox = new Error('Cart is empty', { cause: new TypeError('items is undefined') })
      firefox.stack = `loadCart@${app}:12:11\ncheckout/<@${app}:30:5\nrun@${app} line 7 > eval:1:9\n@${app}:40:1\n`
      const safari = new Error('Cart is empty')
      safari.stack = `loadCart@${app}:12:18\nforEach@[native code]\nglobal code@${app}:40:9`
      const chrome = new Error('Cart is empty')
      chrome.stack = `Error: Cart is empty\n    at eval (eval at run (${app}:7:3), <anonymous>:1:9)\n    at async checkout (${app}:30:5)\n    at ${app}:40:1`
      const w = window as unknown as { faultline: { captureException(e: unknown, c: unknown): string } }
      for (const [name, error] of Object.entries({ firefox, safari, chrome })) w.faultline.captureException(error, { tags: { browser: name } })
    }, app)
    await expect.poll(() => received.length).toBe(3)
    const frames = (name: string) => events().find((e) => e.tags.browser === name).exception.values.at(-1).stacktrace.frames

    expect(frames('firefox')).toEqual([
      { filename: app, function: '?', lineno: 40, colno: 1 },
      { filename: app, function: 'run', lineno: 7 },
      { filename: app, function: 'checkout/<', lineno: 30, colno: 5 },
      { filename: app, function: 'loadCart', lineno: 12, colno: 11 },
    ])
    expect(frames('safari')).toEqual([
      { filename: app, function: 'global code', lineno: 40, colno: 9 },
      { filename: app, function: 'loadCart', lineno: 12, colno: 18 },
    ])
    expect(frames('chrome')).toEqual([
      { filename: app, function: '?', lineno: 40, colno: 1 },
      { filename: app, function: 'checkout', lineno: 30, colno: 5 },
      { filename: app, function: 'eval', lineno: 7, colno: 3 },
    ])
    // the cause first, the error itself last, as Sentry orders a chain
    const chain = events().find((e) => e.tags.browser === 'firefox').exception.values
    expect(chain.map((v: { type: string; value: string }) => `${v.type}: ${v.value}`)).toEqual(['TypeError: items is undefined', 'Error: Cart is empty'])
    await page.close()
  })

  it('sends at most 10 of a loop of 1,000 errors, while the page sees all of them', async () => {
    const { page, violations } = await open()
    await click(page, 'loop')
    await page.waitForFunction(() => (window as unknown as { ownErrors: string[] }).ownErrors.length === 1000)
    await expect.poll(() => received.length).toBe(10)
    // nothing more comes after the batch delay
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(received).toHaveLength(10)
    expect(events().map((e) => e.exception.values[0].value).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))).toEqual(Array.from({ length: 10 }, (_, i) => `loop ${i}`))
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('takes its settings from window.faultlineConfig before the tag, and caps a page load at maxEvents', async () => {
    const { page, violations } = await open('/config')
    await click(page, 'loop')
    await page.waitForFunction(() => (window as unknown as { ownErrors: string[] }).ownErrors.length === 1000)
    await expect.poll(() => received.length).toBe(25)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(received).toHaveLength(25)
    expect(events()[0]).toMatchObject({ release: 'shop@2.0.0', environment: 'canary', tags: { region: 'eu', plan: 'pro' }, user: { id: '42' } })
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('sends what is queued by beacon when the page goes away', async () => {
    const { page } = await open()
    await click(page, 'uncaught')
    // leave before the batch delay is up
    await page.goto('about:blank')
    await expect.poll(() => received.length).toBe(1)
    expect(received[0].event.exception.values[0].value).toBe('Order total is not a number')
    // a beacon, not the fetch the client sends otherwise (that one is a CORS-mode request)
    expect(received[0].headers['sec-fetch-mode']).toBe('no-cors')
    await page.close()
  })

  it('stops sending for the Retry-After of a 429, and never records its own requests', async () => {
    answer = { status: 429, headers: { 'Retry-After': '120' } }
    const { page } = await open()
    await Promise.all([page.waitForResponse((r) => r.url().includes('/envelope/')), click(page, 'uncaught')])
    expect(received).toHaveLength(1)
    expect(received[0].headers['sec-fetch-mode']).toBe('cors')
    answer = { status: 200 }
    await click(page, 'capture')
    // dropped where it was captured: no id
    expect(await page.evaluate(() => (window as unknown as { lastId: unknown }).lastId)).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(received).toHaveLength(1)
    await page.close()

    // a 500 from the endpoint is no breadcrumb of the next event
    answer = { status: 500 }
    const second = await open()
    await click(second.page, 'uncaught')
    await expect.poll(() => received.length).toBe(2)
    answer = { status: 200 }
    await click(second.page, 'capture')
    await expect.poll(() => received.length).toBe(3)
    expect(received[2].event.breadcrumbs).toEqual([])
    expect(second.pageErrors).toEqual(['Order total is not a number'])
    await second.page.close()
  })

  it('never throws into the page, whatever it is handed', async () => {
    const { page, pageErrors, consoleLines } = await open()
    const results = await page.evaluate(() => {
      const w = window as unknown as { faultline: Record<string, (...args: unknown[]) => unknown> }
      const hostile = new Proxy({}, { ownKeys: () => { throw new Error('no keys') }, get: () => { throw new Error('no get') } })
      const thrower = { get name() { throw new Error('no name') } }
      const out: string[] = []
      for (const call of [
        () => w.faultline.setUser(hostile),
        () => w.faultline.setTag(hostile, hostile),
        () => w.faultline.captureException(hostile, hostile),
        () => w.faultline.captureException(Object.defineProperties(new Error('x'), Object.getOwnPropertyDescriptors(thrower))),
        () => w.faultline.captureMessage(hostile, hostile),
        () => console.log('still logs', hostile),
        () => history.pushState(null, '', '/checkout/after'),
      ]) {
        try {
          call()
          out.push('ok')
        } catch (err) {
          out.push(String(err))
        }
      }
      return out
    })
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'])
    expect(consoleLines.some((line) => line.startsWith('log: still logs'))).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(pageErrors).toEqual([])
    await page.close()
  })

  it('without a DSN, warns once and leaves a working API that sends nothing', async () => {
    const { page, pageErrors, consoleLines, violations } = await open('/no-dsn')
    const id = await page.evaluate(() => (window as unknown as { faultline: { captureMessage(m: string): unknown } }).faultline.captureMessage('hello'))
    expect(id).toBeUndefined()
    expect(consoleLines.filter((line) => line.includes('faultline'))).toEqual([expect.stringMatching(/^warning: faultline: no valid DSN/)])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(received).toEqual([])
    expect(pageErrors).toEqual([])
    expect(await violations()).toEqual([])
    await page.close()
  })

  it('notices a CSP violation when one happens (the watcher itself works)', async () => {
    const { page, violations } = await open('/inline')
    await expect.poll(violations).toEqual([expect.stringMatching(/^script-src/)])
    await page.close()
  })
})

// no browser needed: the served file itself
describe('the browser client script', () => {
  it('is under 5 KB gzipped, as the docs promise', () => {
    const { body, gzip } = clientScript()
    expect(gzip.length).toBeLessThan(5 * 1024)
    expect(gzipSync(body).length).toBeLessThan(5 * 1024)
  })

  it('has a strong ETag, and nothing a strict CSP refuses', () => {
    const { body, etag, type } = clientScript()
    const text = body.toString('utf8')
    expect(text).not.toMatch(/\beval\(|\bFunction\(|setTimeout\(["'`]|\bimport\b|\brequire\(/)
    expect(etag).toMatch(/^"[\w-]{22}"$/)
    expect(type).toBe('text/javascript; charset=utf-8')
  })
})
