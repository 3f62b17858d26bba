// An error storm: an Express app whose failing route throws a new message on every request, under
// 200 connections for 20 s, bare and with faultline on its default file store. It shows what the
// overload rule promises: every error counted (the issue's count against the errors thrown), how
// many full events were kept and how many shed, memory before, at the peak and after the storm
// (after a GC): the process's RSS, and V8's heap (heapTotal: what the heap holds from the system),
// and the event loop's delay during it.
//
//   npm run bench -- --storm          (or node bench/storm.js after npm run build)
//   BENCH_STORM_SECONDS=5 BENCH_STORM_CONNECTIONS=100   shorter or lighter
import autocannon from 'autocannon'
import { ask, startServer, stopServer } from './control.js'
import { countStored } from './stored.js'
import { fmt, table } from './stats.js'

const SECONDS = Number(process.env.BENCH_STORM_SECONDS ?? (process.env.BENCH_QUICK === '1' ? 5 : 20))
const CONNECTIONS = Number(process.env.BENCH_STORM_CONNECTIONS ?? 200)
/** requests per second in all, or 0 for as many as the server answers */
const RATE = Number(process.env.BENCH_STORM_RATE ?? 0)

/** One storm on a fresh server of `variant`; resolves with what it measured. */
export async function storm(variant, { seconds = SECONDS, connections = CONNECTIONS, rate = RATE } = {}) {
  const server = await startServer('express', variant)
  try {
    await autocannon({ url: `http://127.0.0.1:${server.port}/ok`, connections: 10, duration: 1 })
    const before = await ask(server, 'memory', 'memory')
    await ask(server, 'watch-start', 'watching')
    await autocannon({ url: `http://127.0.0.1:${server.port}/fail`, connections, duration: seconds, ...(rate > 0 ? { connectionRate: rate / connections } : {}) })
    const watched = await ask(server, 'watch-stop', 'watched')
    const flush = await ask(server, 'flush', 'flushed')
    await ask(server, 'memory', 'memory')
    // V8 shrinks its heap a moment after the collections that emptied it
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const after = await ask(server, 'memory', 'memory')
    const { stats } = await ask(server, 'stats', 'stats')
    const closed = await stopServer(server)
    const counted = server.dir ? await countStored(`${server.dir}/errors.json`) : null
    return { variant, thrown: closed.failures, counted: counted?.events ?? null, issues: counted?.issues ?? null, stats, flushMs: flush.ms, before, after, watched }
  } catch (err) {
    server.child.kill('SIGKILL')
    throw err
  }
}

const MB = (bytes) => (bytes / 1e6).toFixed(1)

export function stormTable(results) {
  return table(['variant', 'errors thrown', 'counted in issues', 'events kept', 'shed (counted, body not kept)', 'RSS MB before / peak / after (after GC)', 'V8 heap MB before / after', 'event loop delay p99 / max ms'],
    results.map((r) => [
      r.variant,
      fmt(r.thrown),
      r.counted === null ? '' : `${fmt(r.counted)}${r.counted === r.thrown ? ' (all)' : ` (${fmt(r.thrown - r.counted)} missing)`}`,
      r.stats ? fmt(r.stats.stored) : '',
      r.stats ? fmt(r.stats.shed) : '',
      `${MB(r.before.rss)} / ${MB(r.watched.peakRss)} / ${MB(r.after.rss)} (${r.after.rss >= r.before.rss ? '+' : ''}${MB(r.after.rss - r.before.rss)})`,
      `${MB(r.before.heapTotal)} / ${MB(r.after.heapTotal)}`,
      `${r.watched.p99.toFixed(1)} / ${r.watched.max.toFixed(1)}`,
    ]))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`## Error storm: express /fail, ${CONNECTIONS} connections for ${SECONDS} s, ${RATE > 0 ? `${RATE} requests/s` : 'as fast as the server answers'} (node ${process.version})`)
  const results = []
  for (const variant of ['bare', 'faultline']) results.push(await storm(variant))
  console.log(stormTable(results))
}
