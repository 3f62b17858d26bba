// Makes docs/panel-list.png, docs/panel-issue.png and docs/panel-rules.png: run
// `npm run build && node docs/screenshots.js`.
//
// What is real: an Express app shaped like examples/express-app (faultline on a memory store, with
// `browser` on, `Error.stackTraceLimit` raised to 50 and alert rules mailing to a console transport
// that prints nowhere) answers real HTTP requests sent by this script. Each carries the User-Agent
// string of a real browser (Chrome on Windows, Firefox on macOS, Safari on an iPhone, Chrome on
// Android), so the browser, os and device tags are faultline's own reading of those headers; the
// users are six made-up customers the app's session middleware picks by `?as=`. The routes fail
// and faultline captures what they throw. The shop page's button is clicked in Debian's Chromium
// (told to say it is Chrome on Windows), so its error comes through faultline's browser client and
// is mapped back to examples/express-app/browser/cart.js by the source map beside the built
// script. An admin signed in as "maria" resolves the user issue and adds a note through the
// panel's JSON API; a request right after the resolve brings it back as a regression.
// What is moved back in time: so that the charts show a few days of history, the earlier requests'
// events are dated back by a beforeSend hook (each batch of requests by so many hours), and with
// them the issues' "first seen". The resolves, the regression, the note, the browser error, the
// alerts (the rules page's "last fired") and the last requests happen as the script runs, so they
// read "just now".
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import express from 'express'
import { chromium } from 'playwright-core'
import { consoleTransport, createTracker } from '../dist/lib/index.js'
import { memoryStore } from '../dist/adapters/memory.js'

// Node keeps 10 frames of a stack; the app raises it, as docs/events.md suggests, so that its own
// middleware (restoreSession, under Express's frames) shows in the stack with the library frames folded.
Error.stackTraceLimit = 50
const here = path.dirname(fileURLToPath(import.meta.url))
const hour = 3_600_000

// The shop page's script, built as examples/express-app builds it: minified, with its map beside it.
const publicDir = mkdtempSync(path.join(tmpdir(), 'faultline-shots-'))
buildSync({ entryPoints: [path.join(here, '../examples/express-app/browser/cart.js')], bundle: true, minify: true, sourcemap: true, outdir: publicDir, logLevel: 'warning' })

// Dates each event back by `shift` ms while a batch of "earlier" requests runs; 0 for the rest.
let shift = 0
const store = memoryStore()
const admin = { username: 'maria', password: 'correct horse battery staple' }
const tracker = createTracker({
  store,
  appName: 'example-shop',
  environment: 'production',
  release: '2.4.0',
  captureUncaught: false,
  captureUnhandledRejections: false,
  panel: { auth: admin },
  browser: { sourceMaps: publicDir },
  // alert emails are printed to a stream that drops them: the rules page shows when each fired
  mail: { transport: consoleTransport(new Writable({ write: (chunk, encoding, done) => done() })), from: 'faultline <alerts@example.com>', to: 'team@example.com', baseUrl: 'https://shop.example.com' },
  rules: [
    { when: 'new' },
    { when: 'regression' },
    { when: { events: [10, 100] }, filter: { environment: 'production' }, throttle: '1h' },
    { when: { users: 5 }, to: 'oncall@example.com' },
  ],
  beforeSend: (event) => (shift ? { ...event, timestamp: new Date(Date.parse(event.timestamp) - shift).toISOString() } : event),
})

const app = express()
app.use(tracker.express())
app.use('/static', express.static(publicDir))
// The app's own middleware: its frame sits under Express's, so the stack folds the library frames between.
app.use(function restoreSession(req, res, next) {
  const who = customers[Number(req.query.as ?? 0) % customers.length]
  tracker.setUser(who)
  tracker.addBreadcrumb({ category: 'auth', message: `session restored for ${who.username}` })
  next()
})
const customers = [
  { id: 'c-1041', email: 'ann@example.com', username: 'ann' },
  { id: 'c-2208', email: 'ben@example.org', username: 'ben' },
  { id: 'c-3175', email: 'chloe@example.net', username: 'chloe' },
  { id: 'c-4420', email: 'dev@example.com', username: 'dev' },
  { id: 'c-5013', email: 'emma@example.org', username: 'emma' },
  { id: 'c-6391', email: 'farid@example.com', username: 'farid' },
]
const accounts = new Map([[1, { id: 1, name: 'Ada' }]])
function loadUser(id) {
  const user = accounts.get(id)
  if (!user) throw new Error(`User ${id} not found`)
  return user
}
app.get('/users/:id', function showUser(req, res) {
  tracker.setTag('route', 'users')
  tracker.addBreadcrumb({ category: 'db', message: `select * from users where id = ${req.params.id}`, data: { ms: 4 } })
  res.json(loadUser(Number(req.params.id)))
})
app.get('/orders/:id', async (req, res) => {
  tracker.addBreadcrumb({ category: 'db', message: `select order ${req.params.id}` })
  await new Promise((resolve) => setTimeout(resolve, 2))
  const order = undefined
  res.json({ total: order.total })
})
app.get('/checkout', (req, res, next) => {
  tracker.setTag('plan', 'pro')
  next(new Error('Payment provider declined the request', { cause: new Error('card_declined') }))
})
app.get('/stock/:sku', (req, res) => {
  tracker.captureMessage(`Stock below reorder level for SKU ${req.params.sku}`, 'warning')
  res.json({ sku: req.params.sku, left: 2 })
})
app.get('/report', () => {
  throw new RangeError('Invalid time value while formatting the weekly report')
})
app.get('/shop', async (req, res) => {
  const dsn = await tracker.browserDsn(`${req.protocol}://${req.get('host')}`)
  res.type('html').send(`<!doctype html><title>example-shop: cart</title>
<script src="/faultline/client.js" defer data-dsn="${dsn}" data-release="2.4.0"></script>
<script src="/static/cart.js" defer></script>
<h1>Your cart</h1><p>Total: <span id="total">42</span></p><p><button id="apply">Apply coupon</button></p>`)
})
app.use((err, req, res, next) => res.status(500).send('Something broke.'))

