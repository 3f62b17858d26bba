// An error storm: an Express app whose failing route throws a new message on every request, under
// 200 connections for 20 s, bare and with faultline on its default file store. It shows what the
// overload rule promises: every error counted (the issue's count against the errors thrown), how
// many full events were kept and how many shed, memory before, at the peak and after the storm
// (after a GC): the process's RSS, and V8's heap (heapTotal: what the heap holds from the system),
// and the event loop's delay during it.
//
//   npm run bench -- --storm          (or node bench/storm.js after npm run build)
//   BENCH_STORM_SECONDS=5 BENCH_STORM_CONNECTIONS=100   shorter or lighter
//   node bench/storm.js --gap         the event loop's p99 delay next to the bare app's under a storm
//                                     the bare app serves without saturating (400 requests/s over 50
//                                     connections, 3 s, 5 rounds alternating the two): the median gap
//                                     should stay within 10 ms; the exit status is 1 when it does not
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

const GAP_TARGET_MS = 10

/**
 * faultline's p99 event loop delay less the bare app's, over rounds that alternate which of the two
 * goes first, so that whatever else the machine does weighs on both; every error counted in each.
 */
export async function stormGap({ rounds = 5, load = { seconds: 3, connections: 50, rate: 400 } } = {}) {
  const gaps = []
  for (let round = 0; round < rounds; round++) {
    const [first, second] = round % 2 === 0 ? ['bare', 'faultline'] : ['faultline', 'bare']
    const a = await storm(first, load)
    const b = await storm(second, load)
    const [bare, faultline] = first === 'bare' ? [a, b] : [b, a]
    if (faultline.counted !== faultline.thrown) throw new Error(`round ${round + 1}: ${faultline.thrown} errors thrown, ${faultline.counted} counted`)
    gaps.push({ bare: bare.watched.p99, faultline: faultline.watched.p99, gap: faultline.watched.p99 - bare.watched.p99 })
  }
  const median = [...gaps].sort((x, y) => x.gap - y.gap)[Math.floor(gaps.length / 2)].gap
  return { load, gaps, median }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--gap')) {
    const { load, gaps, median } = await stormGap()
    console.log(`## Event loop delay under a storm the bare app serves: express /fail, ${load.rate} requests/s over ${load.connections} connections for ${load.seconds} s, ${gaps.length} alternated rounds (node ${process.version})`)
    console.log(table(['round', 'bare p99 ms', 'faultline p99 ms', 'gap ms'], gaps.map((g, i) => [String(i + 1), g.bare.toFixed(1), g.faultline.toFixed(1), g.gap.toFixed(1)])))
    console.log(`median gap ${median.toFixed(1)} ms: ${median <= GAP_TARGET_MS ? 'within' : 'over'} the ${GAP_TARGET_MS} ms target`)
    if (median > GAP_TARGET_MS) process.exitCode = 1
  } else {
    console.log(`## Error storm: express /fail, ${CONNECTIONS} connections for ${SECONDS} s, ${RATE > 0 ? `${RATE} requests/s` : 'as fast as the server answers'} (node ${process.version})`)
    const results = []
    for (const variant of ['bare', 'faultline']) results.push(await storm(variant))
    console.log(stormTable(results))
  }
}
