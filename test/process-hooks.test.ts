import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fileStore } from '../adapters/file.js'
import { postgresStore } from '../adapters/postgres.js'
import { testPostgres } from './helpers/postgres.js'
import { startSmtp, type SmtpTestServer } from './helpers/smtp.js'

const pg = await testPostgres()

const fixture = fileURLToPath(new URL('./fixtures/crash.mjs', import.meta.url))

function run(scenario: string, bare = false, storeAt?: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; store: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-crash-'))
  const store = storeAt ?? path.join(dir, 'errors.json')
  return new Promise((resolve) => {
    execFile(process.execPath, [fixture, scenario, store, bare ? 'bare' : ''], { timeout: 15_000, env: { ...process.env, NODE_OPTIONS: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stdout, stderr, store })
    })
  })
}

async function storedIssues(file: string) {
  const store = fileStore({ path: file })
  try {
    return (await store.listIssues({ status: 'all' })).issues
  } finally {
    await store.close()
  }
}

/** What Node printed, minus the lines that differ between runs. */
function crashOutput(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() && !line.startsWith('Node.js v'))
}

describe('process hooks (real child processes)', () => {
  it('stores an uncaught exception before exiting with code 1 and prints what Node prints', async () => {
    const [withTracker, bare] = await Promise.all([run('uncaught'), run('uncaught', true)])
    expect(bare.code).toBe(1)
    expect(withTracker.code).toBe(1)
    expect(crashOutput(withTracker.stderr)).toEqual(crashOutput(bare.stderr))
    expect(withTracker.stderr).toContain('Error: Card processor exploded')
    const issues = await storedIssues(withTracker.store)
    expect(issues.map((i) => [i.title, i.level, i.count])).toEqual([['Error: Card processor exploded', 'fatal', 1]])
    expect(readFileSync(withTracker.store, 'utf8')).toContain('Card processor exploded')
  })

  it('leaves out a crash that ignoreErrors names, and still crashes as Node does', async () => {
    const [ignored, bare] = await Promise.all([run('uncaught', false, undefined, { FAULTLINE_IGNORE: 'Card processor' }), run('uncaught', true)])
    expect(ignored.code).toBe(1)
    expect(crashOutput(ignored.stderr)).toEqual(crashOutput(bare.stderr))
    expect(await storedIssues(ignored.store)).toEqual([])
  })

  it('treats a beforeSend that returns nothing at a crash as in the queue: the event as built, and a word said', async () => {
    const crashed = await run('uncaught', false, undefined, { FAULTLINE_BEFORE_SEND: 'in-place' })
    expect(crashed.code).toBe(1)
    expect(crashed.stderr).toContain('beforeSend returned neither the event nor null; the event was kept unchanged')
    const [issue] = await storedIssues(crashed.store)
    expect(issue).toMatchObject({ title: 'Error: Card processor exploded', count: 1 })
    const store = fileStore({ path: crashed.store })
    try {
      const [event] = (await store.listEvents(issue.id)).events
      expect(event.tags.changed).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('stores what was captured just before process.exit(), with the exit code the app chose', async () => {
    const result = await run('capture-then-exit')
    expect(result.code).toBe(3)
    expect((await storedIssues(result.store)).map((i) => [i.title, i.count])).toEqual([['Error: Captured just before exit', 1]])
  })

  it('says so when the process exits while an alert is still being sent', async () => {
    // an SMTP server that takes the connection and never says a word
    const silent = net.createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as net.AddressInfo
      const result = await run('alert-then-exit', false, undefined, { FAULTLINE_SMTP_URL: `smtp://127.0.0.1:${port}` })
      expect(result.code).toBe(0)
      expect(result.stdout).toContain('flushed: false')
      expect(result.stderr).toMatch(/faultline: 1 alerts were still being decided or sent when the process exited and are lost; call tracker\.close\(\) before exiting/)
      expect((await storedIssues(result.store)).map((i) => i.title)).toEqual(['Error: Alerted just before exit'])
    } finally {
      silent.close()
    }
  })

  it('stores what was captured in the tick that crashed, beside the crash', async () => {
    const result = await run('capture-then-crash')
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Error: Card processor exploded')
    const titles = (await storedIssues(result.store)).map((i) => [i.title, i.count]).sort()
    expect(titles).toEqual([['Error: Captured just before the crash', 1], ['Error: Card processor exploded', 1]])
  })

  it('stores a crash that comes before the file store has finished opening', async () => {
    const result = await run('at-once')
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Error: Card processor exploded')
    expect((await storedIssues(result.store)).map((i) => [i.title, i.count])).toEqual([['Error: Card processor exploded', 1]])
  })

  it("keeps the process running when the host has its own uncaughtException listener", async () => {
    const result = await run('host-listener')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('host caught: Card processor exploded')
    expect(result.stdout).toContain('still running')
    expect((await storedIssues(result.store)).map((i) => i.title)).toEqual(['Error: Card processor exploded'])
  })

  it('records an unhandled rejection, then crashes as Node does', async () => {
    const [withTracker, bare] = await Promise.all([run('rejection'), run('rejection', true)])
    expect(bare.code).toBe(1)
    expect(withTracker.code).toBe(1)
    expect(crashOutput(withTracker.stderr)).toEqual(crashOutput(bare.stderr))
    const issues = await storedIssues(withTracker.store)
    expect(issues.map((i) => [i.title, i.count])).toEqual([['TypeError: Nobody awaited this', 1]])
  })

  it('keeps the --unhandled-rejections warn modes: the same warnings and exit code as without faultline', async () => {
    // Node numbers rejections by its own count, which differs once faultline's listener is there
    const warnings = (stderr: string) => stderr.split('\n').filter((line) => line.includes('UnhandledPromiseRejectionWarning:'))
      .map((line) => line.replace(/\(node:\d+\)/, '').replace(/\(rejection id: \d+\)/, ''))
    for (const mode of ['warn', 'warn-with-error-code']) {
      const env = { NODE_OPTIONS: `--unhandled-rejections=${mode}` }
      const [withTracker, bare] = await Promise.all([run('rejection', false, undefined, env), run('rejection', true, undefined, env)])
      expect(withTracker.code, mode).toBe(bare.code)
      expect(warnings(withTracker.stderr), mode).toEqual(warnings(bare.stderr))
      expect(warnings(withTracker.stderr)[0], mode).toContain('TypeError: Nobody awaited this')
      expect((await storedIssues(withTracker.store)).map((i) => i.title), mode).toEqual(['TypeError: Nobody awaited this'])
    }
  })

  it('records a rejection with a non-Error reason and crashes with the same message Node gives', async () => {
    const [withTracker, bare] = await Promise.all([run('rejection-string'), run('rejection-string', true)])
    expect(withTracker.code).toBe(1)
    expect(withTracker.stderr).toContain('plain string reason')
    expect(bare.stderr).toContain('plain string reason')
    const issues = await storedIssues(withTracker.store)
    expect(issues).toHaveLength(1)
    expect(issues[0].title).toContain('plain string reason')
  })

  it('leaves a rejection to the host when it listens', async () => {
    const result = await run('rejection-host-listener')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('host saw rejection: handled by host')
    expect(result.stdout).toContain('still running')
    expect(await storedIssues(result.store)).toHaveLength(1)
  })

  it('registers the process handlers once when createTracker is called twice', async () => {
    const result = await run('twice')
    expect(result.stdout).toContain('listeners uncaughtException=0 uncaughtExceptionMonitor=1 unhandledRejection=1')
    expect(result.code).toBe(1)
    expect((await storedIssues(result.store)).map((i) => i.count)).toEqual([1])
  })
})

describe('a script awaiting flush() (a real child process)', () => {
  it('stays alive until what it captured is stored, while the store is down for a while', async () => {
    const script = fileURLToPath(new URL('./fixtures/flush-script.mjs', import.meta.url))
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [script], { timeout: 15_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout) => (error ? reject(error) : resolve({ stdout })))
    })
    expect(stdout.trim()).toBe('flushed=true stored=5')
  })
})

