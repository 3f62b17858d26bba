// What every bench server shares: the variant under test (bare, faultline, sentry) and the
// control channel run.js drives over IPC (CPU time, flush, memory, exit). Nothing here runs
// on the request path, so the three variants differ only in what the tracker itself costs.
//
// BENCH_VARIANT  bare | noop | als | faultline | sentry (sentry also needs `--import ./bench/servers/sentry-init.js`)
// BENCH_STORE    faultline: the file store's path (a fresh temp dir per process)
// BENCH_BROWSER_KEY  faultline: turn the browser ingest on with this key (bench/browser.js)
// PORT           where to listen (127.0.0.1)
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'

let failures = 0

/** The message for the next failing request: a new one every time, counted for run.js. */
export function nextFailure() {
  return `failure ${++failures}`
}

/** Loads the variant: `{ name, tracker?, Sentry?, flush(), close() }`. */
export async function loadVariant() {
  const name = process.env.BENCH_VARIANT ?? 'bare'
  if (name === 'bare') return { name, flush: async () => true, close: async () => {} }
  // a reference: what any one middleware costs (an empty one, before the routes)
  if (name === 'noop') return { name, noop: true, flush: async () => true, close: async () => {} }
  // a reference: an empty middleware that runs the rest of the request in an AsyncLocalStorage, as any request scope does
  if (name === 'als') {
    const { AsyncLocalStorage } = await import('node:async_hooks')
    return { name, als: new AsyncLocalStorage(), flush: async () => true, close: async () => {} }
  }
  if (name === 'faultline') {
    // the package by its own name: what an app writes
    const { createTracker } = await import('faultline')
    // BENCH_BROWSER_KEY (bench/browser.js): the browser ingest on, its limits out of the way
    const key = process.env.BENCH_BROWSER_KEY
    const browser = key ? { key, eventsPerMinute: 1e9, newIssuesPerMinute: 1e9 } : undefined
    const tracker = createTracker({ store: process.env.BENCH_STORE, browser })
    return { name, tracker, flush: () => tracker.flush(60_000), close: () => tracker.close(60_000) }
  }
  if (name === 'sentry') {
    const Sentry = await import('@sentry/node')
    if (!Sentry.getClient()) throw new Error('sentry variant: start node with --import ./bench/servers/sentry-init.js')
    return { name, Sentry, flush: () => Sentry.flush(30_000), close: () => Sentry.close(5_000) }
  }
  throw new Error(`BENCH_VARIANT must be bare, faultline or sentry, not ${name}`)
}

/** A V8 CPU profile of just the measured load (not startup or warm-up), for BENCH_PROFILE. */
async function startProfile() {
  const { Session } = await import('node:inspector')
  const session = new Session()
  session.connect()
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))))
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: 200 })
  await post('Profiler.start')
  return {
    async stop() {
      const { profile } = await post('Profiler.stop')
      session.disconnect()
      return profile
    },
  }
}

/** Listens on PORT and answers run.js's control messages. */
export function serve(server, variant) {
  // counted here rather than from autocannon's answers, which miss the requests still in flight when a load ends
  let requests = 0
  let profiler = null
  /** during a storm (storm.js): the event loop's delay, and the highest RSS sampled every 100 ms */
  let watch = null
  server.on('request', () => requests++)
  const port = Number(process.env.PORT ?? 0)
  server.listen(port, '127.0.0.1', () => process.send?.({ type: 'listening', port: server.address().port }))
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'cpu') {
        process.send({ type: 'cpu', cpu: process.cpuUsage() })
      } else if (msg.cmd === 'flush') {
        const started = Date.now()
        const flushed = await variant.flush()
        process.send({ type: 'flushed', flushed, ms: Date.now() - started, cpu: process.cpuUsage(), requests, failures })
      } else if (msg.cmd === 'memory') {
        await variant.flush()
        for (let i = 0; i < 3; i++) {
          globalThis.gc?.()
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
        process.send({ type: 'memory', rss, heapUsed, heapTotal, external, arrayBuffers })
      } else if (msg.cmd === 'watch-start') {
        const delay = monitorEventLoopDelay({ resolution: 10 })
        delay.enable()
        let peakRss = process.memoryUsage().rss
        const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100)
        watch = { delay, sampler, peak: () => peakRss }
        process.send({ type: 'watching' })
      } else if (msg.cmd === 'watch-stop') {
        watch.delay.disable()
        clearInterval(watch.sampler)
        const ms = (ns) => ns / 1e6
        process.send({ type: 'watched', p50: ms(watch.delay.percentile(50)), p99: ms(watch.delay.percentile(99)), max: ms(watch.delay.max), peakRss: watch.peak() })
      } else if (msg.cmd === 'stats') {
        process.send({ type: 'stats', stats: variant.tracker?.stats() ?? null })
      } else if (msg.cmd === 'profile-start') {
        profiler = await startProfile()
        process.send({ type: 'profiling' })
      } else if (msg.cmd === 'profile-stop') {
        const file = path.join(msg.dir, `${msg.name}.cpuprofile`)
        await writeFile(file, JSON.stringify(await profiler.stop()))
        process.send({ type: 'profiled', file })
      } else if (msg.cmd === 'exit') {
        await variant.close()
        server.close()
        // the final counts: a request still in the server's buffers when a load stopped is counted here
        process.send({ type: 'closed', requests, failures }, () => process.exit(0))
      }
    } catch (err) {
      process.send({ type: 'error', message: String(err?.stack ?? err) })
    }
  })
}
