// `npm run bench`: what faultline costs an Express 5 and a Koa 3 app, next to the bare app and
// to @sentry/node (errors only, its default integrations, DSN pointing at a local sink here).
//
//   npm run bench                      the full run (about 7 minutes on 2 cores)
//   BENCH_QUICK=1 npm run bench        a smoke run (1 round, 2 s loads)
//   npm run bench -- --only express:fail[:faultline]    one round of one route (and variant), to debug or profile
//   npm run bench -- --startup         only startup and idle memory (BENCH_STARTUPS=n starts per variant, default 9)
//   npm run bench -- --storm           only the error storm (bench/storm.js)
//   npm run bench -- --processes       only many processes on one file store (bench/processes.js)
//   npm run bench -- --overhead        only faultline's own work per request, in-process (bench/request-overhead.js)
//   npm run bench -- --all             also bench/build-event.js, browser.js, panel.js and postgres.js when present
//                                      (alone: npm run bench:panel, npm run bench:pg)
//   BENCH_PROFILE=dir npm run bench -- --only ...       CPU profiles of each measured load (not startup) to dir
//   node bench/profile-top.js dir                       the top self-time functions in them
//   npm run bench -- --node path/to/node                the whole run on that Node.js binary (for example
//                                      one from `npm install --prefix .ci/node-24 node@24`); BENCH_NODE=path too
//
// Each round starts a fresh server process per variant, warms each up, then loads one route with
// autocannon in short slices that alternate between the variants (in rotated order), so that a
// noisy neighbour on a shared machine weighs on all variants alike; rounds repeat that with new
// processes. Figures are medians over rounds; ratios are medians of the per-round ratios to bare.
// Server CPU time per request (process.cpuUsage() read over IPC, from after the warm-up's flush
// to after the flush of what the load captured, divided by the requests the server counted) is
// the steadier figure; requests per second depends on whatever else the machine does.
import { fork, spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { startSink } from './sink.js'
import { ask, askWith, get, startServer as startBenchServer, stopServer } from './control.js'
import { countStored } from './stored.js'
import { median, fmt, table } from './stats.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)

// another Node.js binary: the whole run again under it (servers and scripts are forked from process.execPath)
const nodeAt = args.includes('--node') ? args.splice(args.indexOf('--node'), 2)[1] : process.env.BENCH_NODE
if (nodeAt && path.resolve(nodeAt) !== process.execPath) {
  const child = spawn(path.resolve(nodeAt), [fileURLToPath(import.meta.url), ...args], { stdio: 'inherit', env: { ...process.env, BENCH_NODE: '' } })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
  await new Promise(() => {})
}
const QUICK = process.env.BENCH_QUICK === '1' || args.includes('--quick')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 5))
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 2.5))
const WARMUP_SECONDS = 1
/** each variant's load is cut in this many slices, alternating between the variants */
const SLICES = Number(process.env.BENCH_SLICES ?? (QUICK ? 2 : 5))
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const STARTUPS = Number(process.env.BENCH_STARTUPS ?? (QUICK ? 3 : 9))
const PROFILE_DIR = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : null
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true })
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null
const startupOnly = args.includes('--startup')
/** sections run alone; the full run has them all */
const alone = ['--storm', '--processes', '--overhead'].filter((flag) => args.includes(flag))

const FRAMEWORKS = ['express', 'koa']
const ROUTES = ['ok', 'fail']
// BENCH_VARIANTS=bare,noop,als,faultline adds references: an empty middleware, and one that opens an AsyncLocalStorage
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'bare,als,faultline,sentry').split(',')

const sink = await startSink()
const startServer = (framework, variant) => startBenchServer(framework, variant, { sinkPort: sink.port })

function load(port, route, seconds) {
  return autocannon({ url: `http://127.0.0.1:${port}/${route}`, connections: CONNECTIONS, duration: seconds })
}

/**
 * One round of one (framework, route): a fresh server per variant, each warmed up, then the load
 * in short slices that alternate between the variants (in rotated order), so that whatever else
 * the machine does in those seconds weighs on every variant alike. Each server's CPU time counts
 * from after its warm-up was flushed to after the load's events were flushed.
 */
