// The panel's page times on a big file store: 10,000 issues and 100,000 events.
//
//   npm run build && node bench/panel.js                  the default run
//   PANEL_ISSUES=2000 PANEL_EVENTS=20000 node bench/panel.js   a smaller store
//   PANEL_REQUESTS=50 node bench/panel.js                   more requests per page (default 30)
//
// Fills a fresh file store in a temp directory (events spread over 30 days, with tags, users,
// requests and stacks like real ones), reopens it from disk, then times each page as a browser
// would load it: one request at a time over a kept-alive loopback connection, median and p95
// of N after a warm-up. The target is under 100 ms per page.
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { fileStore } from '../dist/adapters/file.js'
import { groupEvent, userKey } from '../dist/common/fingerprint.js'
import { resolveOptions } from '../dist/lib/options.js'
import { createPanel } from '../dist/lib/panel/index.js'

const ISSUES = Number(process.env.PANEL_ISSUES ?? 10_000)
const EVENTS = Number(process.env.PANEL_EVENTS ?? 100_000)
const REQUESTS = Number(process.env.PANEL_REQUESTS ?? 30)
const DAY = 86_400_000
const BROWSERS = ['Chrome', 'Firefox', 'Safari', 'Edge']
const TYPES = ['TypeError', 'RangeError', 'Error', 'SyntaxError']

function frame(fn, file, lineno, inApp) {
  return inApp
    ? { function: fn, filename: file, lineno, colno: 11, in_app: true, pre_context: ['  const user = await db.users.find(id)', '  if (!user) {'], context_line: `    throw new Error('missing')`, post_context: ['  }', '  return user'] }
    : { function: fn, filename: `node_modules/express/lib/router/${file}`, lineno, colno: 5, in_app: false }
}

function event(issue, n, now) {
  const t = new Date(now - Math.floor(Math.random() * 30 * DAY))
  const user = { id: `user-${(issue * 7 + n) % 500}`, email: `user${(issue * 7 + n) % 500}@example.com` }
  return {
    event_id: randomBytes(16).toString('hex'),
    timestamp: t.toISOString(),
    level: issue % 10 === 0 ? 'warning' : 'error',
    exception: {
      type: TYPES[issue % TYPES.length],
      value: `Problem ${issue} happened while handling item ${n}`,
      stacktrace: { frames: [frame('handle', 'layer.js', 95, false), frame('next', 'route.js', 149, false), frame(`routeHandler${issue}`, `routes/area${issue % 50}.js`, 20 + (issue % 30), true), frame(`service${issue}`, `services/s${issue % 200}.js`, 42, true)] },
    },
    tags: { browser: BROWSERS[(issue + n) % BROWSERS.length], route: `/area${issue % 50}/:id`, plan: n % 3 === 0 ? 'pro' : 'free' },
    extra: { attempt: n },
    user,
    request: { method: 'GET', url: `https://shop.example.com/area${issue % 50}/${n}`, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0', accept: 'text/html' } },
    contexts: { runtime: { name: 'node', version: process.version } },
    breadcrumbs: [{ timestamp: t.toISOString(), category: 'http', message: 'GET /area', level: 'info' }],
    environment: issue % 5 === 0 ? 'staging' : 'production',
    release: `1.${issue % 20}.0`,
    server_name: `web-${issue % 4}`,
    fingerprint: ['{{ default }}'],
  }
}

async function fill(file) {
  const store = fileStore({ path: file })
  await store.open()
  const started = Date.now()
  const now = Date.now()
  const perIssue = Math.floor(EVENTS / ISSUES)
  // a thousand issues at a time: the store gathers what is recorded together into one write
  for (let first = 0; first < ISSUES; first += 1000) {
    const recorded = []
    for (let i = first; i < Math.min(ISSUES, first + 1000); i++) {
      for (let n = 0; n < perIssue; n++) {
        const e = event(i, n, now)
        recorded.push(store.record({ event: e, grouping: groupEvent(e), userKey: userKey(e.user) }))
      }
    }
    await Promise.all(recorded)
    await store.flush()
  }
  await store.flush()
  await store.close()
  return (Date.now() - started) / 1000
}

function get(agent, port, urlPath) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let size = 0
      res.on('data', (c) => (size += c.length))
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${urlPath} answered ${res.statusCode}`))
        resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, size })
      })
    })
    req.on('error', reject)
  })
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

async function time(agent, port, urlPath) {
  for (let i = 0; i < 3; i++) await get(agent, port, urlPath)
  const runs = []
  let size = 0
  for (let i = 0; i < REQUESTS; i++) {
    const r = await get(agent, port, urlPath)
    runs.push(r.ms)
    size = r.size
  }
  runs.sort((a, b) => a - b)
  return { median: quantile(runs, 0.5), p95: quantile(runs, 0.95), size }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-panel-bench-'))
try {
  const file = path.join(dir, 'errors.json')
  console.log(`\n## Panel pages on a file store (${ISSUES.toLocaleString('en-US')} issues, ${EVENTS.toLocaleString('en-US')} events)`)
  const fillSeconds = await fill(file)
  console.log(`filled in ${fillSeconds.toFixed(1)} s; ${os.cpus().length} CPUs, Node ${process.version}`)

  const openStarted = Date.now()
  const store = fileStore({ path: file })
  await store.open()
  const openMs = Date.now() - openStarted
  const options = resolveOptions({ store, environment: 'development', appName: 'bench' })
  const panel = createPanel({ store, options })
  const server = http.createServer((req, res) => {
    const [p, q = ''] = (req.url ?? '/').slice('/errors'.length).split('?')
    void panel.handle(req, res, { basePath: '/errors', path: p || '/', search: q ? `?${q}` : '' })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

  const busiest = (await store.listIssues({ sort: 'events', limit: 1 })).issues[0]
  const second = (await store.listIssues({ limit: 25 })).nextCursor
  const { events } = await store.listEvents(busiest.id, { limit: 5 })
  const pages = [
    ['list (unresolved, last seen)', '/errors'],
    ['list, page 2 (cursor)', `/errors?cursor=${second}`],
    ['list sorted by events', '/errors?sort=events'],
    ['list, tag search browser:safari', '/errors?q=browser%3Asafari'],
    ['list, free text search', '/errors?q=handling+item'],
    ['issue (latest event)', `/errors/issues/${busiest.id}`],
    ['issue, an older event', `/errors/issues/${busiest.id}/events/${events[events.length - 1].event_id}`],
    ['API GET /api/issues', '/errors/api/issues'],
    ['API GET /api/issues/:id', `/errors/api/issues/${busiest.id}`],
  ]
  console.log(`store opened from disk in ${openMs} ms; ${REQUESTS} sequential requests per page after 3 warm-ups\n`)
  console.log('| page | median ms | p95 ms | bytes |')
  console.log('|---|---:|---:|---:|')
  for (const [name, url] of pages) {
    const t = await time(agent, port, url)
    console.log(`| ${name} | ${t.median.toFixed(1)} | ${t.p95.toFixed(1)} | ${t.size.toLocaleString('en-US')} |`)
  }
  agent.destroy()
  server.close()
  await store.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