describe('the alert for a crash (real child processes, a real SMTP server)', () => {
  let smtp: SmtpTestServer
  beforeAll(async () => {
    smtp = await startSmtp()
  })
  afterAll(() => smtp.close())

  it('is sent by the next start when the crash was recorded synchronously, and only once', async () => {
    const env = { FAULTLINE_SMTP_URL: smtp.url }
    const crashed = await run('uncaught', false, undefined, env)
    expect(crashed.code).toBe(1)
    expect(crashed.stderr).toContain('Error: Card processor exploded')
    // the dying process sent nothing: it exits as Node does, at once
    expect(smtp.messages).toHaveLength(0)
    const deferred = path.join(path.dirname(crashed.store), 'errors.deferred-alerts.json')
    expect(existsSync(deferred)).toBe(true)

    const restarted = await run('restart', false, crashed.store, env)
    expect(restarted.stdout).toContain('closed')
    const [mail] = await smtp.waitFor(1)
    expect(mail.parsed.subject).toMatch(/New issue: Error: Card processor exploded$/)
    expect(mail.envelopeTo).toEqual(['team@example.com'])
    expect(existsSync(deferred)).toBe(false)

    await run('restart', false, crashed.store, env)
    expect(smtp.messages).toHaveLength(1)
  })
})

describe.skipIf(!pg.available)('process hooks with an asynchronous store (PostgreSQL)', () => {
  const schema = pg.newSchema()
  afterAll(() => pg.dropSchema(schema))

  it('keeps a crashing process alive until the event is in the database, then exits with code 1 printing the error', async () => {
    const result = await run('uncaught', false, `${pg.url}#${schema}`)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Error: Card processor exploded')
    expect(result.stderr).toContain('crash.mjs')
    expect(result.stderr).toMatch(/Node\.js v\d+/)
    const store = postgresStore({ connectionString: pg.url, schema })
    try {
      const { issues } = await store.listIssues({ status: 'all' })
      expect(issues.map((i) => [i.title, i.level, i.count])).toEqual([['Error: Card processor exploded', 'fatal', 1]])
    } finally {
      await store.close()
    }
  })

  it("sends the crash's alert before exiting", async () => {
    const smtp = await startSmtp()
    try {
      const alertSchema = pg.newSchema()
      const result = await run('uncaught', false, `${pg.url}#${alertSchema}`, { FAULTLINE_SMTP_URL: smtp.url })
      await pg.dropSchema(alertSchema)
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('Error: Card processor exploded')
      expect(smtp.messages.map((m) => m.parsed.subject)).toEqual([expect.stringMatching(/New issue: Error: Card processor exploded$/)])
    } finally {
      await smtp.close()
    }
  })
})
