import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fileStore, type FileStore } from '../../adapters/file.js'
import defaultExport from '../../adapters/file.js'
import type { Store } from '../../lib/types.js'
import { storeConformance, makeInput, issueId } from '../../testing/index.js'
import { DAY } from '../../common/duration.js'
import { fillFileStore } from './fill-file-store.js'
import { writeAll } from '../../adapters/file/document.js'
import { IssueIndex } from '../../adapters/shared/issue-index.js'
import { networkFileSystem } from '../../adapters/file/file-system.js'

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

storeConformance('file', async () => fileStore({ path: path.join(tempDir(), 'errors.json') }), { describe, it })
// writing at once puts every event on disk before it is read back, so reads come from the files
storeConformance('file, writing at once', async () => fileStore({ path: path.join(tempDir(), 'errors.json'), writeDelayMs: 0 }), { describe, it })

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
  return spawnSync(process.execPath, [CHILD, mode, file], { encoding: 'utf8', timeout: 20_000 })
}

/** The event ids in an issue's events file, torn lines left out. */
function linesOf(dir: string, id: string): string[] {
  const file = path.join(dir, 'errors.events', `${id}.jsonl`)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line).event_id as string]
    } catch {
      return []
    }
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

  it('knows the network file systems it refuses, and says what to use instead', () => {
    expect(networkFileSystem(0x6969)).toBe('NFS')
    expect(networkFileSystem(0xff534d42 | 0)).toBe('CIFS')
    expect(networkFileSystem(0xef53)).toBeNull() // ext4
    expect(networkFileSystem(0x01021994)).toBeNull() // tmpfs
    // this machine's temporary folder is local: a store opens there
    expect(() => fileStore({ path: path.join(tempDir(), 'errors.json') }).close()).not.toThrow()
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

    it('gathers records into one journal line, and keeps the document whole at every moment', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const journal = path.join(path.dirname(file), 'errors.journal')
      let store = openStore({ path: file, writeDelayMs: 50 })
      await store.open()
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.record(makeInput({ issue: `i${i % 20}` }))))
      // the header and one batch: 200 records gathered for 50 ms went in one append
      const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean)
      expect(lines).toHaveLength(2)
      expect(JSON.parse(lines[1]).ops).toHaveLength(200)
      // each close saves the issues into the document; meanwhile every read of it parses
      let reads = 0
      const reader = setInterval(() => {
        if (existsSync(file)) JSON.parse(readFileSync(file, 'utf8'))
        reads++
      }, 1)
      try {
        for (let round = 0; round < 3; round++) {
          await Promise.all(Array.from({ length: 200 }, (_, i) => store.record(makeInput({ issue: `i${i % 20}` }))))
          await store.close()
          store = openStore({ path: file, writeDelayMs: 50 })
        }
      } finally {
        clearInterval(reader)
      }
      expect(reads).toBeGreaterThan(10)
      expect((await store.listIssues({ limit: 100 })).issues.map((i) => i.count)).toEqual(Array(20).fill(40))
      expect(JSON.parse(readFileSync(file, 'utf8')).issues.map((r: { issue: { count: number } }) => r.issue.count)).toEqual(Array(20).fill(40))
      // after a close the journal holds nothing the document does not
      expect(readFileSync(journal, 'utf8').split('\n').filter(Boolean)).toHaveLength(1)
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

    it('skips a line torn by a crash mid-append and keeps the events before and after it intact', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const first = openStore({ path: file })
      const a = makeInput()
      await first.record(a)
      await first.close()
      // a process killed mid-append leaves the start of its line (each event is written after a newline)
      const events = path.join(dir, 'errors.events', `${issueId('checkout')}.jsonl`)
      appendFileSync(events, '\n{"event_id":"torn","timest')
      const second = openStore({ path: file })
      const b = makeInput()
      await second.record(b)
      await second.flush()
      const listed = await second.listEvents(issueId('checkout'))
      expect(listed.events.map((e) => e.event_id).sort()).toEqual([a.event.event_id, b.event.event_id].sort())
      // JSON Lines: the torn line stays on its own; the lines before and after it are whole events
      const lines = readFileSync(events, 'utf8').split('\n').filter(Boolean)
      expect(lines.map((line) => (line.startsWith('{"event_id":"torn"') ? 'torn' : JSON.parse(line).event_id)))
        .toEqual([a.event.event_id, 'torn', b.event.event_id])
    })

    it('flushSync puts waiting records and their events on disk before returning', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const store = openStore({ path: file, writeDelayMs: 60_000 })
      await store.open()
      const input = makeInput({ issue: 'fatal' })
      const recorded = store.record(input)
      store.flushSync()
      expect(linesOf(dir, issueId('fatal'))).toEqual([input.event.event_id])
      const other = openStore({ path: file })
      expect((await other.getIssue(issueId('fatal')))!.count).toBe(1)
      expect((await recorded).isNew).toBe(true)
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
    it('has the event that crashed the process on disk after it exits, and frees the lock', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      const result = runChild('crash', file)
      expect(result.status).toBe(1)
      expect(existsSync(`${file}.lock`)).toBe(false)
      const store = openStore({ path: file })
      const id = 'childcrash'.padEnd(16, '0')
      expect((await store.getIssue(id))!).toMatchObject({ title: 'Error: childcrash', count: 1 })
      expect(linesOf(dir, id)).toHaveLength(1)
    })

    it('writes waiting records and frees the lock when the process ends without close()', async () => {
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

  describe('several stores on one path', () => {
    it('share it within one process too: every record counted once, each issue new once', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const a = openStore({ path: file })
      const b = openStore({ path: file })
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).record(makeInput({ issue: `i${i % 4}`, user: `u${Math.floor(i / 4) % 30}` }))))
      expect(results.filter((r) => r.isNew)).toHaveLength(4)
      // each sees what the other wrote within 100 ms
      await new Promise((r) => setTimeout(r, 120))
      for (const store of [a, b]) {
        const { issues } = await store.listIssues({ limit: 10, sort: 'events' })
        expect(issues.map((i) => [i.count, i.userCount])).toEqual(Array(4).fill([100, 30]))
      }
      const claims = await Promise.all([a, b, a, b].map((store) => store.claimAlert('once', { issueId: issueId('i0') })))
      expect(claims.filter(Boolean)).toHaveLength(1)
    })

    it("see each other's changes within 100 ms without writing, and follow a checkpoint", async () => {
      const file = path.join(tempDir(), 'errors.json')
      const writer = openStore({ path: file })
      const reader = openStore({ path: file })
      await writer.record(makeInput({ issue: 'seen' }))
      await new Promise((r) => setTimeout(r, 120))
      expect((await reader.getIssue(issueId('seen')))!.count).toBe(1)
      await writer.updateIssue(issueId('seen'), { status: 'resolved' })
      await new Promise((r) => setTimeout(r, 120))
      expect((await reader.getIssue(issueId('seen')))!.status).toBe('resolved')
      // the writer closes: its close saves a checkpoint and starts the next journal generation
      await writer.close()
      const again = openStore({ path: file })
      await again.record(makeInput({ issue: 'seen' }))
      await new Promise((r) => setTimeout(r, 120))
      expect((await reader.getIssue(issueId('seen')))!).toMatchObject({ count: 2, regressed: true })
    })

    it('share notes, the activity log, affected users, rule firings and settings through the journal', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const a = openStore({ path: file })
      const b = openStore({ path: file })
      const id = issueId('shared')
      await a.record(makeInput({ issue: 'shared', user: 'alice' }))
      await new Promise((r) => setTimeout(r, 120))
      const note = (await b.addNote(id, { text: 'seen in b', actor: 'ann' }))!
      await b.updateIssue(id, { status: 'resolved', inRelease: '1.0.0', actor: 'ann' })
      await a.noteRuleFired('0:new', new Date('2026-01-02T03:04:05.000Z'))
      const settings = await Promise.all([a, b, a, b].map((store, i) => store.claimSetting('browserKey', `key-${i}`)))
      expect(new Set(settings).size).toBe(1)
      await new Promise((r) => setTimeout(r, 120))
      expect((await a.listActivity(id))!.activity.map((line) => line.kind)).toEqual(['first_seen', 'note', 'resolved'])
      expect((await a.listActivity(id))!.activity[1]).toEqual(note)
      expect((await a.getIssue(id))!).toMatchObject({ status: 'resolved', resolvedInRelease: '1.0.0' })
      expect(await b.ruleFirings()).toEqual({ '0:new': '2026-01-02T03:04:05.000Z' })
      expect((await b.listUsers(id))!.users.map((u) => [u.key, u.count])).toEqual([['alice', 1]])
      // a store opened later reads all of it back from the document and the journal
      await a.close()
      await b.close()
      const c = openStore({ path: file })
      expect((await c.listActivity(id))!.activity.map((line) => line.kind)).toEqual(['first_seen', 'note', 'resolved'])
      expect(await c.ruleFirings()).toEqual({ '0:new': '2026-01-02T03:04:05.000Z' })
      expect(await c.claimSetting('browserKey', 'later')).toBe(settings[0])
      expect((await c.listUsers(id))!.users[0]).toMatchObject({ key: 'alice', user: { id: 'alice', email: 'alice@example.com' } })
    })

    it('share each user\'s latest fields and the event ids of the log, with a journal of under 160 bytes an event on a known issue', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const journal = path.join(path.dirname(file), 'errors.journal')
      // room for every event, so that the log has no events_pruned line
      const retention = { maxEventsPerIssue: 1000, maxAgeMs: 90 * DAY }
      const a = openStore({ path: file, retention })
      const b = openStore({ path: file, retention })
      const id = issueId('lean')
      const first = makeInput({ issue: 'lean', user: 'alice' })
      await a.record(first)
      await a.flush()
      // a storm of known users on the known issue: what the store knows already is not written again
      const before = statSync(journal).size
      await Promise.all(Array.from({ length: 200 }, (_, i) => a.record(makeInput({ issue: 'lean', user: i % 2 === 0 ? 'alice' : 'bob' }))))
      await a.flush()
      expect((statSync(journal).size - before) / 200).toBeLessThan(160)
      // alice's fields change: the newest are the ones listed
      await a.record(makeInput({ issue: 'lean', user: 'alice', userFields: { id: 'alice', email: 'alice@new.example.com' } }))
      await a.flush()
      await b.updateIssue(id, { status: 'resolved' })
      await b.flush()
      await new Promise((r) => setTimeout(r, 120))
      const regression = makeInput({ issue: 'lean', user: 'bob' })
      expect((await a.record(regression)).isRegression).toBe(true)
      await a.flush()
      await new Promise((r) => setTimeout(r, 120))
      for (const store of [b, openStore({ path: file, retention })]) {
        const users = (await store.listUsers(id))!.users
        expect(users.map((u) => [u.key, u.count, u.user.email])).toEqual([['alice', 102, 'alice@new.example.com'], ['bob', 101, 'bob@example.com']])
        const log = (await store.listActivity(id))!.activity
        expect(log.map((line) => [line.kind, line.eventId])).toEqual([['first_seen', first.event.event_id], ['resolved', undefined], ['regressed', regression.event.event_id]])
      }
    })
  })

  describe('events files checked against the issues', () => {
    it('restores the issue of an events file left without one, and counts what a crash of an older version left uncounted', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      // a store as the version before the journal wrote it: counts saved after the events were appended
      const index = new IssueIndex()
      const counted = [makeInput({ issue: 'counted' }), makeInput({ issue: 'counted' })]
      for (const input of counted) index.record(input)
      const issues = [...index.ids()].map((id) => index.serialize(id))
      writeFileSync(file, JSON.stringify({ version: 1, savedAt: new Date().toISOString(), issues: issues.map((j) => JSON.parse(j!)), claims: [] }))
      mkdirSync(path.join(dir, 'errors.events'))
      const uncounted = makeInput({ issue: 'counted', user: 'late' })
      writeFileSync(path.join(dir, 'errors.events', `${issueId('counted')}.jsonl`), [...counted, uncounted].map((i) => `${JSON.stringify(i.event)}\n`).join(''))
      const orphan = [makeInput({ issue: 'orphan', message: 'lost issue', user: 'a' }), makeInput({ issue: 'orphan', message: 'lost issue', user: 'b' })]
      writeFileSync(path.join(dir, 'errors.events', `${issueId('orphan')}.jsonl`), orphan.map((i) => `${JSON.stringify(i.event)}\n`).join(''))

      const warnings: string[] = []
      const store = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
      await store.flush()
      expect((await store.getIssue(issueId('counted')))!).toMatchObject({ count: 3, userCount: 1 })
      expect((await store.getIssue(issueId('orphan')))!).toMatchObject({ count: 2, userCount: 2, title: 'TypeError: lost issue' })
      expect((await store.listEvents(issueId('orphan'))).events).toHaveLength(2)
      expect(warnings.join('\n')).toMatch(/1 events files .* had no issue/)
      expect(warnings.join('\n')).toMatch(/counted 1 events .* an earlier crash had left uncounted/)
      await store.close()
      // once only: the next process finds nothing to fix
      const next = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
      await next.flush()
      expect((await next.getIssue(issueId('counted')))!.count).toBe(3)
      expect(warnings).toHaveLength(2)
    })

    it('removes what a killed process left half written: a checkpoint, a rewrite, a spool file', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      mkdirSync(path.join(dir, 'errors.events'))
      mkdirSync(path.join(dir, 'errors.spool'))
      const strays = ['.errors.json.tmp', 'errors.journal.tmp.4242', 'errors.json.lock.stale.4242.abcd', 'errors.events/0123456789abcdef.jsonl.tmp', 'errors.spool/.4242-1-ab.batch.tmp']
      // left by a process killed two minutes ago (fresh ones may be being written right now)
      const then = new Date(Date.now() - 120_000)
      for (const stray of strays) {
        writeFileSync(path.join(dir, stray), 'half')
        utimesSync(path.join(dir, stray), then, then)
      }
      writeFileSync(path.join(dir, 'errors.spool', '.4242-2-cd.batch.tmp'), 'being written')
      const store = openStore({ path: file })
      await store.record(makeInput())
      await store.flush()
      for (const stray of strays) expect(existsSync(path.join(dir, stray)), stray).toBe(false)
      expect(existsSync(path.join(dir, 'errors.spool', '.4242-2-cd.batch.tmp'))).toBe(true)
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

    it('does not read the document again and again when it was deleted by hand behind two checkpoints', async () => {
      const dir = tempDir()
      const file = path.join(dir, 'errors.json')
      // two closes: two checkpoints, so the first journal generation is gone
      for (const issue of ['first', 'second']) {
        const store = openStore({ path: file })
        await store.record(makeInput({ issue }))
        await store.close()
      }
      const after = openStore({ path: file })
      await after.record(makeInput({ issue: 'third' }))
      await after.flush()
      rmSync(file)
      const warnings: string[] = []
      const late = openStore({ path: file, onWarning: (err) => warnings.push(err.message) })
      // it opens, and says what it could not read
      expect((await late.getIssue(issueId('third')))!.count).toBe(1)
      expect(warnings.join('\n')).toMatch(/the document of .* is older than its journal/)
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
    it('never keeps the event loop busy for more than 20 ms in one stretch of a checkpoint or a sweep', async () => {
      const file = path.join(tempDir(), 'errors.json')
      const start = await fillFileStore(file, { issues: 10_000, eventsPerIssue: 10 })
      const store = openStore({ path: file, retention: { maxEventsPerIssue: 10, maxAgeMs: 90 * DAY } })
      await store.open()
      expect((await store.countIssues()).all).toBe(10_000)
      expect((await store.listEvents(issueId('issue1234'), { limit: 100 })).events).toHaveLength(10)

      // records spread over random issues until the journal is as large as the document: a checkpoint
      const docBytes = readFileSync(file).length
      let recorded = 0
      while (store.lastWrite === null) {
        await Promise.all(Array.from({ length: 2000 }, (_, k) => store.record(makeInput({ issue: `issue${1000 + Math.floor(Math.random() * 8999)}`, user: `u${k}` }))))
        await Promise.all(Array.from({ length: 5 }, () => store.record(makeInput({ issue: 'issue9999' }))))
        recorded += 2005
        await store.flush()
      }
      const checkpoint = store.lastWrite!
      expect(checkpoint.bytes).toBeGreaterThan(docBytes)
      // events of the first 500 issues are older than maxAge: 5,000 events in 500 files go
      const swept = await store.maintain({ now: new Date(start + 2 * DAY), retention: { maxEventsPerIssue: 100, maxAgeMs: 2 * DAY - 5000 * 1000 } })
      const sweep = store.lastWrite!

      expect(swept.prunedEvents).toBe(5000)
      expect((await store.listEvents(issueId('issue499'))).events).toEqual([])
      expect((await store.listEvents(issueId('issue500'))).events).toHaveLength(10)
      expect((await store.getIssue(issueId('issue9999')))!.count).toBe(10 + 5 * (recorded / 2005))
      expect((await store.listEvents(issueId('issue9999'), { limit: 100 })).events.length).toBeLessThanOrEqual(20)
      console.log(`file store at scale: a checkpoint of ${(checkpoint.bytes / 1e6).toFixed(1)} MB after ${recorded} records took ${checkpoint.totalMs.toFixed(0)} ms, ` +
        `longest stretch ${checkpoint.longestSliceCpuMs.toFixed(1)} ms CPU (${checkpoint.longestSliceMs.toFixed(1)} ms wall clock); ` +
        `a sweep over 500 files ${sweep.totalMs.toFixed(0)} ms, longest stretch ${sweep.longestSliceCpuMs.toFixed(1)} ms CPU`)
      expect(Math.max(checkpoint.longestSliceCpuMs, sweep.longestSliceCpuMs)).toBeLessThan(20)
    }, 120_000)
  })
})

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
    // a file where the events folder should be: every event write fails, for root too
    rmSync(events, { recursive: true })
    writeFileSync(events, 'not a folder')
    const during = Array.from({ length: 20 }, () => makeInput())
    const counted = Promise.all(during.map((input) => store.record(input)))
    await new Promise((r) => setTimeout(r, 2000))
    // counted meanwhile: the journal takes them, only their bodies wait
    expect((await counted).at(-1)!.issue.count).toBe(21)
    const failures = warnings.filter((w) => w.includes('could not write'))
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatch(/20 events and changes wait in memory and are retried/)
    rmSync(events)
    for (let i = 0; i < 30 && !warnings.some((w) => w.includes('writes again')); i++) await new Promise((r) => setTimeout(r, 100))
    // writing resumes within a second of the disk coming back
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
