import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { testPostgres } from './helpers/postgres.js'
import { startSmtp, type SmtpTestServer } from './helpers/smtp.js'
import { postgresStore } from '../adapters/postgres.js'

const pg = await testPostgres()
const appPath = fileURLToPath(new URL('../examples/multi-instance/app.js', import.meta.url))
const INSTANCES = 4
const REQUESTS = 2000
const USERS = 300

describe.skipIf(!pg.available)('several instances on one PostgreSQL (real child processes)', () => {
  const schema = pg.newSchema()
  let smtp: SmtpTestServer
  const children: ChildProcess[] = []
  const ports: number[] = []
  // each instance's output, so that a failure shows what the instances reported
  const output: string[] = []

  beforeAll(async () => {
    smtp = await startSmtp()
    for (let i = 0; i < INSTANCES; i++) {
      const child = fork(appPath, [], {
        env: { ...process.env, PORT: '0', DATABASE_URL: pg.url, FAULTLINE_SCHEMA: schema, FAULTLINE_SMTP_URL: smtp.url, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      })
      children.push(child)
      output.push('')
      child.stdout!.on('data', (chunk) => { output[i] += chunk })
      child.stderr!.on('data', (chunk) => { output[i] += chunk })
      ports.push(await new Promise<number>((resolve, reject) => {
        child.once('message', (m: { listening?: number }) => resolve(m.listening!))
        child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)))
      }))
    }
  }, 60_000)

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await smtp?.close()
    await pg.dropSchema(schema)
  })

  it('records 2,000 failures from 4 instances as one issue with exact counts and sends each alert once', async () => {
    let next = 0
    const statuses: number[] = []
    async function worker() {
      while (next < REQUESTS) {
        const i = next++
        const res = await fetch(`http://127.0.0.1:${ports[i % INSTANCES]}/checkout`, { headers: { 'x-user-id': `user-${i % USERS}` } })
        statuses.push(res.status)
        await res.arrayBuffer()
      }
    }
    await Promise.all(Array.from({ length: 40 }, worker))
    expect(statuses.filter((s) => s === 500)).toHaveLength(REQUESTS)

    // each instance flushes its queue and its alerts on SIGTERM, then exits 0
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      child.once('exit', (code) => {
        expect(code).toBe(0)
        resolve()
      })
      child.kill('SIGTERM')
    })))

    const store = postgresStore({ connectionString: pg.url, schema })
    try {
      const { issues } = await store.listIssues({ status: 'all' })
      // the message names the instance's pid, but grouping ignores it: one place, one issue
      const reported = output.map((text, i) => `instance ${i}:\n${text}`).join('\n')
      expect(issues, reported).toHaveLength(1)
      expect(issues[0].count, reported).toBe(REQUESTS)
      expect(issues[0].userCount, reported).toBe(USERS)
    } finally {
      await store.close()
    }

    const subjects = smtp.messages.map((m) => m.parsed.subject ?? '').sort()
    expect(subjects.filter((s) => s.includes('New issue'))).toHaveLength(1)
    expect(subjects.filter((s) => s.includes('100 events'))).toHaveLength(1)
    expect(subjects).toHaveLength(2)
  }, 120_000)
})
