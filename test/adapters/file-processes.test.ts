/**
 * Many processes on one file store, for real: child processes writing at once, killed at random
 * moments, holding the lock, dying while another holds it. Each uses the built store in dist/
 * (test/adapters/fixtures/file-store-child.mjs).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fileStore, type FileStore } from '../../adapters/file.js'
import { lockTiming } from '../../adapters/file/lock.js'
import { MAX_SPOOL_BYTES } from '../../adapters/file/spool.js'
import { makeInput, issueId } from '../../testing/index.js'

const CHILD = fileURLToPath(new URL('./fixtures/file-store-child.mjs', import.meta.url))
const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-procs-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const stores: FileStore[] = []
const children: ChildProcess[] = []
function openStore(options: Parameters<typeof fileStore>[0]): FileStore {
  const store = fileStore(options)
  stores.push(store)
  return store
}
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {})
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const childIssue = (n: number) => `child${n}`.padEnd(16, '0')

/** Runs the fixture and resolves with its output once it exits. */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CHILD, ...args], { env: { ...process.env, ...env } })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

/** Starts the fixture and resolves once it prints `word`. */
function startUntil(args: string[], word: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes(word)) resolve(child)
    })
    child.on('exit', (code) => reject(new Error(`the child exited with ${code} before saying ${word}`)))
  })
}

function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

/** Event ids in an issue's events file (torn lines left out). */
function storedIds(dir: string, id: string): Set<string> {
  const file = path.join(dir, 'errors.events', `${id}.jsonl`)
  if (!existsSync(file)) return new Set()
  const ids = new Set<string>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      ids.add(JSON.parse(line).event_id)
    } catch {
      // a line torn by a kill
    }
  }
  return ids
}

