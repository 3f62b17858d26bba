// `node bench/browser.js` (after `npm run build`): what a browser's error costs the server, next to
// a server-side capture. The Express bench app with faultline on its file store, the browser
// ingest on (its rate limits out of the way): autocannon POSTs one Sentry envelope, as
// @sentry/browser writes it, again and again (one issue, many events), then GETs /fail (a thrown
// error, captured by the middleware). For each: events recorded per second, and the server's CPU
// time per event, from process.cpuUsage() read over IPC after the load's events were flushed.
//
//   BENCH_QUICK=1 node bench/browser.js    a smoke run (1 round, 2 s loads)
import autocannon from 'autocannon'
import { ask, startServer, stopServer } from './control.js'
import { median, fmt, table } from './stats.js'

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 5))
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5))
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)
const KEY = 'benchkey0123456789'
process.env.BENCH_BROWSER_KEY = KEY

/** What @sentry/browser sends for an uncaught TypeError: an envelope of one event item, without length. */
function envelopeBody() {
  const event = {
    event_id: 'f'.repeat(32),
    platform: 'javascript',
    level: 'error',
    exception: {
      values: [{
        type: 'TypeError',
        value: "Cannot read properties of undefined (reading 'total')",
        mechanism: { type: 'onerror', handled: false },
        stacktrace: {
          frames: [
            { filename: 'http://127.0.0.1/static/vendor.js', function: 'HTMLButtonElement.<anonymous>', lineno: 1, colno: 4211, in_app: true },
            { filename: 'http://127.0.0.1/static/app.js', function: 'n', lineno: 1, colno: 1893, in_app: true },
            { filename: 'http://127.0.0.1/static/app.js', function: 'checkout', lineno: 1, colno: 2042, in_app: true },
          ],
        },
      }],
    },
    request: { url: 'http://127.0.0.1/cart?page=2', headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' } },
    user: { id: 'u-42', email: 'ann@example.com' },
    tags: { page: 'cart' },
    breadcrumbs: Array.from({ length: 20 }, (_, i) => ({ timestamp: 1_700_000_000 + i, category: i % 2 ? 'ui.click' : 'fetch', message: `step ${i}`, data: { url: '/api/cart', status_code: 500 } })),
    sdk: { name: 'sentry.javascript.browser', version: '11.0.0' },
  }
  return `${JSON.stringify({ event_id: event.event_id, sent_at: new Date().toISOString() })}\n{"type":"event"}\n${JSON.stringify(event)}\n`
}

async function measure(server, options) {
  const before = await ask(server, 'flush', 'flushed')
  const beforeStats = (await ask(server, 'stats', 'stats')).stats
  const started = Date.now()
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}${options.path}`, connections: CONNECTIONS, duration: SECONDS, ...options.request })
  const after = await ask(server, 'flush', 'flushed')
  const seconds = (Date.now() - started) / 1000
  const afterStats = (await ask(server, 'stats', 'stats')).stats
  const events = afterStats.stored + afterStats.shed - beforeStats.stored - beforeStats.shed
  const cpuUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system
  const ok = options.status === 200 ? result['2xx'] : result['5xx']
  return { perSecond: events / seconds, cpuPerEvent: cpuUs / Math.max(1, events), ok, other: result.non2xx - (options.status === 200 ? 0 : result['5xx']) }
}

const kinds = {
  browser: { path: `/faultline/api/1/envelope/?sentry_key=${KEY}&sentry_version=7`, status: 200, request: { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: envelopeBody() } },
  server: { path: '/fail', status: 500, request: {} },
}
const results = { browser: [], server: [] }
for (let round = 0; round < ROUNDS; round++) {
  const server = await startServer('express', 'faultline')
  try {
    // warm up both paths, then measure them in turn (the order rotated each round)
    for (const kind of Object.values(kinds)) await autocannon({ url: `http://127.0.0.1:${server.port}${kind.path}`, connections: CONNECTIONS, duration: 1, ...kind.request })
    const order = round % 2 === 0 ? ['browser', 'server'] : ['server', 'browser']
    for (const name of order) results[name].push(await measure(server, kinds[name]))
  } finally {
    await stopServer(server)
  }
}

console.log(`\nbrowser errors next to server errors: Express 5, file store, ${CONNECTIONS} connections, ${SECONDS} s loads, median of ${ROUNDS} rounds (Node ${process.version})\n`)
console.log(table(['', 'events recorded / s', 'server CPU / event', 'answered'], Object.entries(results).map(([name, runs]) => [
  name === 'browser' ? 'browser: POST envelope' : 'server: GET /fail (thrown)',
  fmt(median(runs.map((r) => r.perSecond)), 0),
  `${fmt(median(runs.map((r) => r.cpuPerEvent)), 0)} µs`,
  `${fmt(median(runs.map((r) => r.ok)), 0)} (${fmt(median(runs.map((r) => r.other)), 0)} other)`,
])))
