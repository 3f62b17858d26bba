/**
 * The spool (`errors.spool/` beside the store): where a process that must write now but cannot get
 * the write lock in time (it is crashing or exiting while another process holds the lock for long)
 * leaves its batch, durably: written to a temporary file, synced, then renamed into place, as
 * maildir does. The next writer takes each file in under the lock: the batch goes into the journal
 * marked with the file's name (so a writer killed half-way never counts it twice), its events into
 * their files, and the file is removed. A file that is not a batch, or too large to be one, is moved
 * to `errors.spool/rejected/` and reported; it never blocks the files after it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { parseEntry, type EventEntry } from '../shared/event-list.js'
import { isIssueId } from '../shared/arguments.js'
import { parseBatch, type Batch } from './journal-ops.js'

/** a spool file larger than this is not one a dying process wrote: refused unread */
export const MAX_SPOOL_BYTES = 16 * 1024 * 1024
const SUFFIX = '.batch'

export type SpoolRead =
  | { ok: true; batch: Batch; bodies: Array<[string, EventEntry]> }
  | { ok: false; reason: string }

export class Spool {
  readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  /** Leaves a batch and its events in the spool, durably; returns the file's name. */
  writeSync(batch: Batch, bodies: Array<[string, EventEntry]>): string {
    mkdirSync(this.dir, { recursive: true })
    const name = `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}${SUFFIX}`
    const tmp = path.join(this.dir, `.${name}.tmp`)
    const text = [JSON.stringify(batch), ...bodies.map(([id, entry]) => `${id}\t${entry.json}`)].join('\n') + '\n'
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path.join(this.dir, name))
    return name
  }

  /** The batch files waiting, oldest first (their names start with the pid and the time). */
  list(): string[] {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
      throw err
    }
    return names.filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.')).sort((a, b) => timeOf(a) - timeOf(b) || (a < b ? -1 : 1))
  }

  read(name: string): SpoolRead {
    const file = path.join(this.dir, name)
    const { size } = statSync(file)
    if (size > MAX_SPOOL_BYTES) return { ok: false, reason: `${size} bytes, more than the ${MAX_SPOOL_BYTES} a spool file may have` }
    const lines = readFileSync(file, 'utf8').split('\n')
    if (lines.at(-1) !== '') return { ok: false, reason: 'it does not end with a whole line' }
    const batch = parseBatch(lines[0])
    if (batch === null) return { ok: false, reason: 'its first line is not a batch' }
    const bodies: Array<[string, EventEntry]> = []
    for (const line of lines.slice(1, -1)) {
      const tab = line.indexOf('\t')
      const id = line.slice(0, tab)
      const entry = tab > 0 ? parseEntry(line.slice(tab + 1)) : null
      if (!isIssueId(id) || entry === null) return { ok: false, reason: 'a line is not an event' }
      bodies.push([id, entry])
    }
    return { ok: true, batch, bodies }
  }

  remove(name: string): void {
    try {
      unlinkSync(path.join(this.dir, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  /** Moves a file that is not a batch out of the way; returns where it went. */
  reject(name: string): string {
    const rejected = path.join(this.dir, 'rejected')
    mkdirSync(rejected, { recursive: true })
    const to = path.join(rejected, name)
    renameSync(path.join(this.dir, name), to)
    return to
  }

  /** Whether a spool file of this name is still there. */
  has(name: string): boolean {
    try {
      statSync(path.join(this.dir, name))
      return true
    } catch {
      return false
    }
  }
}

function timeOf(name: string): number {
  const time = Number(name.split('-')[1])
  return Number.isFinite(time) ? time : 0
}