describe('the file store shared by many processes', () => {
  it('counts every event of 4 processes writing at once exactly once: each issue new once, each claim once', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((tag) => run(['write', file, '2500', tag])))
    for (const outcome of outcomes) expect(outcome.code, outcome.stderr).toBe(0)
    const seen = outcomes.map((o) => JSON.parse(o.stdout) as { isNew: number; claimed: number })
    expect(seen.reduce((sum, s) => sum + s.isNew, 0)).toBe(10)
    expect(seen.reduce((sum, s) => sum + s.claimed, 0)).toBe(10)
    const store = openStore({ path: file })
    const { issues } = await store.listIssues({ limit: 100 })
    expect(issues).toHaveLength(10)
    // 10,000 events over 10 issues; users 0..299 by event number, 30 of them in each issue
    for (const issue of issues) expect([issue.count, issue.userCount]).toEqual([1000, 30])
    // events files are kept between the retention (100) and twice it
    for (const issue of issues) expect(storedIds(dir, issue.id).size).toBeGreaterThanOrEqual(100)
  }, 60_000)

  it('shares notes, rule firings and settings between processes: each sees what the others wrote, and one setting wins', async () => {
    const file = path.join(tempDir(), 'errors.json')
    const store = openStore({ path: file })
    const id = (await store.record(makeInput({ issue: 'shared', user: 'alice' }))).issue.id
    await store.flush()
    const outcomes = await Promise.all(['a', 'b'].map((tag) => run(['history', file, id, tag])))
    for (const outcome of outcomes) expect(outcome.code, outcome.stderr).toBe(0)
    const seen = outcomes.map((o) => JSON.parse(o.stdout) as { setting: string; note: { kind: string; text: string } })
    expect(seen.map((s) => s.note)).toMatchObject([{ kind: 'note', text: 'from a' }, { kind: 'note', text: 'from b' }])
    // both processes got the same setting, the one claimed first, and so does this one
    expect(new Set(seen.map((s) => s.setting)).size).toBe(1)
    expect(await store.claimSetting('browserKey', 'mine')).toBe(seen[0].setting)
    const log = (await store.listActivity(id))!.activity
    expect(log.map((line) => line.kind)).toEqual(['first_seen', 'note', 'note'])
    expect(log.slice(1).map((line) => [line.text, line.actor]).sort()).toEqual([['from a', 'a'], ['from b', 'b']])
    expect(await store.ruleFirings()).toEqual({ 'rule-a': '2026-03-04T05:06:07.000Z', 'rule-b': '2026-03-04T05:06:07.000Z' })
  }, 30_000)

  it('opens at once while another process holds the lock; its writes wait for the lock, not its start', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const holder = await startUntil(['lock', file], 'locked')
    const started = Date.now()
    const store = openStore({ path: file })
    await store.open()
    expect(Date.now() - started).toBeLessThan(1000)
    let done = false
    const recorded = store.record(makeInput()).then((r) => {
      done = true
      return r
    })
    await sleep(300)
    expect(done).toBe(false)
    // the holder dies without releasing (kill -9): the lock of a dead process on this machine is taken at once
    const killedAt = Date.now()
    await kill(holder)
    expect((await recorded).isNew).toBe(true)
    expect(Date.now() - killedAt).toBeLessThan(1000)
  })

  it('waits for a lock held in another container until it goes unrefreshed, then takes it over and says so', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const holder = await startUntil(['lock', file], 'locked', { FAULTLINE_TEST_HOSTNAME: 'other-container' })
    const warnings: string[] = []
    const saved = { ...lockTiming }
    // a pid in another container says nothing here: the holder's refreshes (every second) say it lives
    lockTiming.staleMs = 2500
    try {
      const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
      const recorded = store.record(makeInput())
      await sleep(3500)
      // refreshed every second, it is still held
      expect(warnings).toEqual([])
      await kill(holder)
      const killedAt = Date.now()
      await recorded
      expect(Date.now() - killedAt).toBeLessThan(lockTiming.staleMs + 1500)
      expect(warnings.join('\n')).toMatch(/took over the lock of process \d+ on host other-container/)
    } finally {
      Object.assign(lockTiming, saved)
    }
  }, 30_000)

  it('loses nothing flush() confirmed and never counts fewer events than it stores, a writer killed 12 times at random moments', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    let confirmed = 0
    let attempted = 0
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, [CHILD, 'loop', file, `r${round}`], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      let last = 0
      child.stdout!.on('data', (d: Buffer) => {
        const lines = d.toString().trim().split('\n')
        last = Number(lines[lines.length - 1])
      })
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
      // killed at a random moment of its work: mid-append, mid-rewrite, holding the lock or not
      await sleep(50 + Math.random() * 250)
      await kill(child)
      confirmed += last
      attempted += last + 50
    }
    const warnings: string[] = []
    const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
    await store.flush()
    const { issues } = await store.listIssues({ limit: 100 })
    const total = issues.reduce((sum, issue) => sum + issue.count, 0)
    expect(total).toBeGreaterThanOrEqual(confirmed)
    expect(total).toBeLessThanOrEqual(attempted)
    for (const issue of issues) expect(issue.count).toBeGreaterThanOrEqual(storedIds(dir, issue.id).size)
    // nothing unreachable: every events file has its issue; nothing left half written
    const ids = new Set(issues.map((i) => i.id))
    for (const name of readdirSync(path.join(dir, 'errors.events'))) expect(ids.has(name.replace(/\.jsonl$/, '')), name).toBe(true)
    expect(readdirSync(dir).filter((name) => /tmp|stale/.test(name))).toEqual([])
    expect(warnings.filter((w) => /had no issue|uncounted/.test(w))).toEqual([])
  }, 60_000)

  it('counts exactly while the lock file is deleted by hand again and again under two writers', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    let deletions = 0
    const vandal = setInterval(() => {
      try {
        unlinkSync(`${file}.lock`)
        deletions++
      } catch {
        // not held at this moment
      }
    }, 1)
    try {
      const outcomes = await Promise.all(['x', 'y'].map((tag) => run(['write', file, '3000', tag])))
      for (const outcome of outcomes) expect(outcome.code, outcome.stderr).toBe(0)
    } finally {
      clearInterval(vandal)
    }
    expect(deletions).toBeGreaterThan(0)
    const store = openStore({ path: file })
    const { issues } = await store.listIssues({ limit: 100 })
    expect(issues.reduce((sum, issue) => sum + issue.count, 0)).toBe(6000)
  }, 60_000)
})

describe('a writer killed at the worst moments (SIGKILL at a chosen point, in a child process)', () => {
  const points = ['mid-journal', 'after-journal', 'mid-events', 'mid-trim', 'mid-checkpoint']
  for (const point of points) {
    it(`leaves nothing unreachable and no count below its events: killed ${point}`, async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const died = await run(['die-at', file, point])
      expect(died.stdout).not.toContain('did not die')
      const warnings: string[] = []
      const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
      // what it left behind is a minute old by the time anyone looks (temporary files younger may be being written)
      const then = new Date(Date.now() - 120_000)
      for (const name of readdirSync(dir)) if (name.includes('.tmp')) utimesSync(path.join(dir, name), then, then)
      for (const name of existsSync(path.join(dir, 'errors.events')) ? readdirSync(path.join(dir, 'errors.events')) : []) {
        if (name.endsWith('.tmp')) utimesSync(path.join(dir, 'errors.events', name), then, then)
      }
      // the next writer goes on: a half-written journal line is cut once it is a second old
      await store.record(makeInput({ issue: 'after' }))
      await store.flush()
      const { issues } = await store.listIssues({ limit: 100, status: 'all' })
      const ids = new Set(issues.map((i) => i.id))
      for (const issue of issues) expect(issue.count, issue.title).toBeGreaterThanOrEqual(storedIds(dir, issue.id).size)
      for (const name of readdirSync(path.join(dir, 'errors.events'))) expect(ids.has(name.replace(/\.jsonl$/, '')), name).toBe(true)
      expect(readdirSync(dir).filter((name) => /\.tmp|stale/.test(name))).toEqual([])
      expect(readdirSync(path.join(dir, 'errors.events')).filter((name) => name.endsWith('.tmp'))).toEqual([])
      // every whole line of the journal is a batch, and the torn one (if any) is gone
      const journal = readFileSync(path.join(dir, 'errors.journal'), 'utf8')
      expect(journal.endsWith('\n')).toBe(true)
      for (const line of journal.split('\n').slice(1, -1)) expect(() => JSON.parse(line)).not.toThrow()
      expect(warnings.filter((w) => /not a batch|had no issue/.test(w))).toEqual([])
      // a second reader agrees on every count
      const second = openStore({ path: file })
      expect((await second.listIssues({ limit: 100, status: 'all' })).issues.map((i) => [i.id, i.count]).sort()).toEqual(issues.map((i) => [i.id, i.count]).sort())
    }, 30_000)
  }
})

