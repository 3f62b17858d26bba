import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fileStore, type FileStore } from '../../adapters/file.js'
import defaultExport from '../../adapters/file.js'
import type { Store } from '../../lib/types.js'
import { storeConformance, makeInput, issueId, DAY } from './conformance.js'
import { fillFileStore } from './fill-file-store.js'
import { writeAll } from '../../adapters/file/document.js'
import { lockTiming } from '../../adapters/file/lock.js'

const CHILD = fileURLToPath(new URL('./fixtures/file-store-child.mjs', import.meta.url))
const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-file-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

storeConformance('file', async () => fileStore({ path: path.join(tempDir(), 'errors.json') }))
// writing at once puts every event on disk before it is read back, so reads come from the files
storeConformance('file, writing at once', async () => fileStore({ path: path.join(tempDir(), 'errors.json'), writeDelayMs: 0 }))

const open: Store[] = []
function openStore(options: Parameters<typeof fileStore>[0]): FileStore {
  const store = fileStore(options)
  open.push(store)
  return store
}
afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => {})
})

function runChild(mode: string, file: string) {
  const result = spawnSync(process.execPath, [CHILD, mode, file], { encoding: 'utf8', timeout: 20_000 })
  return result
}

/** `env` may set FAULTLINE_TEST_HOSTNAME and FAULTLINE_TEST_HEARTBEAT_MS (see the fixture). */
function startHolder(file: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, 'hold', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (data: Buffer) => {
      if (data.toString().includes('ready')) resolve(child)
    })
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}`)))
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

describe('fileStore', () => {
  it('is also the default export, and takes a path string', async () => {
    expect(defaultExport).toBe(fileStore)
    const file = path.join(tempDir(), 'errors.json')
    const store = openStore(file)
    expect(store.path).toBe(file)
    await store.record(makeInput())
    expect((await store.getIssue(issueId('checkout')))!.count).toBe(1)
  })

  it('refuses bad options with a message that names the fix', () => {
    expect(() => fileStore({} as { path: string })).toThrow(/fileStore\(\{ path: '.faultline\/errors.json' \}\)/)
    expect(() => fileStore({ path: path.join(tempDir(), 'e.json'), retain: 5 } as unknown as { path: string })).toThrow(/no option "retain"/)
    expect(() => fileStore({ path: path.join(tempDir(), 'e.json'), writeDelayMs: -1 })).toThrow(/writeDelayMs/)
  })

  describe('persistence', () => {
    it('a new store on the same path sees every issue, event, user, tag, counter and claim', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const first = openStore({ path: file })
      const base = Date.now() - 3 * 3_600_000
      for (let i = 0; i < 12; i++) {
        await first.record(makeInput({ issue: i % 3 === 0 ? 'gone' : `issue${i % 4}`, time: base + i * 60_000, user: `u${i % 5}`, release: `2.${i % 2}.0`, tags: { browser: i % 2 ? 'chrome' : 'firefox' } }))
      }
      await first.updateIssue(issueId('issue1'), { status: 'resolved' })
      await first.record(makeInput({ issue: 'issue1', time: base + 20 * 60_000, user: 'late' }))
      await first.updateIssue(issueId('issue2'), { status: 'ignored', until: { users: 10 } })
      await first.deleteIssue(issueId('gone'))
      expect(await first.claimAlert('new:issue1', { issueId: issueId('issue1') })).toBe(true)

      const snapshot = async (store: Store) => {
        const { issues } = await store.listIssues({ status: 'all', limit: 100 })
        const details = []
        for (const issue of issues) {
          details.push({
            issue,
            events: await store.listEvents(issue.id, { limit: 100 }),
            tags: await store.tagBreakdown(issue.id),
            hours: await store.histogram(issue.id, { interval: 'hour', buckets: 6 }),
            days: await store.histogram(issue.id, { interval: 'day', buckets: 3 }),
            recent: await store.countEventsSince(issue.id, new Date(base)),
          })
        }
        return { details, counts: await store.countIssues(), search: await store.listIssues({ q: 'browser:chrome release:2.1.0', status: 'all' }) }
      }
      const before = await snapshot(first)
      expect(before.details).toHaveLength(4)
      await first.close()

      const second = openStore({ path: file })
      expect(await snapshot(second)).toEqual(before)
      expect(await second.getIssue(issueId('gone'))).toBeNull()
      expect(await second.claimAlert('new:issue1', { issueId: issueId('issue1') })).toBe(false)
      // distinct users survive: a known user adds no user, a new one does
      const known = await second.record(makeInput({ issue: 'issue3', user: 'u2' }))
      const userCount = before.details.find((d) => d.issue.id === issueId('issue3'))!.issue.userCount
      expect(known.issue.userCount).toBe(userCount)
      expect((await second.record(makeInput({ issue: 'issue3', user: 'brand-new' }))).issue.userCount).toBe(userCount + 1)
      // regression counting goes on from the reloaded state
      expect((await second.getIssue(issueId('issue1')))!).toMatchObject({ regressed: true, countSinceRegression: 1, usersSinceRegression: 1 })

      // saved again (unchanged issues straight from the bytes read) and read a third time
      const after = await snapshot(second)
      await second.close()
      const third = openStore({ path: file })
      expect(await snapshot(third)).toEqual(after)
      await third.close()
      // a document reformatted by hand is still read
      writeFileSync(file, JSON.stringify(JSON.parse(readFileSync(file, 'utf8')), null, 2))
      const fourth = openStore({ path: file })
      expect(await snapshot(fourth)).toEqual(after)
    })

    it('coalesces records into one write shortly after, leaving valid JSON on disk at every moment', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const store = openStore({ path: file, writeDelayMs: 50 })
      await store.open()
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.record(makeInput({ issue: `i${i % 20}` }))))
      expect(existsSync(file)).toBe(false)
      const deadline = Date.now() + 5000
      let doc: { issues: Array<{ issue: { count: number } }> } | null = null
      while (Date.now() < deadline) {
        if (existsSync(file)) {
          doc = JSON.parse(readFileSync(file, 'utf8'))
          if (doc!.issues.length === 20) break
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(doc!.issues.map((r) => r.issue.count)).toEqual(Array(20).fill(10))
      // while records keep coming, every read of the file parses
      let reads = 0
      const reader = setInterval(() => {
        JSON.parse(readFileSync(file, 'utf8'))
        reads++
      }, 1)
      try {
        for (let round = 0; round < 30; round++) {
          for (let k = 0; k < 20; k++) await store.record(makeInput({ issue: `i${k}` }))
          await new Promise((r) => setTimeout(r, 5))
        }
        await store.flush()
      } finally {
        clearInterval(reader)
      }
      expect(reads).toBeGreaterThan(10)
      expect(JSON.parse(readFileSync(file, 'utf8')).issues.map((r: { issue: { count: number } }) => r.issue.count)).toEqual(Array(20).fill(40))
    })

    it('keeps each issue file between the retention and twice it, newest events kept', async () => {
      const dir = tempDir()
      const store = openStore({ path: path.join(dir, 'errors.json'), writeDelayMs: 0, retention: { maxEventsPerIssue: 5, maxAgeMs: DAY } })
      const ids: string[] = []
      for (let i = 0; i < 33; i++) {
        const input = makeInput({ time: Date.now() + i })
        ids.push(input.event.event_id)
        await store.record(input)
        await store.flush()
        const lines = readFileSync(path.join(dir, 'errors.events', `${issueId('checkout')}.jsonl`), 'utf8').split('\n').filter(Boolean)
        expect(lines.length).toBeLessThanOrEqual(10)
      }
      const { events } = await store.listEvents(issueId('checkout'), { limit: 100 })
      expect(events.length).toBeGreaterThanOrEqual(5)
      expect(events.map((e) => e.event_id)).toEqual(ids.slice(-events.length).reverse())
      expect((await store.getIssue(issueId('checkout')))!.count).toBe(33)
    })

    it('skips a line torn by a crash mid-append and keeps later events intact', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const first = openStore({ path: file })
      const a = makeInput()
      await first.record(a)
      await first.close()
      const events = path.join(dir, 'errors.events', `${issueId('checkout')}.jsonl`)
      appendFileSync(events, '{"event_id":"torn","timest')
      const second = openStore({ path: file })
      const b = makeInput()
      await second.record(b)
      await second.flush()
      const listed = await second.listEvents(issueId('checkout'))
      expect(listed.events.map((e) => e.event_id).sort()).toEqual([a.event.event_id, b.event.event_id].sort())
      // JSON Lines: every line but the torn one is a whole event, and the file ends with a newline
      const lines = readFileSync(events, 'utf8').split('\n')
      expect(lines.pop()).toBe('')
      expect(lines.map((line) => (line.startsWith('{"event_id":"torn"') ? 'torn' : JSON.parse(line).event_id)))
        .toEqual([a.event.event_id, 'torn', b.event.event_id])
    })

    it('flushSync puts pending events and counts on disk before returning', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const store = openStore({ path: file, writeDelayMs: 60_000 })
      await store.open()
      const input = makeInput({ issue: 'fatal' })
      await store.record(input)
      store.flushSync()
      expect(JSON.parse(readFileSync(file, 'utf8')).issues[0].issue.count).toBe(1)
      expect(readFileSync(path.join(dir, 'errors.events', `${issueId('fatal')}.jsonl`), 'utf8')).toContain(input.event.event_id)
    })

    it('keeps events whose write failed and writes them once the disk is back', async () => {
      const dir = tempDir()
      const warnings: Error[] = []
      const store = openStore({ path: path.join(dir, 'errors.json'), writeDelayMs: 5, onWarning: (err) => warnings.push(err) })
      await store.record(makeInput({ time: Date.now() - 1000 }))
      await store.flush()
      // the events directory turns into a file: appends fail with ENOTDIR
      const events = path.join(dir, 'errors.events')
      rmSync(events, { recursive: true })
      writeFileSync(events, 'in the way')
      const input = makeInput()
      await store.record(input)
      await expect(store.flush()).rejects.toThrow()
      await new Promise((r) => setTimeout(r, 50))
      expect(warnings.length).toBeGreaterThan(0)
      rmSync(events)
      mkdirSync(events)
      await store.flush()
      expect(await store.getEvent(issueId('checkout'), input.event.event_id)).toMatchObject({ event_id: input.event.event_id })
      expect(readFileSync(path.join(events, `${issueId('checkout')}.jsonl`), 'utf8')).toContain(input.event.event_id)
    })
  })

  describe('crashes and exits (real child processes using dist/)', () => {
    it('has the event that crashed the process on disk after it exits', () => {
      const file = path.join(tempDir(), 'errors.json')
      const result = runChild('crash', file)
      expect(result.status).toBe(1)
      expect(existsSync(`${file}.lock`)).toBe(false)
      const doc = JSON.parse(readFileSync(file, 'utf8'))
      expect(doc.issues[0].issue).toMatchObject({ title: 'Error: child crash', count: 1 })
      expect(readFileSync(path.join(path.dirname(file), 'errors.events', `${'childcrash'.padEnd(16, '0')}.jsonl`), 'utf8')).toContain('child crash 1')
    })

    it('writes pending records and frees the lock when the process ends without close()', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const result = runChild('exit', file)
      expect(result.status).toBe(0)
      expect(existsSync(`${file}.lock`)).toBe(false)
      const store = openStore({ path: file })
      const id = 'childexit'.padEnd(16, '0')
      expect((await store.getIssue(id))!).toMatchObject({ count: 3, userCount: 3 })
      expect((await store.listEvents(id)).events).toHaveLength(3)
    })
  })

  describe('the lock', () => {
    it('refuses a second process at creation with an error that points to the postgres store', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const holder = await startHolder(file)
      try {
        expect(readFileSync(`${file}.lock`, 'utf8')).toContain(`"pid":${holder.pid}`)
        expect(() => fileStore({ path: file })).toThrow(new RegExp(`in use by process ${holder.pid}.*postgres`, 's'))
      } finally {
        await stopChild(holder)
      }
      // the holder was killed, so its lock is stale now and is taken over
      const store = openStore({ path: file })
      await store.open()
      expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid)
    })

    it('takes over a lock whose process is dead, or which is unreadable', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const dead = spawnSync(process.execPath, ['-e', 'process.pid'])
      writeFileSync(`${file}.lock`, JSON.stringify({ pid: dead.pid, hostname: os.hostname(), since: new Date().toISOString() }))
      const store = openStore({ path: file })
      await store.record(makeInput())
      expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid)
      await store.close()
      writeFileSync(`${file}.lock`, 'garbage')
      const again = openStore({ path: file })
      expect((await again.getIssue(issueId('checkout')))!.count).toBe(1)
    })

    it('refuses a lock from another host refreshed within 30 s, naming the host, and takes it over once older', () => {
      const file = path.join(tempDir(), 'errors.json')
      const lock = `${file}.lock`
      writeFileSync(lock, JSON.stringify({ pid: 4242, hostname: 'web-7f9c', since: '2026-01-02T03:04:05.000Z' }))
      const past = (s: number) => new Date(Date.now() - s * 1000)
      utimesSync(lock, past(20), past(20))
      expect(() => fileStore({ path: file })).toThrow(new RegExp(
        'in use by process 4242 on host web-7f9c \\(since 2026-01-02T03:04:05.000Z; it refreshed its lock 2\\d(\\.\\d)? s ago\\)\\. ' +
        '.*postgresStore.*If host web-7f9c is gone.*taken over once it has gone 30 s without a refresh.*delete .*errors\\.json\\.lock now', 's'))
      expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(4242)

      utimesSync(lock, past(31), past(31))
      const warnings: Error[] = []
      openStore({ path: file, onWarning: (err) => warnings.push(err) })
      expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid, hostname: os.hostname() })
      expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/took over the lock .* of process 4242 on host web-7f9c, not refreshed for 3\d(\.\d)? s/)])
    })

    it('refuses a live store on another host for as long as it runs, and takes its lock over once it stops refreshing it', async () => {
      // a second container on a shared volume: a real process claiming another hostname
      const file = path.join(tempDir(), 'errors.json')
      const lock = `${file}.lock`
      const saved = { ...lockTiming }
      Object.assign(lockTiming, { staleMs: 1000 })
      const holder = await startHolder(file, { FAULTLINE_TEST_HOSTNAME: 'container-a', FAULTLINE_TEST_HEARTBEAT_MS: '100' })
      try {
        expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: holder.pid, hostname: 'container-a' })
        const before = statSync(lock).mtimeMs
        // longer than the stale period: only its refreshes keep it from being taken over
        await sleep(1500)
        expect(statSync(lock).mtimeMs).toBeGreaterThan(before + 1000)
        expect(() => fileStore({ path: file })).toThrow(new RegExp(`in use by process ${holder.pid} on host container-a .*refreshed its lock 0(\\.\\d)? s ago.*postgres`, 's'))
        await stopChild(holder)
        // just killed: its lock is still fresh, as a replaced container finds it
        expect(() => fileStore({ path: file })).toThrow(/on host container-a/)
        await sleep(1200)
        const warnings: Error[] = []
        const store = openStore({ path: file, onWarning: (err) => warnings.push(err) })
        await store.open()
        expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid)
        expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(new RegExp(`took over the lock .* of process ${holder.pid} on host container-a`))])
      } finally {
        Object.assign(lockTiming, saved)
        if (holder.exitCode === null && holder.signalCode === null) await stopChild(holder)
      }
    })

    it('keeps its lock fresh while open, and stops refreshing it on close', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const lock = `${file}.lock`
      const saved = { ...lockTiming }
      lockTiming.heartbeatMs = 30
      const warnings: Error[] = []
      try {
        const store = openStore({ path: file, onWarning: (err) => warnings.push(err) })
        await store.open()
        const content = readFileSync(lock, 'utf8')
        const old = new Date(Date.now() - 60_000)
        utimesSync(lock, old, old)
        await sleep(200)
        expect(statSync(lock).mtimeMs).toBeGreaterThan(Date.now() - 5000)
        expect(readFileSync(lock, 'utf8')).toBe(content)
        await store.close()
        expect(existsSync(lock)).toBe(false)
        // a lock at the same path after close is none of its business: not refreshed, not made again
        writeFileSync(lock, content)
        utimesSync(lock, old, old)
        await sleep(200)
        expect(Math.abs(statSync(lock).mtimeMs - old.getTime())).toBeLessThan(1)
        unlinkSync(lock)
        await sleep(200)
        expect(existsSync(lock)).toBe(false)
        expect(warnings).toEqual([])
      } finally {
        Object.assign(lockTiming, saved)
      }
    })

    it('makes a deleted lock again, says a failing refresh once, and says when another process holds its lock', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const lock = `${file}.lock`
      const saved = { ...lockTiming }
      lockTiming.heartbeatMs = 30
      const warnings: string[] = []
      try {
        const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
        await store.open()
        const content = readFileSync(lock, 'utf8')
        unlinkSync(lock)
        await sleep(200)
        expect(readFileSync(lock, 'utf8')).toBe(content)
        expect(warnings).toEqual([expect.stringMatching(/the lock .*errors\.json\.lock was deleted while .* was open; made it again/)])

        // a refresh that fails on every heartbeat (here: a folder in its place) is said once, then its end
        unlinkSync(lock)
        mkdirSync(lock)
        await sleep(300)
        expect(warnings.slice(1)).toEqual([expect.stringMatching(/could not refresh the lock .*\(EISDIR: .*another host may take over/)])
        rmSync(lock, { recursive: true })
        await sleep(200)
        expect(readFileSync(lock, 'utf8')).toBe(content)
        expect(warnings.slice(2)).toEqual([expect.stringMatching(/made it again/), expect.stringMatching(/refreshed again/)])

        // taken over by a process on another host (say this one stalled for longer than 30 s)
        const theirs = JSON.stringify({ pid: 4343, hostname: 'web-other', since: new Date().toISOString() })
        writeFileSync(`${lock}.new`, theirs)
        renameSync(`${lock}.new`, lock)
        const old = new Date(Date.now() - 60_000)
        utimesSync(lock, old, old)
        await sleep(200)
        expect(warnings.slice(4)).toEqual([expect.stringMatching(/no longer holds the lock .*: process 4343 on host web-other holds it now.*postgres/)])
        expect(Math.abs(statSync(lock).mtimeMs - old.getTime())).toBeLessThan(1)
        await store.close()
        expect(readFileSync(lock, 'utf8')).toBe(theirs)
      } finally {
        Object.assign(lockTiming, saved)
      }
    })

    it('refuses a second store on the same file in this process, and frees the lock on close', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const store = openStore({ path: file })
      expect(() => fileStore({ path: file })).toThrow(/already open in this process/)
      await store.close()
      expect(existsSync(`${file}.lock`)).toBe(false)
      await expect(store.getIssue('x')).rejects.toThrow(/closed/)
      openStore({ path: file })
      expect(existsSync(`${file}.lock`)).toBe(true)
    })
  })

  describe('a corrupt file', () => {
    it('is moved aside with its events, reported, and a fresh store starts', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      writeFileSync(file, '{"version":1,"issues":[{"issue": broken')
      mkdirSync(path.join(dir, 'errors.events'))
      writeFileSync(path.join(dir, 'errors.events', '0123456789abcdef.jsonl'), '\n{"event_id":"old"}')
      const warnings: Error[] = []
      const store = openStore({ path: file, onWarning: (err) => warnings.push(err) })
      expect((await store.listIssues({ status: 'all' })).issues).toEqual([])
      expect(warnings).toHaveLength(1)
      expect(warnings[0].message).toMatch(/not a faultline store/)
      const aside = readdirSync(dir).find((name) => name.startsWith('errors.json.corrupt-'))!
      expect(warnings[0].message).toContain(aside)
      expect(readFileSync(path.join(dir, aside), 'utf8')).toBe('{"version":1,"issues":[{"issue": broken')
      expect(readdirSync(dir).some((name) => name.startsWith('errors.events.corrupt-'))).toBe(true)
      await store.record(makeInput())
      await store.close()
      const reopened = openStore({ path: file })
      expect((await reopened.getIssue(issueId('checkout')))!.count).toBe(1)
      expect(warnings).toHaveLength(1)
    })

    it('treats valid JSON that is not a store document as corrupt too', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      writeFileSync(file, '[1, 2, 3]')
      const warnings: Error[] = []
      const store = openStore({ path: file, onWarning: (err) => warnings.push(err) })
      await store.open()
      expect(warnings).toHaveLength(1)
      expect(readdirSync(dir).some((name) => name.startsWith('errors.json.corrupt-'))).toBe(true)
    })
  })

  describe('at scale: 10,000 issues and 100,000 stored events', () => {
    it('never keeps the event loop busy for more than 20 ms in one stretch of a write', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const start = await fillFileStore(file, { issues: 10_000, eventsPerIssue: 10 })
      const store = openStore({ path: file, retention: { maxEventsPerIssue: 10, maxAgeMs: 90 * DAY } })
      await store.open()
      expect((await store.countIssues()).all).toBe(10_000)
      expect((await store.listEvents(issueId('issue1234'), { limit: 100 })).events).toHaveLength(10)

      const writes = []
      // records spread over random issues, one issue growing past twice its retention (a trim), then a full save
      for (let round = 0; round < 12; round++) {
        for (let k = 0; k < 30; k++) await store.record(makeInput({ issue: `issue${1000 + Math.floor(Math.random() * 8999)}`, user: `u${k}` }))
        for (let k = 0; k < 5; k++) await store.record(makeInput({ issue: 'issue9999' }))
        await store.flush()
        writes.push(store.lastWrite!)
      }
      // events of the first 500 issues are older than maxAge: 5,000 events in 500 files go
      const swept = await store.maintain({ now: new Date(start + 2 * DAY), retention: { maxEventsPerIssue: 100, maxAgeMs: 2 * DAY - 5000 * 1000 } })
      writes.push(store.lastWrite!)

      const saves = writes.slice(0, -1)
      expect(saves.every((w) => w.bytes > 5_000_000)).toBe(true)
      expect(swept.prunedEvents).toBe(5000)
      expect((await store.listEvents(issueId('issue499'))).events).toEqual([])
      expect((await store.listEvents(issueId('issue500'))).events).toHaveLength(10)
      expect((await store.getIssue(issueId('issue9999')))!.count).toBe(70)
      expect((await store.listEvents(issueId('issue9999'), { limit: 100 })).events.length).toBeLessThanOrEqual(20)
      const longestCpu = Math.max(...writes.map((w) => w.longestSliceCpuMs))
      const longestWall = Math.max(...writes.map((w) => w.longestSliceMs))
      console.log(`CPU ms of the longest stretch of each write: ${writes.map((w) => w.longestSliceCpuMs.toFixed(1)).join(' ')}`)
      console.log(`file store at scale: ${saves.length} saves of ${(saves[0].bytes / 1e6).toFixed(1)} MB, median ${median(saves.map((w) => w.totalMs)).toFixed(0)} ms each; ` +
        `maintain sweep over 500 files ${writes[writes.length - 1].totalMs.toFixed(0)} ms; longest stretch ${longestCpu.toFixed(1)} ms CPU, ${longestWall.toFixed(1)} ms wall clock`)
      expect(longestCpu).toBeLessThan(20)
    }, 120_000)
  })
})

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

describe('fileStore alerts deferred by a crash', () => {
  it('keeps them across a restart, hands them over once, and keeps only the newest 20', async () => {
    const file = path.join(tempDir(), 'errors.json')
    const store = openStore({ path: file })
    for (let i = 0; i < 22; i++) {
      const input = makeInput({ message: `crash ${i}` })
      store.deferAlertSync({ result: store.recordSync(input), event: input.event })
    }
    store.flushSync()
    await store.close()

    const reopened = openStore({ path: file })
    const taken = await reopened.takeDeferredAlerts()
    expect(taken.map((a) => a.event.exception?.value)).toEqual(Array.from({ length: 20 }, (_, i) => `crash ${i + 2}`))
    expect(taken[0].result.issue.count).toBeGreaterThan(0)
    expect(await reopened.takeDeferredAlerts()).toEqual([])
  })

  it('drops an unreadable file instead of failing the start', async () => {
    const file = path.join(tempDir(), 'errors.json')
    writeFileSync(path.join(path.dirname(file), 'errors.deferred-alerts.json'), '{ torn')
    const store = openStore({ path: file })
    expect(await store.takeDeferredAlerts()).toEqual([])
    expect(existsSync(path.join(path.dirname(file), 'errors.deferred-alerts.json'))).toBe(false)
  })
})

describe('fileStore lock under a race', () => {
  /** Starts `count` processes on one store at the same moment; resolves how many took it (the rest are refused). */
  async function race(file: string, count: number): Promise<{ holders: number; refused: number; stderr: string }> {
    const children = Array.from({ length: count }, () => spawn(process.execPath, [CHILD, 'hold', file], { stdio: ['ignore', 'pipe', 'pipe'] }))
    let stderr = ''
    const outcomes = await Promise.all(children.map((child) => new Promise<'held' | 'refused'>((resolve) => {
      child.stdout!.on('data', (data: Buffer) => {
        if (data.toString().includes('ready')) resolve('held')
      })
      child.stderr!.on('data', (data: Buffer) => { stderr += data })
      child.on('exit', () => resolve('refused'))
    })))
    // let every process that holds the lock say so before they are stopped
    await new Promise((resolve) => setTimeout(resolve, 300))
    await Promise.all(children.map((child) => (child.exitCode === null ? stopChild(child) : undefined)))
    return { holders: outcomes.filter((o) => o === 'held').length, refused: outcomes.filter((o) => o === 'refused').length, stderr }
  }

  it('gives the store to exactly one of several processes starting at once, with or without a stale lock', async () => {
    for (let round = 0; round < 3; round++) {
      const fresh = path.join(tempDir(), 'errors.json')
      const first = await race(fresh, 6)
      expect(first.holders, first.stderr).toBe(1)
      expect(first.stderr).toContain('is in use by process')

      const stale = path.join(tempDir(), 'errors.json')
      writeFileSync(`${stale}.lock`, JSON.stringify({ pid: 2 ** 22 + 7, hostname: os.hostname(), since: new Date().toISOString() }))
      const second = await race(stale, 6)
      expect(second.holders, second.stderr).toBe(1)
    }
  }, 60_000)
})

describe('fileStore when its files are taken away or the disk fills', () => {
  it('makes the events folder again when it was deleted while running', async () => {
    const file = path.join(tempDir(), 'errors.json')
    const events = path.join(path.dirname(file), 'errors.events')
    const store = openStore({ path: file, writeDelayMs: 0, onWarning: () => {} })
    await store.record(makeInput())
    await store.flush()
    rmSync(events, { recursive: true })
    const later = makeInput()
    await store.record(later)
    // the write that finds the folder gone fails once; the store's retry makes it again
    const lines = () => (existsSync(path.join(events, `${issueId('checkout')}.jsonl`)) ? readFileSync(path.join(events, `${issueId('checkout')}.jsonl`), 'utf8') : '')
    for (let i = 0; i < 50 && !lines().includes(later.event.event_id); i++) await new Promise((r) => setTimeout(r, 100))
    expect(lines()).toContain(later.event.event_id)
  })

  it('says a lasting write failure once, retries it with backoff, and says when it writes again', async () => {
    const file = path.join(tempDir(), 'errors.json')
    const events = path.join(path.dirname(file), 'errors.events')
    const warnings: string[] = []
    const store = openStore({ path: file, writeDelayMs: 0, onWarning: (err) => warnings.push(err.message) })
    await store.record(makeInput())
    await store.flush()
    // a file where the events folder should be: every write fails, for root too
    rmSync(events, { recursive: true })
    writeFileSync(events, 'not a folder')
    const during = Array.from({ length: 20 }, () => makeInput())
    for (const input of during) {
      await store.record(input)
      await new Promise((r) => setTimeout(r, 50))
    }
    const failures = warnings.filter((w) => w.includes('could not write'))
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatch(/events wait in memory and are retried/)
    rmSync(events)
    for (let i = 0; i < 80 && !warnings.some((w) => w.includes('writes again')); i++) await new Promise((r) => setTimeout(r, 100))
    expect(warnings.at(-1)).toContain('writes again')
    const { events: stored } = await store.listEvents(issueId('checkout'), { limit: 100 })
    for (const input of during) expect(stored.map((e) => e.event_id)).toContain(input.event.event_id)
  }, 20_000)

  it('refuses a path it cannot write with an error that says where and what to do', () => {
    const blocker = path.join(tempDir(), 'not-a-folder')
    writeFileSync(blocker, '')
    expect(() => fileStore({ path: path.join(blocker, 'errors.json') })).toThrow(/cannot open the file store at .*not-a-folder\/errors\.json .*Give it a folder the app may write to/)
  })

  it('counts a window reaching back before a restart by whole minutes, never fewer than there were', async () => {
    const file = path.join(tempDir(), 'errors.json')
    const m = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000
    const first = openStore({ path: file })
    for (const at of [m + 10_000, m + 40_000]) await first.record(makeInput({ time: at }))
    expect(await first.countEventsSince(issueId('checkout'), new Date(m + 30_000))).toBe(1)
    await first.close()
    // the seconds were counted by the closed store; the document keeps minutes
    const second = openStore({ path: file })
    expect(await second.countEventsSince(issueId('checkout'), new Date(m + 30_000))).toBe(2)
    await second.record(makeInput({ time: Date.now() }))
    expect(await second.countEventsSince(issueId('checkout'), new Date(Date.now() - 1000))).toBe(1)
  })

  it('lists the events waiting to be written while maintenance rewrites their file', async () => {
    const store = openStore({ path: path.join(tempDir(), 'errors.json'), writeDelayMs: 60_000, retention: { maxEventsPerIssue: 5, maxAgeMs: DAY } })
    const id = issueId('checkout')
    // 8 events on disk, then 5 waiting in memory: the newest 5 are what retention keeps
    for (let i = 0; i < 8; i++) await store.record(makeInput({ time: Date.now() - 1000 + i }))
    await store.flush()
    for (let i = 0; i < 5; i++) await store.record(makeInput())
    const newest = (await store.listEvents(id, { limit: 5 })).events.map((e) => e.event_id)
    let done = false
    const maintained = store.maintain({}).then((r) => {
      done = true
      return r
    })
    const seen: string[][] = []
    while (!done) seen.push((await store.listEvents(id, { limit: 5 })).events.map((e) => e.event_id))
    expect((await maintained).prunedEvents).toBe(8)
    expect(seen.length).toBeGreaterThan(0)
    for (const ids of seen) expect(ids).toEqual(newest)
    expect((await store.listEvents(id, { limit: 100 })).events.map((e) => e.event_id)).toEqual(newest)
  })

  it('lists an event once even when a retried append left its line twice', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'errors.json')
    const first = openStore({ path: file })
    const input = makeInput()
    await first.record(input)
    await first.close()
    const events = path.join(dir, 'errors.events', `${issueId('checkout')}.jsonl`)
    appendFileSync(events, readFileSync(events, 'utf8'))
    const second = openStore({ path: file })
    const { events: listed } = await second.listEvents(issueId('checkout'))
    expect(listed.map((e) => e.event_id)).toEqual([input.event.event_id])
  })

  it('writes every byte of the document when the disk takes only part of a write', async () => {
    const written: Buffer[] = []
    // a disk that takes at most 5 bytes a call, as a nearly full one may
    const stingy = { writev: async (buffers: Buffer[]) => {
      const all = Buffer.concat(buffers).subarray(0, 5)
      written.push(all)
      return { bytesWritten: all.length, buffers }
    } }
    await writeAll(stingy as never, [Buffer.from('{"issues":'), Buffer.from('[1,2,3]'), Buffer.from('}')])
    expect(Buffer.concat(written).toString()).toBe('{"issues":[1,2,3]}')
    const full = { writev: async (buffers: Buffer[]) => ({ bytesWritten: 0, buffers }) }
    await expect(writeAll(full as never, [Buffer.from('x')])).rejects.toThrow(/disk took no more bytes/)
  })
})
