// Makes docs/panel-list.png and docs/panel-issue.png: run `npm run build && node docs/screenshots.js`.
//
// Starts an Express app shaped like examples/express-app (faultline on a memory store), makes its
// routes fail through real requests, then opens the panel in Debian's Chromium. So that the charts
// show a day of history, each captured event is also recorded again at a few earlier times
// (the same event, moved back in time); everything else on the pictures is what the app captured.
import http from 'node:http'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { chromium } from 'playwright-core'
import { createTracker } from '../dist/lib/index.js'
import { memoryStore } from '../dist/adapters/memory.js'
import { groupEvent, userKey } from '../dist/common/fingerprint.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const store = memoryStore()
const tracker = createTracker({ store, appName: 'example-shop', environment: 'development', release: '2.4.0', captureUncaught: false, captureUnhandledRejections: false })

const app = express()
app.use(tracker.express())
const users = new Map([[1, { id: 1, name: 'Ada' }]])
function loadUser(id) {
  const user = users.get(id)
  if (!user) throw new Error(`User ${id} not found`)
  return user
}
app.get('/users/:id', (req, res) => {
  tracker.setUser({ id: `customer-${req.query.as ?? 1}`, email: `customer${req.query.as ?? 1}@example.com` })
  tracker.setTag('route', 'users')
  tracker.setTag('browser', req.query.browser ?? 'Chrome')
  tracker.addBreadcrumb({ category: 'auth', message: 'session restored' })
  tracker.addBreadcrumb({ category: 'db', message: `select * from users where id = ${req.params.id}`, data: { ms: 4 } })
  res.json(loadUser(Number(req.params.id)))
})
app.get('/orders/:id', async (req, res) => {
  tracker.setTag('browser', req.query.browser ?? 'Firefox')
  tracker.addBreadcrumb({ category: 'db', message: `select order ${req.params.id}` })
  await new Promise((resolve) => setTimeout(resolve, 2))
  const order = undefined
  res.json({ total: order.total })
})
app.get('/checkout', (req, res, next) => {
  tracker.setTag('plan', 'pro')
  next(new Error('Payment provider declined the request', { cause: new Error('card_declined') }))
})
app.get('/report', () => {
  throw new RangeError('Invalid time value while formatting the weekly report')
})
app.use((err, req, res, next) => res.status(500).send('Something broke.'))

const server = http.createServer(app)
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`

const hits = [
  ...Array.from({ length: 9 }, (_, i) => `/users/${40 + i}?as=${i % 5}&browser=${['Chrome', 'Firefox', 'Safari'][i % 3]}`),
  ...Array.from({ length: 5 }, (_, i) => `/orders/${i}?browser=${i % 2 ? 'Safari' : 'Firefox'}`),
  '/checkout', '/checkout', '/report',
]
for (const url of hits) await fetch(origin + url)
await tracker.flush()

// A day of history: copies of the captured events at earlier hours.
const hour = 3_600_000
for (const { id } of (await store.listIssues({ limit: 100 })).issues) {
  const { events } = await store.listEvents(id, { limit: 100 })
  const spread = id.charCodeAt(0) % 3 === 0 ? 3 : 8
  for (const event of events) {
    for (let k = 1; k <= spread; k++) {
      const past = { ...event, event_id: randomBytes(16).toString('hex'), timestamp: new Date(Date.now() - (k * 2 + (k % 3)) * hour - k * 60_000).toISOString() }
      await store.record({ event: past, grouping: groupEvent(past), userKey: userKey(past.user) })
    }
  }
}
// Resolve the report error, so the list shows tabs with different counts.
const report = (await store.listIssues({ q: 'weekly report' })).issues[0]
if (report) await store.updateIssue(report.id, { status: 'resolved' })
// Resolve the checkout error, then make it happen again: it comes back as a regression.
const checkout = (await store.listIssues({ q: 'payment provider' })).issues[0]
if (checkout) await store.updateIssue(checkout.id, { status: 'resolved' })
await fetch(origin + '/checkout')
await tracker.flush()

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 640 }, deviceScaleFactor: 1, colorScheme: 'light' })
  await page.goto(`${origin}/errors`)
  await page.screenshot({ path: path.join(here, 'panel-list.png') })
  await page.locator('.issues a.title', { hasText: 'User' }).first().click()
  await page.waitForURL(/\/issues\//)
  await page.setViewportSize({ width: 1200, height: 1500 })
  await page.screenshot({ path: path.join(here, 'panel-issue.png') })
  console.log('wrote docs/panel-list.png and docs/panel-issue.png')
} finally {
  await browser.close()
  server.close()
  await tracker.close()
}