describe('the spool: a dying process that cannot get the lock', () => {
  it('leaves its batch in the spool, and the next writer takes it in once', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const warnings: string[] = []
    const dying = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
    await dying.open()
    const holder = await startUntil(['lock', file], 'locked')
    const crash = makeInput({ issue: 'crash', user: 'u1' })
    const started = Date.now()
    const provisional = dying.recordSync(crash)
    // it waited a second for the lock, then spooled
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(provisional.isNew).toBe(true)
    expect(warnings.join('\n')).toMatch(/left 1 changes in the spool/)
    const spooled = readdirSync(path.join(dir, 'errors.spool')).filter((n) => n.endsWith('.batch'))
    expect(spooled).toHaveLength(1)
    await kill(holder)

    const next = openStore({ path: file })
    await next.record(makeInput({ issue: 'later' }))
    // the spool file goes once its events are in their files
    await next.flush()
    expect((await next.getIssue(issueId('crash')))!).toMatchObject({ count: 1, userCount: 1 })
    expect((await next.listEvents(issueId('crash'))).events.map((e) => e.event_id)).toEqual([crash.event.event_id])
    expect(readdirSync(path.join(dir, 'errors.spool')).filter((n) => n.endsWith('.batch'))).toEqual([])
    // a third writer does not take it in again
    const third = openStore({ path: file })
    await third.record(makeInput({ issue: 'later' }))
    expect((await third.getIssue(issueId('crash')))!.count).toBe(1)
  }, 20_000)

  it('moves aside a corrupt, truncated or oversized spool file and reports it, taking in the files after it', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const spool = path.join(dir, 'errors.spool')
    mkdirSync(spool)
    const good = makeInput({ issue: 'spooled' })
    const batch = { id: 'good-batch', ops: [{ o: 'r', i: issueId('spooled'), t: Date.now(), l: 'error', n: Date.now(), g: { fingerprint: ['x'], title: 'spooled', culprit: '', type: 'Error', message: 'spooled', level: 'error' } }] }
    writeFileSync(path.join(spool, `1-1000-aa.batch`), 'not json at all\n')
    writeFileSync(path.join(spool, `1-1001-bb.batch`), `${JSON.stringify(batch)}\n${issueId('spooled')}\t{"event_id":"tor`)
    writeFileSync(path.join(spool, `1-1002-cc.batch`), Buffer.alloc(MAX_SPOOL_BYTES + 1, 0x20))
    writeFileSync(path.join(spool, `1-1003-dd.batch`), `${JSON.stringify(batch)}\n${issueId('spooled')}\t${JSON.stringify(good.event)}\n`)
    const warnings: string[] = []
    const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
    await store.record(makeInput({ issue: 'other' }))
    await store.flush()
    expect((await store.getIssue(issueId('spooled')))!.count).toBe(1)
    expect((await store.listEvents(issueId('spooled'))).events.map((e) => e.event_id)).toEqual([good.event.event_id])
    expect(warnings.filter((w) => /is not a batch/.test(w))).toHaveLength(3)
    expect(warnings.join('\n')).toMatch(/its first line is not a batch/)
    expect(warnings.join('\n')).toMatch(/does not end with a whole line/)
    expect(warnings.join('\n')).toMatch(/more than the \d+ a spool file may have/)
    expect(readdirSync(path.join(spool, 'rejected')).sort()).toEqual(['1-1000-aa.batch', '1-1001-bb.batch', '1-1002-cc.batch'])
    expect(readdirSync(spool).filter((n) => n.endsWith('.batch'))).toEqual([])
  })
})