const server = http.createServer(app)
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`
const basic = { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` }

const agents = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
}
const agentList = Object.values(agents)
// The script's own requests (as a browser's would be) go out from a scope of their own: in the app's
// process, faultline would otherwise keep each as an outgoing-fetch breadcrumb of every event.
const asClient = (send) => tracker.withScope(send)
const visit = (url, i) => asClient(() => fetch(origin + url, { headers: { 'user-agent': agentList[(i * 7 + url.length) % agentList.length] } }))

// Batches of requests, oldest first, each dated back by its age in hours.
const batches = []
for (let age = 70; age >= 1; age -= 3) {
  const urls = []
  for (let i = 0; i < 1 + (age % 4); i++) urls.push(`/users/${40 + i + age}?as=${(age + i) % customers.length}`)
  if (age <= 30) for (let i = 0; i < 1 + (age % 3); i++) urls.push(`/orders/${age * 10 + i}?as=${i}`)
  if (age <= 12 && age % 2) urls.push('/checkout?as=2')
  if (age <= 20 && age % 2 === 0) urls.push('/stock/1182?as=3')
  if (age >= 40 && age <= 52) urls.push('/report?as=4')
  batches.push({ age, urls })
}
for (const { age, urls } of batches) {
  shift = age * hour - (age % 5) * 600_000
  await Promise.all(urls.map(visit))
  await tracker.flush()
}
shift = 0

const findIssue = async (q) => (await store.listIssues({ q, status: 'all' })).issues[0]
const api = (route, method, body) => asClient(() => fetch(`${origin}/errors/api/issues/${route}`, { method, headers: { ...basic, 'content-type': 'application/json' }, body: JSON.stringify(body) }))
// The weekly report was fixed: resolved, so the list's tabs have different counts.
const report = await findIssue('weekly report')
await api(report.id, 'PATCH', { status: 'resolved' })
// maria resolves the user issue; a request right after brings it back as a regression; she notes why.
const userIssue = await findIssue('not found')
await api(userIssue.id, 'PATCH', { status: 'resolved' })
await visit('/users/77?as=5', 3)
await tracker.flush()
await api(`${userIssue.id}/notes`, 'POST', { text: 'Still happens for accounts deleted before the 2.4.0 migration: their sessions outlive the account. Tracking it in SHOP-812.' })
for (const [i, url] of ['/orders/901?as=1', '/orders/902?as=3', '/checkout?as=0'].entries()) await visit(url, i)
await tracker.flush()

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
})
try {
  // A shopper's browser: the coupon button throws; faultline's client sends it to the app.
  const shopper = await browser.newPage({ userAgent: agents.chromeWindows })
  await shopper.goto(`${origin}/shop`)
  await shopper.click('#apply')
  for (let tries = 0; tries < 100 && !(await findIssue('platform:javascript')); tries++) await new Promise((resolve) => setTimeout(resolve, 100))
  await shopper.close()
  if (!(await findIssue('platform:javascript'))) throw new Error('the browser error did not arrive')

  const context = await browser.newContext({ viewport: { width: 1200, height: 690 }, deviceScaleFactor: 1, colorScheme: 'light', httpCredentials: admin, timezoneId: 'UTC' })
  const page = await context.newPage()
  await page.goto(`${origin}/errors`)
  await page.screenshot({ path: path.join(here, 'panel-list.png') })

  await page.goto(`${origin}/errors/issues/${userIssue.id}`)
  // from the header down to the end of the latest event's stack (the request, user and the rest follow)
  await page.setViewportSize({ width: 1200, height: 2600 })
  const stack = await page.locator('#stack').boundingBox()
  await page.screenshot({ path: path.join(here, 'panel-issue.png'), clip: { x: 0, y: 0, width: 1200, height: Math.ceil(stack.y + stack.height + 24) } })

  await page.goto(`${origin}/errors/rules`)
  const rules = await page.locator('table').boundingBox()
  await page.screenshot({ path: path.join(here, 'panel-rules.png'), clip: { x: 0, y: 0, width: 1200, height: Math.ceil(rules.y + rules.height + 24) } })
  console.log('wrote docs/panel-list.png, docs/panel-issue.png and docs/panel-rules.png')
} finally {
  await browser.close()
  server.close()
  await tracker.close()
  rmSync(publicDir, { recursive: true, force: true })
}
