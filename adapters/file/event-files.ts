/**
 * Events of the file store: one JSON Lines file per issue, appended to, so recording an event
 * costs the same however big the store is. Only the holder of the write lock writes them. A file is
 * rewritten (temp file and rename) only to drop old events, which keeps it between
 * maxEventsPerIssue and twice that.
 *
 * Each event is written after a newline rather than before one: a line torn by a process killed
 * mid-append then stays on a line of its own, skipped when read, without the next append having to
 * look at how the file ends (an append is an open, a write and a close). An append that fails
 * part-way (a full disk) is cut back to where the file ended before it, so a retry never leaves a
 * line twice or torn; a long backlog goes in pieces, so what fits is kept when the disk has room
 * for some of it. Bodies never take the last JOURNAL_RESERVE_BYTES of the disk: those are kept for
 * the journal, whose counts (and the count of bodies shed) matter more than any one body.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, statfsSync, writeSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, statfs, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { parseEntry, sortEntries, type EventEntry } from '../shared/event-list.js'
import type { SliceMeter } from './meter.js'
import { MAX_LINE_BYTES } from './journal.js'

/** an append of a long backlog goes in pieces of about this much */
const PIECE_BYTES = 256 * 1024
/** free space event bodies leave to the journal: a couple of its longest lines (a few hundred events), and the shed counts */
const JOURNAL_RESERVE_BYTES = 2 * MAX_LINE_BYTES

export class EventFiles {
  #dir: string

  constructor(dir: string) {
    this.#dir = dir
  }

  get dir(): string {
    return this.#dir
  }

  file(id: string): string {
    return path.join(this.#dir, `${id}.jsonl`)
  }

  /** The events as stored, oldest first; torn lines are skipped, a line written twice counts once. */
  async read(id: string, meter?: SliceMeter): Promise<EventEntry[]> {
    return sortEntries(await this.readInFileOrder(id, meter))
  }

  /** `read`, in the order the events were appended. */
  async readInFileOrder(id: string, meter?: SliceMeter): Promise<EventEntry[]> {
    let text: string
    try {
      meter?.pause()
      text = await readFile(this.file(id), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    } finally {
      meter?.resume()
    }
    return parseLines(text)
  }

  /**
   * Appends entries, oldest first, in pieces. Returns how many were written: all of them, or on a
   * failure those before the piece that failed (which was cut back) along with the error.
   */
  async append(id: string, entries: EventEntry[]): Promise<{ written: number; error?: Error }> {
    let fh: FileHandle
    try {
      fh = await this.#open(id)
    } catch (err) {
      return { written: 0, error: err as Error }
    }
    let written = 0
    try {
      for (const piece of pieces(entries)) {
        let done = 0
        try {
          while (done < piece.bytes.length) {
            const { bytesWritten } = await fh.write(piece.bytes, done, piece.bytes.length - done)
            if (bytesWritten === 0) throw Object.assign(new Error('the disk took no more bytes'), { code: 'ENOSPC' })
            done += bytesWritten
          }
        } catch (err) {
          // the writer holds the lock: what the file grew by since the piece began is the piece's
          if (done > 0) await fh.stat().then(({ size }) => fh.truncate(size - done)).catch(() => {})
          return { written, error: err as Error }
        }
        written += piece.count
      }
      return { written }
    } finally {
      await fh.close().catch(() => {})
    }
  }

  /** `append`, synchronously, for a process that is exiting. */
  appendSync(id: string, entries: EventEntry[]): { written: number; error?: Error } {
    let fd: number
    try {
      mkdirSync(this.#dir, { recursive: true })
      fd = openSync(this.file(id), 'a')
    } catch (err) {
      return { written: 0, error: err as Error }
    }
    let written = 0
    try {
      for (const piece of pieces(entries)) {
        let done = 0
        try {
          while (done < piece.bytes.length) done += writeSync(fd, piece.bytes, done)
        } catch (err) {
          if (done > 0) try { ftruncateSync(fd, fstatSync(fd).size - done) } catch { /* a torn line is skipped when read */ }
          return { written, error: err as Error }
        }
        written += piece.count
      }
      return { written }
    } finally {
      closeSync(fd)
    }
  }

  /** Throws ENOSPC when `bytes` of events would leave the journal less than its reserve. */
  async ensureRoom(bytes: number): Promise<void> {
    leavesReserve(await statfs(this.#dir).catch(() => null), bytes)
  }

  /** `ensureRoom`, synchronously, for a process that is exiting. */
  ensureRoomSync(bytes: number): void {
    let space: FreeSpace = null
    try {
      space = statfsSync(this.#dir)
    } catch { /* unknown: go ahead */ }
    leavesReserve(space, bytes)
  }

  async #open(id: string): Promise<FileHandle> {
    try {
      return await open(this.file(id), 'a')
    } catch (err) {
      // the directory was removed under the store (or never made): make it again
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      await mkdir(this.#dir, { recursive: true })
      return await open(this.file(id), 'a')
    }
  }

  /** Replaces the file with these entries (none: removes it). */
  async rewrite(id: string, entries: EventEntry[], meter?: SliceMeter): Promise<void> {
    const text = entries.map((e) => `${e.json}\n`).join('')
    meter?.pause()
    try {
      if (entries.length === 0) return await this.remove(id)
      const file = this.file(id)
      const tmp = `${file}.tmp`
      try {
        await mkdir(this.#dir, { recursive: true })
        await writeFile(tmp, text)
        await rename(tmp, file)
      } catch (err) {
        await unlink(tmp).catch(() => {})
        throw err
      }
    } finally {
      meter?.resume()
    }
  }

  async remove(id: string): Promise<void> {
    await unlink(this.file(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** Moves the whole directory aside (when the document it belongs to was corrupt). */
  async moveAside(to: string): Promise<boolean> {
    try {
      await rename(this.#dir, to)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  /** `moveAside`, synchronously, for the crash path. */
  moveAsideSync(to: string): boolean {
    try {
      renameSync(this.#dir, to)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  async removeAll(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true })
  }
}

type FreeSpace = { bavail: number; bsize: number } | null

/** Throws ENOSPC when writing `bytes` would leave the journal less than its reserve (unknown space: goes ahead). */
function leavesReserve(space: FreeSpace, bytes: number): void {
  if (space === null) return
  const free = space.bavail * space.bsize
  if (free - bytes < JOURNAL_RESERVE_BYTES) {
    throw Object.assign(new Error(`ENOSPC: ${free} bytes free on the disk, and the last ${JOURNAL_RESERVE_BYTES} are kept for the journal`), { code: 'ENOSPC' })
  }
}

/** Events of a JSON Lines text in file order; torn lines skipped, repeats kept once. */
function parseLines(text: string): EventEntry[] {
  const entries: EventEntry[] = []
  const seen = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const entry = parseEntry(line)
    if (entry === null || seen.has(entry.id)) continue
    seen.add(entry.id)
    entries.push(entry)
  }
  return entries
}

/** Entries as JSON Lines, each after a newline, in pieces of about PIECE_BYTES (one entry at least). */
function* pieces(entries: EventEntry[]): Generator<{ bytes: Buffer; count: number }> {
  let parts: string[] = []
  let size = 0
  for (const entry of entries) {
    if (parts.length > 0 && size + entry.json.length > PIECE_BYTES) {
      yield { bytes: Buffer.from(parts.join('')), count: parts.length }
      parts = []
      size = 0
    }
    parts.push(`\n${entry.json}`)
    size += entry.json.length + 1
  }
  if (parts.length > 0) yield { bytes: Buffer.from(parts.join('')), count: parts.length }
}
