// faultline's own work per request, measured without the network: the same Express 5 and Koa 3
// apps as the throughput bench, their middleware and routers driven in-process by Node's own
// request objects on no connection, so that the difference stands out of the noise that hides it
// in a whole request (the throughput bench gives what a whole bare request costs, to take it as a
// share of).
// - /ok, a request that captures nothing: faultline (defaults, panel on) against the `als`
//   reference, a middleware that runs the rest of the request in an AsyncLocalStorage, which any
//   request scope costs.
// - /fail, a route that throws a new message every time (one call site: one issue, most events shed
//   past the budget, as in a storm): faultline against the bare app, with what the store
//   writes for them (each round ends with flush()): the CPU one captured error costs the app.
//
//   npm run build && node bench/request-overhead.js [express|koa]        (npm run bench -- --overhead)
//
// Each variant runs in a process of its own (faultline patches Express's Layer prototype), in
// rounds of requests, 50 at a time; figures are medians of the rounds' CPU time per request.
import { fork } from 'node:child_process'
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, median, table } from './stats.js'

const ROUNDS = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 7)
const PER_ROUND = { ok: 100_000, fail: 10_000 }
const IN_FLIGHT = 50

/** Node's own request and response objects, on a socket that is never written to: the route answers nothing. */
function fakeRequest(route) {
  const req = new http.IncomingMessage(socket)
  req.method = 'GET'
  req.url = `/${route}`
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
  let failures = 0
  app.get('/ok', (req, res) => {
    res.end()
    finish()
  })
  app.get('/fail', () => {
    throw new Error(`failure ${++failures}`)
  })
  app.use((err, req, res, next) => {
    res.status(500).end()
    finish()
  })
  return (route) => new Promise((resolve) => {
    finish = resolve
    const req = fakeRequest(route)
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
  let failures = 0
  app.use(async (ctx) => {
    if (ctx.path === '/ok') ctx.status = 204
    else throw new Error(`failure ${++failures}`)
  })
  const run = compose(app.middleware)
  // what app.callback() does when the app has no 'error' listener
  app.on('error', app.onerror)
  // Koa's own handleRequest, but for writing the response
  return async (route) => {
    const req = fakeRequest(route)
    const ctx = app.createContext(req, fakeResponse(req))
    try {
      await run(ctx)
      ctx.res.end()
    } catch (err) {
      ctx.onerror(err)
    }
    ctx.onerror(null)
  }
}

async function measure(framework, route, variant) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-overhead-'))
  let tracker = null
  if (variant === 'faultline') {
    const { createTracker } = await import('faultline')
    tracker = createTracker({ store: path.join(dir, 'errors.json') })
  }
  const request = await (framework === 'express' ? expressApp : koaApp)(variant, tracker)
  const requests = PER_ROUND[route]
  const round = async () => {
    const started = process.cpuUsage()
    for (let done = 0; done < requests; done += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, () => request(route)))
    await tracker?.flush()
    const cpu = process.cpuUsage(started)
    return ((cpu.user + cpu.system) * 1000) / requests
  }
  await round() // warm-up: the JIT settles
  const ns = []
  for (let r = 0; r < ROUNDS; r++) ns.push(await round())
  await tracker?.close()
  await rm(dir, { recursive: true, force: true })
  return median(ns)
}

function inChild(framework, route, variant) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', framework, route, variant], { env: { ...process.env, NODE_ENV: 'production' } })
    child.once('message', resolve)
    child.once('exit', (code) => (code === 0 ? null : reject(new Error(`${framework} ${variant} exited with ${code}`))))
  })
}

/** The median over three alternated child processes of each variant: a slow moment of the machine weighs on both. */
async function compare(framework, route, [base, variant]) {
  const figures = { [base]: [], [variant]: [] }
  for (let i = 0; i < 3; i++) {
    for (const v of [base, variant]) figures[v].push(await inChild(framework, route, v))
  }
  return [median(figures[base]), median(figures[variant])]
}

const args = process.argv.slice(2)
if (args[0] === '--child') {
  process.send(await measure(args[1], args[2], args[3]))
  process.exit(0)
} else {
  const frameworks = args.length > 0 ? args : ['express', 'koa']
  console.log(`## faultline's own work per request, in-process (node ${process.version}; ${ROUNDS} rounds of ${fmt(PER_ROUND.ok, 0)} at /ok and ${fmt(PER_ROUND.fail, 0)} at /fail, ${IN_FLIGHT} at a time)`)
  const rows = []
  for (const framework of frameworks) {
    const [als, faultline] = await compare(framework, 'ok', ['als', 'faultline'])
    rows.push([`${framework} /ok`, `als ${fmt(als, 0)}`, fmt(faultline, 0), `${fmt(faultline - als, 0)} ns beyond the request scope`])
  }
  for (const framework of frameworks) {
    const [bare, faultline] = await compare(framework, 'fail', ['bare', 'faultline'])
    rows.push([`${framework} /fail`, `bare ${fmt(bare, 0)}`, fmt(faultline, 0), `${fmt((faultline - bare) / 1000, 1)} µs per captured error`])
  }
  console.log(table(['app /route', 'reference: ns CPU/request', 'faultline: ns CPU/request', 'faultline costs'], rows))
}
