// Benchmarks the PostgreSQL store: events recorded per second through the tracker with 1 and 4
// concurrent writers (each its own tracker, store and pool, as separate app instances), and the panel's
// list query on 100,000 issues and 1,000,000 events.
//
//   npm run build && node bench/postgres.js
//   FAULTLINE_TEST_PG=postgres://user@host:5432/db node bench/postgres.js
//
// Works in a throwaway schema (faultline_bench_<random>) that it drops at the end.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { postgresStore } from '../dist/adapters/postgres.js'
import { createTracker } from '../dist/lib/index.js'

const url = process.env.FAULTLINE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `faultline_bench_${randomBytes(4).toString('hex')}`
const EVENTS_PER_WRITER = Number(process.env.BENCH_EVENTS ?? 5000)
const ISSUES = 100_000
const EVENTS = 1_000_000

const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
try {
  await admin.connect()
} catch (err) {
  console.error(`bench/postgres: cannot reach PostgreSQL at ${url} (${err.message}); start it or set FAULTLINE_TEST_PG`)
  process.exit(1)
}

/**
 * Each writer is one app instance: a tracker on its own store and pool, capturing `EVENTS_PER_WRITER`
 * errors (spread over `issues` issues and 300 users) as fast as it can; the rate is events stored
 * per second until every tracker has flushed.
 */
async function recordRate(writers, issues) {
  const trackers = Array.from({ length: writers }, () => createTracker({
    store: postgresStore({ connectionString: url, schema }),
    captureUncaught: false,
    captureUnhandledRejections: false,
    maxQueueSize: EVENTS_PER_WRITER,
    onInternalError: (err) => console.error(`bench/postgres: ${err.message}`),
  }))
  await Promise.all(trackers.map((t) => t.store.countIssues())) // migrate and connect before timing
  const start = performance.now()
  for (let i = 0; i < EVENTS_PER_WRITER; i++) {
    for (const tracker of trackers) {
      const issue = Math.floor(Math.random() * issues)
      tracker.captureException(new TypeError(`Cannot read properties of undefined (reading 'id') #${issue}`), {
        fingerprint: [`issue-${issue}`],
        user: { id: `u${Math.floor(Math.random() * 300)}` },
        tags: { route: 'GET /users/:id' },
      })
    }
  }
  const flushed = await Promise.all(trackers.map((t) => t.flush(120_000)))
  const rate = (writers * EVENTS_PER_WRITER) / ((performance.now() - start) / 1000)
  await Promise.all(trackers.map((t) => t.close()))
  if (flushed.includes(false)) throw new Error('a tracker did not flush within 120 s')
  return Math.round(rate)
}

