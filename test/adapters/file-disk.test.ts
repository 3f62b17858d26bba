/**
 * The file store on a disk that fills up: a real 2 MB file system (tmpfs), mounted for the test.
 * Mounting needs root, which CI has; elsewhere the test says it skips, or fails when CI is set.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../adapters/file.js'
import { makeInput, issueId } from '../../testing/index.js'

const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'faultline-disk-'))
let mounted = false
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' })
  mounted = true
} catch (err) {
  if (process.env.CI) throw new Error(`the full-disk test needs a 2 MB tmpfs (mount as root): ${(err as Error).message}`)
  console.log(`skipping the full-disk test: cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); run as root to include it`)
}

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
})

function free(): number {
  return Number(execFileSync('df', ['--output=avail', '-B1', mountPoint]).toString().split('\n')[1])
}

/** Fills the file system until about `leftKb` KB are free, in 100 KB files (so space can be freed a piece at a time). */
function ballast(dir: string, leftKb: number): string[] {
  mkdirSync(dir, { recursive: true })
  const files: string[] = []
  while (free() > leftKb * 1024) {
    const file = path.join(dir, `b${files.length}`)
    writeFileSync(file, Buffer.alloc(Math.min(100 * 1024, free() - leftKb * 1024), 1))
    files.push(file)
  }
  return files
}

/** Every line of every events file parses, and no event is in two lines. */
function eventLines(dir: string): { ids: string[]; torn: number } {
  const ids: string[] = []
  let torn = 0
  const events = path.join(dir, 'errors.events')
  if (!existsSync(events)) return { ids, torn }
  for (const name of readdirSync(events)) {
    for (const line of readFileSync(path.join(events, name), 'utf8').split('\n')) {
      if (line === '') continue
      try {
        ids.push(JSON.parse(line).event_id)
      } catch {
        torn++
      }
    }
  }
  return { ids, torn }
}

describe.skipIf(!mounted)('the file store on a full disk (a real 2 MB file system)', () => {
  let dir = ''
  beforeAll(() => {
    dir = path.join(mountPoint, 'store')
    mkdirSync(dir)
  })

  it('never loses an issue or a count, never writes a line twice or torn, and sheds the oldest bodies that never fit', async () => {
    const file = path.join(dir, 'errors.json')
    const warnings: string[] = []
    const store = fileStore({ path: file, writeDelayMs: 10, onWarning: (err) => warnings.push(err.message) })
    await store.record(makeInput({ issue: 'i0' }))
    await store.flush()
    // the disk fills up, leaving about 250 KB
    const weight = ballast(path.join(mountPoint, 'ballast'), 250)
    // 600 events of about 3 KB over 6 issues: 1.8 MB that wait for the disk
    const inputs = Array.from({ length: 600 }, (_, i) => {
      const input = makeInput({ issue: `i${i % 6}`, user: `u${i % 40}`, time: Date.now() - 60_000 + i * 10 })
      input.event.extra = { payload: 'x'.repeat(3000) }
      return input
    })
    const results = await Promise.all(inputs.map((input) => store.record(input)))
    // every one is counted: the journal takes a few hundred bytes per event
    expect(results.filter((r) => r.isNew)).toHaveLength(5)
    await expect(store.flush()).rejects.toThrow(/ENOSPC|no more bytes/)
    // another process sees the counts now, and they survive a restart
    const reader = fileStore({ path: file })
    const counts = async (s: typeof reader) => Object.fromEntries((await s.listIssues({ limit: 10 })).issues.map((i) => [i.id, i.count]))
    const expected = Object.fromEntries(Array.from({ length: 6 }, (_, k) => [issueId(`i${k}`), k === 0 ? 101 : 100]))
    expect(await counts(reader)).toEqual(expected)
    await reader.close()
    expect(warnings.filter((w) => /could not write/.test(w))).toHaveLength(1)

    // 1.6 MB comes back: less than the backlog
    for (const f of weight.splice(0, 16)) rmSync(f)
    let kept = 0
    for (let i = 0; i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      kept = eventLines(dir).ids.length
    }
    // it drained in pieces that fit: much of it written, not all
    expect(kept).toBeGreaterThan(300)
    expect(kept).toBeLessThan(601)
    // bodies left the last 64 KB to the journal, so the count of those shed still fits when the store closes
    expect(free()).toBeGreaterThan(48 * 1024)
    await store.close()
    expect(warnings.join('\n')).toMatch(/events of .* could not be written .*; they stay counted, as shed/)

    const { ids, torn } = eventLines(dir)
    expect(torn).toBe(0)
    expect(new Set(ids).size).toBe(ids.length)
    // the newest were written first, a window of about 256 KB (some 80 of these events) at a time:
    // the newest window is all kept, and every event shed is older than what most of the kept are
    const written = new Set(ids)
    const newestFirst = [...inputs].sort((a, b) => Date.parse(b.event.timestamp) - Date.parse(a.event.timestamp))
    expect(newestFirst.slice(0, 60).every((i) => written.has(i.event.event_id))).toBe(true)
    const keptTimes = inputs.filter((i) => written.has(i.event.event_id)).map((i) => Date.parse(i.event.timestamp)).sort((a, b) => a - b)
    const shedTimes = inputs.filter((i) => !written.has(i.event.event_id)).map((i) => Date.parse(i.event.timestamp))
    expect(Math.max(...shedTimes)).toBeLessThan(keptTimes[Math.floor(keptTimes.length / 2)])

    const reopened = fileStore({ path: file })
    expect(await counts(reopened)).toEqual(expected)
    const { issues } = await reopened.listIssues({ limit: 10 })
    expect(issues.reduce((sum, i) => sum + i.shed, 0)).toBe(601 - ids.length)
    await reopened.close()
  }, 60_000)
})
