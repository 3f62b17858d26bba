import { afterEach, expect, it } from 'vitest'
import request from 'supertest'
import http from 'node:http'
import express from 'express'
import { createTracker, type Tracker } from '../../lib/index.js'
import { memoryStore } from '../../adapters/memory.js'
import { ENVELOPE, KEY, envelope, sentryEvent } from './helpers.js'

// 10,000 requests over real HTTP: seconds, so in the scale group
const trackers: Tracker[] = []
const servers: http.Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  await Promise.all(trackers.splice(0).map((t) => t.close()))
})

function newTracker() {
  const tracker = createTracker({ store: memoryStore(), captureUncaught: false, captureUnhandledRejections: false, browser: { key: KEY }, onInternalError: () => {} })
  trackers.push(tracker)
  return tracker
}

function expressApp(tracker: Tracker) {
  const app = express()
  app.use(tracker.express())
  app.get('/ok', (_req, res) => {
    res.json({ ok: true })
  })
  const server = http.createServer(app)
  servers.push(server)
  return server
}

it('refuses 10,000 distinct errors in a minute from one address with 429 and keeps the issues bounded', { timeout: 120_000 }, async () => {
  const tracker = newTracker()
  const server = expressApp(tracker)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const statuses = new Map<number, number>()
  let retryAfter: string | undefined
  const send = (i: number) => new Promise<void>((resolve, reject) => {
    const body = envelope(sentryEvent({ exception: { values: [{ type: `Error${i}`, value: `distinct ${i}` }] }, fingerprint: [`fp-${i}`] }))
    const req = http.request({ host: '127.0.0.1', port, path: ENVELOPE, method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': body.length } }, (res) => {
      statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1)
      if (res.statusCode === 429) retryAfter = res.headers['retry-after'] as string
      res.resume()
      // a refusal before the body is read closes the connection
      res.on('close', resolve)
    })
    req.on('error', reject)
    req.end(body)
  })
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < 10_000) await send(next++)
  }))
  agent.destroy()
  // the default 20 new issues a minute bind before the 60 events an address may send
  expect(statuses.get(200)).toBe(20)
  expect(statuses.get(429)).toBe(10_000 - 20)
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
  expect(Number(retryAfter)).toBeLessThanOrEqual(60)
  expect(await tracker.flush()).toBe(true)
  const { issues } = await tracker.store.listIssues({ status: 'all', limit: 100 })
  expect(issues).toHaveLength(20)
  await request(server).get('/ok').expect(200)
})