async function fill(store) {
  await store.countIssues() // creates the tables
  const t = (name) => `"${schema}"."faultline_${name}"`
  const started = performance.now()
  await admin.query(`SET synchronous_commit = off`)
  await admin.query(`TRUNCATE ${t('issues')} CASCADE`)
  // 100,000 issues seen over the last 30 days, a tenth resolved and a tenth ignored
  await admin.query(`
    INSERT INTO ${t('issues')} (id, fingerprint, title, culprit, type, message, level, status, count, user_count,
      first_seen, last_seen, first_release, last_release, environments, count_since_regression, users_since_regression)
    SELECT 'fill' || lpad(n::text, 12, '0'), '["TypeError"]', 'TypeError: failure number ' || n, 'handler' || (n % 500) || ' (routes/r' || (n % 50) || '.js)',
      'TypeError', 'failure number ' || n, 'error',
      CASE WHEN n % 10 = 0 THEN 'resolved' WHEN n % 10 = 1 THEN 'ignored' ELSE 'unresolved' END,
      10, 1 + n % 7, now() - interval '30 days' + (n % 1000) * interval '1 minute', now() - (n % 43200) * interval '1 minute',
      '1.0.0', '1.0.' || (n % 20), ARRAY['production'], 10, 1 + n % 7
    FROM generate_series(1, ${ISSUES}) AS n`)
  // 10 events per issue, as jsonb the size of a small real event
  await admin.query(`
    INSERT INTO ${t('events')} (event_id, issue_id, ts, data)
    SELECT md5(n::text), 'fill' || lpad((1 + n % ${ISSUES})::text, 12, '0'), now() - (n % 43200) * interval '1 minute',
      jsonb_build_object('event_id', md5(n::text), 'timestamp', now(), 'level', 'error', 'message', 'failure number ' || n,
        'exception', jsonb_build_object('type', 'TypeError', 'value', 'failure', 'stacktrace', jsonb_build_object('frames',
          jsonb_build_array(jsonb_build_object('function', 'handler', 'filename', 'routes/r.js', 'lineno', 12, 'in_app', true)))),
        'tags', jsonb_build_object('browser', 'chrome'), 'extra', '{}'::jsonb, 'contexts', '{}'::jsonb, 'breadcrumbs', '[]'::jsonb,
        'environment', 'production', 'release', '1.0.0', 'fingerprint', '["{{ default }}"]'::jsonb)
    FROM generate_series(1, ${EVENTS}) AS n`)
  await admin.query(`
    INSERT INTO ${t('issue_tags')} (issue_id, key, value, count)
    SELECT id, 'browser', CASE WHEN right(id, 1) < '5' THEN 'chrome' ELSE 'firefox' END, 10 FROM ${t('issues')}`)
  await admin.query(`
    INSERT INTO ${t('issue_hourly')} (issue_id, hour, count)
    SELECT id, date_trunc('hour', last_seen), 10 FROM ${t('issues')}`)
  await admin.query(`ANALYZE ${t('issues')}, ${t('events')}, ${t('issue_tags')}, ${t('issue_hourly')}`)
  return (performance.now() - started) / 1000
}

async function time(fn, runs = 20) {
  await fn() // warm the cache
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return `median ${times[Math.floor(runs / 2)].toFixed(1)} ms, worst ${times[runs - 1].toFixed(1)} ms`
}

try {
  console.log(`PostgreSQL store benchmark (${url.replace(/:[^:@/]*@/, ':***@')}, schema ${schema})`)
  for (const [writers, issues, label] of [[1, 100, '100 issues'], [4, 100, '100 issues'], [4, 1, 'one hot issue']]) {
    const rate = await recordRate(writers, issues)
    console.log(`record: ${writers} writer${writers > 1 ? 's' : ' '} (${label.padEnd(13)}) ${String(rate).padStart(6)} events/s`)
  }

  const store = postgresStore({ connectionString: url, schema })
  const seconds = await fill(store)
  console.log(`filled ${ISSUES.toLocaleString('en')} issues and ${EVENTS.toLocaleString('en')} events in ${seconds.toFixed(1)} s`)
  const first = await store.listIssues({ limit: 25 })
  console.log(`listIssues, first page (unresolved, last seen):   ${await time(() => store.listIssues({ limit: 25 }))}`)
  console.log(`listIssues, next page by cursor:                  ${await time(() => store.listIssues({ limit: 25, cursor: first.nextCursor }))}`)
  console.log(`listIssues, all statuses sorted by events:        ${await time(() => store.listIssues({ status: 'all', sort: 'events', limit: 25 }))}`)
  console.log(`listIssues, search "number 4242":                 ${await time(() => store.listIssues({ q: 'number 4242', limit: 25 }))}`)
  console.log(`listIssues, tag search browser:firefox:           ${await time(() => store.listIssues({ q: 'browser:firefox', limit: 25 }))}`)
  console.log(`countIssues (status tabs):                        ${await time(() => store.countIssues())}`)
  console.log(`list page (listIssues + countIssues + 25 histograms): ${await time(async () => {
    const [page] = await Promise.all([store.listIssues({ limit: 25 }), store.countIssues()])
    await Promise.all(page.issues.map((issue) => store.histogram(issue.id, { interval: 'hour', buckets: 24 })))
  })}`)
  await store.close()
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.end()
}