async function measureGroup(framework, route, variants, round) {
  const servers = []
  try {
    // started and warmed up side by side: neither is measured, and it saves a minute over the run
    const started = await Promise.allSettled(variants.map((variant) => startServer(framework, variant)))
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    await Promise.all(servers.map((server) => load(server.port, route, WARMUP_SECONDS)))
    for (const server of servers) {
      if (PROFILE_DIR) await ask(server, 'profile-start', 'profiling')
      server.before = await ask(server, 'flush', 'flushed')
      server.completed = 0
      server.loadSeconds = 0
      server.clientErrors = 0
    }
    for (let slice = 0; slice < SLICES; slice++) {
      for (const server of rotate(servers, slice + round)) {
        const started = performance.now()
        const result = await load(server.port, route, SECONDS / SLICES)
        server.loadSeconds += (performance.now() - started) / 1000
        server.completed += result.requests.total
        server.clientErrors += result.errors + result.timeouts
      }
    }
    const results = []
    for (const server of servers) {
      const after = await ask(server, 'flush', 'flushed')
      if (PROFILE_DIR) {
        const name = `${framework}-${route}-${server.variant}-${server.id}`
        console.log(`  profile: ${(await askWith(server, { cmd: 'profile-stop', dir: PROFILE_DIR, name }, 'profiled')).file}`)
      }
      const { before } = server
      const cpuMicros = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system)
      // the server's own count: autocannon's misses the requests in flight when a slice stops
      const requests = after.requests - before.requests
      const m = {
        framework, route, round, variant: server.variant,
        rps: server.completed / server.loadSeconds,
        cpuPerRequest: cpuMicros / requests,
        userPerRequest: (after.cpu.user - before.cpu.user) / requests,
        requests,
        errors: server.clientErrors,
        flushed: after.flushed,
      }
      m.failed = (await stopServer(server)).failures
      if (server.variant === 'faultline' && route === 'fail') m.stored = (await countStored(path.join(server.dir, 'errors.json'))).events
      if (server.variant === 'sentry' && route === 'fail') m.stored = sink.events(server.id)
      if (server.stderr.trim()) m.stderr = server.stderr.trim().split('\n').slice(0, 3).join('\n')
      results.push(m)
    }
    return results
  } finally {
    for (const server of servers) {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      if (server.dir) await rm(server.dir, { recursive: true, force: true })
    }
  }
}

function rotate(list, by) {
  return list.map((_, i) => list[(i + by) % list.length])
}

async function throughputRounds() {
  const results = []
  let groups = FRAMEWORKS.flatMap((framework) => ROUTES.map((route) => ({ framework, route, variants: VARIANTS })))
  if (only) {
    const [framework, route, variant] = only.split(':')
    groups = groups.filter((g) => g.framework === framework && g.route === route)
    if (groups.length === 0 || (variant && !VARIANTS.includes(variant))) throw new Error('--only takes framework:route[:variant], e.g. express:fail or express:fail:faultline')
    if (variant) groups[0].variants = [variant]
  }
  const rounds = only && !process.env.BENCH_ROUNDS ? 1 : ROUNDS
  for (let round = 0; round < rounds; round++) {
    console.log(`round ${round + 1} of ${rounds}`)
    for (const { framework, route, variants } of rotate(groups, round)) {
      for (const m of await measureGroup(framework, route, variants, round)) {
        results.push(m)
        const stored = m.stored === undefined ? '' : `, stored ${m.stored} of ${m.failed}`
        console.log(`  ${framework} /${route} ${m.variant}: ${fmt(m.rps, 0)} req/s, ${fmt(m.cpuPerRequest, 1)} µs CPU/req${stored}${m.errors ? `, ${m.errors} client errors` : ''}`)
        if (m.stderr) console.log(`    server stderr: ${m.stderr.replace(/\n/g, '\n    ')}`)
      }
    }
  }
  return results
}

function summarise(results) {
  const rows = []
  for (const framework of FRAMEWORKS) {
    for (const route of ROUTES) {
      for (const variant of VARIANTS) {
        const mine = results.filter((m) => m.framework === framework && m.route === route && m.variant === variant)
        if (mine.length === 0) continue
        const paired = (key) => {
          const ratios = mine.flatMap((m) => {
            const bare = results.find((b) => b.framework === framework && b.route === route && b.variant === 'bare' && b.round === m.round)
            return bare ? [m[key] / bare[key]] : []
          })
          return ratios.length ? median(ratios) : NaN
        }
        let stored = ''
        if (route === 'fail' && mine.every((m) => m.stored !== undefined)) {
          const got = mine.reduce((s, m) => s + m.stored, 0)
          const sent = mine.reduce((s, m) => s + m.failed, 0)
          stored = `${got} of ${sent} (dropped ${sent - got})`
        }
        rows.push([
          `${framework} /${route}`, variant,
          fmt(median(mine.map((m) => m.rps)), 0), fmt(paired('rps'), 2) + 'x',
          fmt(median(mine.map((m) => m.cpuPerRequest)), 1), fmt(paired('cpuPerRequest'), 2) + 'x', fmt(paired('userPerRequest'), 2) + 'x',
          stored,
        ])
      }
    }
  }
  return table(['app /route', 'variant', 'req/s', 'vs bare', 'CPU µs/req', 'vs bare', 'user CPU vs bare', 'events stored (all rounds)'], rows)
}

