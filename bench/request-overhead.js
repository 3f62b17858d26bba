// faultline's own work on a request that captures nothing, in nanoseconds, beyond what any request
// scope costs: the same Express 5 and Koa 3 apps as the throughput bench, with their middleware and
// routers driven in-process by Node's own request objects on no connection, once with faultline (defaults, panel
// on) and once with the `als` reference (a middleware that runs the rest of the request in an
// AsyncLocalStorage). Without the network and the HTTP parser the difference stands out of the
// noise that hides it in a whole request; the throughput bench gives what a whole bare request
// costs, to take it as a share of.
//
//   npm run build && node bench/request-overhead.js [express|koa]        (npm run bench -- --overhead)
//
// Each variant runs in a process of its own (faultline patches Express's Layer prototype), in
// rounds of 200,000 requests, 50 at a time; figures are medians of the rounds' CPU time per request.
import { fork } from 'node:child_process'
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, median, table } from './stats.js'

const ROUNDS = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 9)
const PER_ROUND = 200_000
const IN_FLIGHT = 50

/** Node's own request and response objects, on a socket that is never written to: the route answers nothing. */
function fakeRequest() {
  const req = new http.IncomingMessage(socket)
  req.method = 'GET'
  req.url = '/ok'
  req.headers = { host: '127.0.0.1', 'user-agent': 'bench', accept: '*/*' }
  return req
}

const socket = new net.Socket()

function fakeResponse(req) {
  return new http.ServerResponse(req)
}

/** Express: `handle(done)` runs one request through the app; the route calls done. */
async function expressApp(variant, tracker) {
  const { default: express } = await import('express')
  const app = express()
  app.disable('x-powered-by')
  if (tracker) app.use(tracker.express())
  if (variant === 'als') {
    const als = new AsyncLocalStorage()
    app.use((req, res, next) => als.run({ req }, next))
  }
  let finish
  app.get('/ok', (req, res) => finish())
  app.get('/fail', () => {
    throw new Error('never thrown here')
  })
  app.use((err, req, res, next) => res.status(500).end())
  return () => new Promise((resolve) => {
    finish = resolve
    const req = fakeRequest()
    app.handle(req, fakeResponse(req), resolve)
  })
}

/** Koa: the app's composed middleware on a context of its own, and the ctx.onerror(null) Koa calls when a response ends. */
async function koaApp(variant, tracker) {
  const { default: Koa } = await import('koa')
  const { default: compose } = await import('koa-compose')
  const app = new Koa()
  app.silent = true
  if (tracker) app.use(tracker.koa())
  if (variant === 'als') {
    const als = new AsyncLocalStorage()
    app.use((ctx, next) => als.run({ ctx }, next))
  }
  app.use(async (ctx) => {
    if (ctx.path === '/ok') ctx.status = 204
    else throw new Error('never thrown here')
  })
  const run = compose(app.middleware)
  return async () => {
    const req = fakeRequest()
    const ctx = app.createContext(req, fakeResponse(req))
    await run(ctx)
    ctx.onerror(null)
  }
}

async function measure(framework, variant) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-overhead-'))
  let tracker = null
  if (variant === 'faultline') {
    const { createTracker } = await import('faultline')
    tracker = createTracker({ store: path.join(dir, 'errors.json') })
  }
  const request = await (framework === 'express' ? expressApp : koaApp)(variant, tracker)
  const round = async () => {
    const started = process.cpuUsage()
    for (let done = 0; done < PER_ROUND; done += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, request))
    const cpu = process.cpuUsage(started)
    return ((cpu.user + cpu.system) * 1000) / PER_ROUND
  }
  await round() // warm-up: the JIT settles
  const ns = []
  for (let r = 0; r < ROUNDS; r++) ns.push(await round())
  await tracker?.close()
  await rm(dir, { recursive: true, force: true })
  return median(ns)
}

function inChild(framework, variant) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', framework, variant], { env: { ...process.env, NODE_ENV: 'production' } })
    child.once('message', resolve)
    child.once('exit', (code) => (code === 0 ? null : reject(new Error(`${framework} ${variant} exited with ${code}`))))
  })
}

const args = process.argv.slice(2)
if (args[0] === '--child') {
  process.send(await measure(args[1], args[2]))
  process.exit(0)
} else {
  console.log(`## faultline's own work per request, beyond the request scope (node ${process.version}; ${ROUNDS} rounds of ${fmt(PER_ROUND, 0)} in-process requests, ${IN_FLIGHT} at a time)`)
  const rows = []
  for (const framework of args.length > 0 ? args : ['express', 'koa']) {
    // alternated, so that a slow moment of the machine weighs on both
    const als = []
    const faultline = []
    for (let i = 0; i < 3; i++) {
      als.push(await inChild(framework, 'als'))
      faultline.push(await inChild(framework, 'faultline'))
    }
    const a = median(als)
    const f = median(faultline)
    rows.push([framework, fmt(a, 0), fmt(f, 0), fmt(f - a, 0)])
  }
  console.log(table(['app', 'als: ns CPU/request', 'faultline: ns CPU/request', 'faultline beyond the scope, ns'], rows))
}
