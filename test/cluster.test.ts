/**
 * The Express example in 4 node:cluster workers on the default file store, as a user runs it
 * (examples/express-app/cluster.js), with the cron example run 20 times beside it and a rolling
 * restart in the middle (each new worker up 2 s before the old one stops): real processes, real
 * HTTP, a real SMTP server on loopback.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSmtp, type SmtpTestServer } from './helpers/smtp.js'
import { fileStore } from '../adapters/file.js'

const CLUSTER = fileURLToPath(new URL('../examples/express-app/cluster.js', import.meta.url))
const CRON = fileURLToPath(new URL('../examples/cron-job/job.js', import.meta.url))
const REQUESTS = 20_000
const USERS = 300
const CRON_RUNS = 20

describe('the example app in 4 cluster workers on one file store, with the cron job beside it (real processes)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'faultline-cluster-'))
  const env = () => ({ ...process.env, PORT: '0', WORKERS: '4', NODE_ENV: 'test', FAULTLINE_SMTP_URL: smtp.url, FAULTLINE_BASE_URL: 'http://shop.test' })
  let smtp: SmtpTestServer
  let primary: ChildProcess
  let port = 0
  let output = ''

  beforeAll(async () => {
    smtp = await startSmtp()
    primary = fork(CLUSTER, [], { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    primary.stdout!.on('data', (d) => (output += d))
    primary.stderr!.on('data', (d) => (output += d))
    port = await new Promise<number>((resolve, reject) => {
      primary.on('message', (m: { listening?: number }) => {
        if (m.listening) resolve(m.listening)
      })
      primary.once('exit', (code) => reject(new Error(`the cluster exited with ${code}: ${output}`)))
    })
  }, 30_000)

  afterAll(async () => {
    if (primary?.exitCode === null) {
      primary.kill('SIGTERM')
      await new Promise((resolve) => primary.once('exit', resolve))
    }
    await smtp?.close()
    rmSync(cwd, { recursive: true, force: true })
  })

  /** A GET that is retried when a worker closed its idle connection as it stopped (it was never processed). */
  async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url, { headers })
      } catch (err) {
        if (attempt >= 5) throw err
      }
    }
  }

  it('counts 20,000 failing requests from 300 users exactly, and sends each alert once', async () => {
    const workers = new Set<string>()
    let next = 0
    let failed = 0
    let reloaded!: () => void
    const restarted = new Promise<void>((resolve) => (reloaded = resolve))
    async function client() {
      while (next < REQUESTS) {
        // the second half goes to the new workers, however fast the first half went
        if (next >= REQUESTS / 2) await restarted
        if (next >= REQUESTS) break
        const i = next++
        const res = await get(`http://127.0.0.1:${port}/users/42?as=user-${i % USERS}`)
        workers.add(res.headers.get('x-worker') ?? '?')
        if (res.status === 500) failed++
        await res.arrayBuffer()
      }
    }
    const cronRuns = (async () => {
      for (let run = 0; run < CRON_RUNS; run++) {
        const job = spawn(process.execPath, [CRON], { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
        let text = ''
        job.stdout.on('data', (d) => (text += d))
        job.stderr.on('data', (d) => (text += d))
        expect(await new Promise((resolve) => job.on('exit', resolve)), text).toBe(0)
      }
    })()
    // a rolling restart a tenth of the way in, under the load: each new worker starts while the old one still runs
    const reload = (async () => {
      while (next < REQUESTS / 10) await new Promise((resolve) => setTimeout(resolve, 10))
      const done = new Promise((resolve) => primary.on('message', (m: { reloaded?: boolean }) => m.reloaded && resolve(true)))
      primary.kill('SIGUSR2')
      await done
      reloaded()
    })()
    await Promise.all([...Array.from({ length: 32 }, client), cronRuns, reload])
    expect(failed).toBe(REQUESTS)
    // 4 workers, then 4 more from the restart
    expect(workers.size, output).toBeGreaterThanOrEqual(6)

    // read from the store like any other process; a worker writes what its last requests captured
    // within its write delay (100 ms), so the count is given a second to get there
    const store = fileStore({ path: path.join(cwd, '.faultline', 'errors.json') })
    try {
      const counted = async () => (await store.listIssues({ status: 'all', limit: 100 })).issues
      let issues = await counted()
      for (const deadline = Date.now() + 1000; Date.now() < deadline; issues = await counted()) {
        if (issues.find((i) => i.title.includes('User 42'))?.count === REQUESTS) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const byTitle = (text: string) => issues.filter((i) => i.title.includes(text))
      const users = byTitle('User 42 not found')
      expect(users, JSON.stringify(issues.map((i) => [i.title, i.count]))).toHaveLength(1)
      expect(users[0], output).toMatchObject({ count: REQUESTS, userCount: USERS })
      // the cron job's issues, from 20 runs
      expect(byTitle('Invoice 2 has no amount')[0]).toMatchObject({ count: CRON_RUNS })
      expect(byTitle('Billing run finished')[0]).toMatchObject({ count: CRON_RUNS })

      // new issues alert once each, whichever process saw them first; the 100-event threshold once
      const wanted = [
        'New issue: Error: User 42 not found',
        'New issue: Error: Invoice 2 has no amount',
        'New issue: Error: Invoice provider timed out',
        '100 events',
      ]
      await smtp.waitFor(wanted.length, 10_000)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const subjects = smtp.messages.map((m) => m.parsed.subject ?? '')
      for (const part of wanted) expect(subjects.filter((s) => s.includes(part)), subjects.join('\n')).toHaveLength(1)
      expect(subjects, subjects.join('\n')).toHaveLength(wanted.length)
    } finally {
      await store.close()
    }
  }, 180_000)

  it("applies a panel action taken in one worker, and every worker's panel shows it within a second", async () => {
    const list = await (await get(`http://127.0.0.1:${port}/errors/api/issues?q=User`)).json() as { issues: Array<{ id: string }> }
    const id = list.issues[0].id
    const patched = await fetch(`http://127.0.0.1:${port}/errors/api/issues/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ status: 'resolved' }),
    })
    expect(patched.status).toBe(200)
    const actedIn = patched.headers.get('x-worker')
    const doneAt = Date.now()
    const seen = new Map<string, string>()
    // new connections go round the workers: read the issue until each of the 4 has answered
    while (seen.size < 4 && Date.now() - doneAt < 5000) {
      const res = await get(`http://127.0.0.1:${port}/errors/api/issues/${id}`, { connection: 'close' })
      const { issue } = await res.json() as { issue: { status: string } }
      seen.set(res.headers.get('x-worker')!, issue.status)
    }
    expect(seen.size).toBe(4)
    expect(Date.now() - doneAt).toBeLessThan(1000 + 500)
    expect(seen.has(actedIn!)).toBe(true)
    for (const status of seen.values()) expect(status).toBe('resolved')
  }, 30_000)
})