/** Startup (spawn to first answered request) and idle memory after a few requests and GC. */
async function startupAndMemory() {
  const rows = []
  for (const framework of FRAMEWORKS) {
    const figures = Object.fromEntries(VARIANTS.map((v) => [v, { startup: [], rss: [], heap: [] }]))
    for (let i = 0; i < STARTUPS; i++) {
      for (const variant of rotate(VARIANTS, i)) {
        const server = await startServer(framework, variant)
        try {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
          for (let r = 0; r < 200; r++) await get(server.port, '/ok', agent)
          for (let r = 0; r < 20; r++) await get(server.port, '/fail', agent)
          agent.destroy()
          const mem = await ask(server, 'memory', 'memory')
          figures[variant].startup.push(server.startupMs)
          figures[variant].rss.push(mem.rss / 2 ** 20)
          figures[variant].heap.push(mem.heapUsed / 2 ** 20)
          await stopServer(server)
        } finally {
          if (server.child.exitCode === null) server.child.kill('SIGKILL')
          if (server.dir) await rm(server.dir, { recursive: true, force: true })
        }
      }
    }
    const bare = figures.bare
    for (const variant of VARIANTS) {
      const f = figures[variant]
      // the median of the differences within each rotation, as the ratios are: a slow moment of the
      // machine weighs on the variants started next to each other alike
      const plus = (list, base, digits) => {
        const d = median(list.map((value, i) => value - base[i]))
        return variant === 'bare' ? '' : ` (${d >= 0 ? '+' : '-'}${fmt(Math.abs(d), digits)})`
      }
      rows.push([
        framework, variant,
        fmt(median(f.startup), 0) + plus(f.startup, bare.startup, 0),
        fmt(median(f.rss), 1) + plus(f.rss, bare.rss, 1),
        fmt(median(f.heap), 1) + plus(f.heap, bare.heap, 1),
      ])
    }
  }
  return table(['app', 'variant', `startup ms (median of ${STARTUPS}; +: median difference to bare in the same rotation)`, 'idle RSS MB', 'heap used MB'], rows)
}

/** captureException into the file store, in a fresh process, until flushed. */
function captureThroughput() {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, 'capture.js'), QUICK ? ['--quick'] : [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`bench/capture.js exited with ${code}\n${out}`))))
  })
}

function runScript(file) {
  return new Promise((resolve) => {
    console.log(`\n## ${path.basename(file)}`)
    const child = spawn(process.execPath, [file], { stdio: 'inherit', env: { ...process.env, BENCH_SECONDS: QUICK ? '2' : (process.env.BENCH_SECONDS ?? ''), BENCH_QUICK: QUICK ? '1' : '' } })
    child.on('exit', (code) => {
      if (code !== 0) console.log(`${path.basename(file)} exited with ${code}`)
      resolve()
    })
  })
}

const started = Date.now()
console.log(`faultline bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
console.log(`${ROUNDS} rounds; in each, fresh servers per variant, ${WARMUP_SECONDS} s warm-up, then ${SECONDS} s of load each in ${SLICES} slices alternating between the variants; ${CONNECTIONS} connections\n`)
/** The throughput rounds, startup and memory, capture into the file store, the storm, many processes. */
async function fullRun() {
  if (!startupOnly) {
    const results = await throughputRounds()
    console.log('\n## Throughput and server CPU per request (medians; ratios are medians of per-round ratios to bare)')
    console.log(summarise(results))
  }
  if (only) return
  console.log('\n## Startup (spawn to first answered request) and idle memory (after 220 requests, flush and GC)')
  console.log(await startupAndMemory())
  if (startupOnly) return
  console.log('\n## captureException into the file store (one process, until flushed)')
  console.log(await captureThroughput())
  await runScript(path.join(here, 'request-overhead.js'))
  await runScript(path.join(here, 'storm.js'))
  await runScript(path.join(here, 'processes.js'))
}

try {
  if (alone.includes('--storm')) await runScript(path.join(here, 'storm.js'))
  if (alone.includes('--processes')) await runScript(path.join(here, 'processes.js'))
  if (alone.includes('--overhead')) await runScript(path.join(here, 'request-overhead.js'))
  if (alone.length === 0) await fullRun()
  if (args.includes('--all')) {
    for (const name of ['build-event.js', 'browser.js', 'panel.js', 'postgres.js']) {
      const file = path.join(here, name)
      if (existsSync(file)) await runScript(file)
    }
  }
  console.log(`\ndone in ${fmt((Date.now() - started) / 1000, 0)} s`)
} finally {
  await sink.close()
}
