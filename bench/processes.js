// Many processes on one file store: events/s stored from 1, 2 and 4 processes capturing at once
// into one store, and the time from captureException in one process to the issue showing in the
// panel another process serves (median and 99th percentile), idle and while 4 processes write.
//
//   npm run bench -- --processes      (or node bench/processes.js after npm run build)
//   BENCH_QUICK=1 for a smoke run
//
// Each writer is a process with its own tracker on the store, capturing `new Error(...)` from one
// call site (one issue, most events shed past the issue's budget) or with 1,000 fingerprints (1,000
// issues, every event kept); events/s counts from the moment all writers start until the last one
// has flushed, and every event is read back from the store's counts.
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { countStored } from './stored.js'
import { fmt, median, table } from './stats.js'

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick')
const PER_PROCESS = QUICK ? 5_000 : 20_000
const SAMPLES = QUICK ? 50 : 200
const here = fileURLToPath(import.meta.url)

if (process.argv[2] === 'writer') await writer(process.argv[3], process.argv[4], Number(process.argv[5]))
else if (process.argv[2] === 'panel') await panelProcess(process.argv[3])
else if (process.argv[2] === 'prober') await prober(process.argv[3])
else await main()

/** A process capturing `count` errors into the store once told to start; says how long it took. */
async function writer(store, kind, count) {
  const { createTracker } = await import('faultline')
  const tracker = createTracker({ store, panel: false })
  // a warm-up (not counted in the rate, counted in the store)
  for (let i = 0; i < 200; i++) tracker.captureException(new Error(`warm ${i}`))
  await tracker.flush(60_000)
  process.send({ ready: true })
  await new Promise((resolve) => process.once('message', resolve))
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    tracker.captureException(new Error(`failure ${i}`), kind === 'issues' ? { fingerprint: ['bench', String(i % 1000)] } : undefined)
    // in batches below the queue's bound, as a busy app's requests would arrive
    if (i % 2000 === 1999) await tracker.flush(60_000)
  }
  await tracker.flush(60_000)
  process.send({ ms: performance.now() - started, stats: tracker.stats() })
  await tracker.close()
}

/** A process serving the panel over the store (an Express app), telling its port. */
async function panelProcess(store) {
  const { createTracker } = await import('faultline')
  const { default: express } = await import('express')
  const tracker = createTracker({ store })
  const app = express()
  app.use(tracker.express())
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
}

/** A process that captures one new issue when asked, and says when it did. */
async function prober(store) {
  const { createTracker } = await import('faultline')
  const tracker = createTracker({ store, panel: false })
  process.on('message', (msg) => {
    if (msg === 'stop') return tracker.close().then(() => process.exit(0))
    const at = Date.now()
    tracker.captureException(new Error(`probe ${msg}`), { fingerprint: ['probe', String(msg)] })
    process.send({ probe: msg, at })
  })
  process.send({ ready: true })
}

function start(args) {
  const child = fork(here, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = (pick) => new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`${args[0]} exited with ${code}`))
    const onMessage = (msg) => {
      if (!pick(msg)) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(msg)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
  return { child, next }
}

/** Events/s from `n` writers at once into a fresh store. */
async function throughput(n, kind) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-procs-'))
  const store = path.join(dir, 'errors.json')
  try {
    const writers = Array.from({ length: n }, () => start(['writer', store, kind, String(PER_PROCESS)]))
    await Promise.all(writers.map((w) => w.next((m) => m.ready)))
    const started = performance.now()
    const done = writers.map((w) => w.next((m) => m.ms !== undefined))
    for (const w of writers) w.child.send('go')
    const results = await Promise.all(done)
    const seconds = (performance.now() - started) / 1000
    await Promise.all(writers.map((w) => new Promise((resolve) => (w.child.exitCode === null ? w.child.once('exit', resolve) : resolve()))))
    const stored = await countStored(store)
    const expected = n * (PER_PROCESS + 200)
    const kept = results.reduce((sum, r) => sum + r.stats.stored, 0)
    return [kind === 'issues' ? '1,000 issues' : 'one issue', String(n), fmt(n * PER_PROCESS, 0), `${fmt(stored.events, 0)} of ${fmt(expected, 0)}`, fmt(kept, 0), fmt((n * PER_PROCESS) / seconds, 0)]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Time from a capture in one process to its issue in another's panel, `SAMPLES` times; with `load` writers meanwhile. */
async function visibility(load) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-visible-'))
  const store = path.join(dir, 'errors.json')
  const panel = start(['panel', store])
  const probe = start(['prober', store])
  const writers = Array.from({ length: load }, () => start(['writer', store, 'issue', String(10 * PER_PROCESS)]))
  try {
    const { port } = await panel.next((m) => m.port)
    await probe.next((m) => m.ready)
    await Promise.all(writers.map((w) => w.next((m) => m.ready)))
    for (const w of writers) w.child.send('go')
    const latencies = []
    for (let i = 0; i < SAMPLES; i++) {
      const sent = probe.next((m) => m.probe === i)
      probe.child.send(i)
      const { at } = await sent
      // the issue's id is its grouping hash: look it up by searching the panel's API for its title
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/errors/api/issues?q=${encodeURIComponent(`"probe ${i}"`)}&status=all`)
        const { issues } = await res.json()
        if (issues.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      latencies.push(Date.now() - at)
    }
    latencies.sort((a, b) => a - b)
    return [load === 0 ? 'idle' : `while ${load} processes write`, String(SAMPLES), fmt(median(latencies), 0), fmt(latencies[Math.ceil(0.99 * latencies.length) - 1], 0), fmt(latencies.at(-1), 0)]
  } finally {
    for (const p of [panel, probe, ...writers]) p.child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

async function main() {
  console.log(`## Many processes on one file store (node ${process.version}, ${os.cpus().length} CPUs)`)
  const rows = []
  for (const kind of ['issue', 'issues']) for (const n of [1, 2, 4]) rows.push(await throughput(n, kind))
  console.log(table(['captureException(new Error(...))', 'processes', 'captured (measured)', 'counted in the store (with warm-up)', 'kept in full', 'events/s until flushed'], rows))
  console.log('')
  const seen = [await visibility(0), await visibility(4)]
  console.log(table(['from captureException in one process to the issue in another process\'s panel', 'samples', 'median ms', 'p99 ms', 'max ms'], seen))
}
