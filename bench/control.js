// Starting a bench server (bench/servers/<framework>.js) for a variant, and the control channel
// to it over IPC (see bench/servers/variant.js): shared by run.js and storm.js.
import { fork } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/** One GET; resolves with the status, or rejects when nothing answers. */
export function get(port, route, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', reject)
  })
}

let servers = 0

/**
 * Starts `node bench/servers/<framework>.js` for a variant and resolves once it has answered its
 * first request, with the time that took from the spawn. `sinkPort`: where Sentry sends (sink.js).
 */
export async function startServer(framework, variant, { sinkPort = 0 } = {}) {
  const port = await freePort()
  const id = ++servers
  const dir = variant === 'faultline' ? await mkdtemp(path.join(os.tmpdir(), 'faultline-bench-')) : null
  const execArgv = ['--expose-gc']
  if (variant === 'sentry') execArgv.push('--import', path.join(here, 'servers/sentry-init.js'))
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    BENCH_VARIANT: variant,
    BENCH_STORE: dir ? path.join(dir, 'errors.json') : '',
    SENTRY_DSN: `http://public@127.0.0.1:${sinkPort}/${id}`,
  }
  const started = performance.now()
  const child = fork(path.join(here, 'servers', `${framework}.js`), [], { execArgv, env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] })
  const server = { child, port, id, dir, framework, variant, stderr: '' }
  child.stderr.on('data', (chunk) => {
    server.stderr += chunk
    if (server.stderr.length > 20_000) server.stderr = server.stderr.slice(-10_000)
  })
  child.on('message', (msg) => {
    if (msg.type === 'error') console.error(`[${framework} ${variant}] ${msg.message}`)
  })
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  server.exited = exited
  let dead = false
  exited.then(() => (dead = true))
  for (;;) {
    if (dead) throw new Error(`${framework} ${variant} server exited before answering:\n${server.stderr}`)
    try {
      if ((await get(port, '/ok')) === 200) break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }
  server.startupMs = performance.now() - started
  return server
}

/** Sends a control command and resolves with the server's answer. */
export function ask(server, cmd, type) {
  return askWith(server, { cmd }, type)
}

export function askWith(server, message, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type !== type) return
      server.child.off('message', onMessage)
      server.child.off('exit', onExit)
      resolve(msg)
    }
    const onExit = (code) => reject(new Error(`${server.framework} ${server.variant} server exited (${code}) during ${message.cmd}:\n${server.stderr}`))
    server.child.on('message', onMessage)
    server.child.once('exit', onExit)
    server.child.send(message)
  })
}

/** Asks the server to close (faultline and Sentry flush first), and waits for it to exit. */
export async function stopServer(server) {
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 60_000)
  const closed = await ask(server, 'exit', 'closed')
  await server.exited
  clearTimeout(timer)
  return closed
}

