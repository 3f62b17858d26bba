/**
 * The journal of a file store (`errors.journal` beside `errors.json`): every change to the issues
 * (an event counted, a status changed, an alert claimed) as one line per committed batch, appended
 * under the write lock. Every process sharing the store reads it from where it last stopped and
 * applies what others wrote, so all of them hold the same issues with the same counts.
 *
 * A batch is one line, written in one append: a process killed mid-write leaves a line without its
 * newline, which no reader applies and the next writer cuts off. The first line names the
 * journal's generation; a checkpoint saves everything into the document, noting how far into the
 * journal that is, and starts the next generation, keeping the previous one (`errors.journal.<gen>`)
 * so that a process a little behind, or one opening from that document, reads the rest of it.
 *
 * The I/O is synchronous and bounded (at most READ_CHUNK bytes a call, batches of at most
 * MAX_LINE_BYTES): the crash path needs it, and callers that can wait yield between chunks.
 */
import { closeSync, fstatSync, ftruncateSync, linkSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'

export interface JournalPosition {
  gen: number
  /** bytes of the file read so far; 0 before its header */
  offset: number
}

export type JournalRead =
  /** complete lines from the position; `more` when a further read would return more now */
  | { kind: 'lines'; lines: string[]; next: JournalPosition; more: boolean; tornAt: number | null }
  /** there is no journal yet */
  | { kind: 'missing' }
  /** the journal is of an older generation than the position: the document saved it all already */
  | { kind: 'behind' }
  /** the position's generation is gone (two checkpoints passed): read the document again */
  | { kind: 'lost' }

/** one read takes at most this much: a journal of many megabytes is read (and applied) in slices */
export const READ_CHUNK = 1 << 20
/**
 * a batch larger than this is written as several lines (each one atomic). Small enough that a line
 * always fits in the space event bodies leave to the journal (event-files.ts), so on a nearly full
 * disk a backlog is counted line by line instead of waiting for room for all of it at once
 */
export const MAX_LINE_BYTES = 32 * 1024
const HEADER_MAX = 256
/** the start of a line left this long is a killed writer's, not one being written */
const TORN_AFTER_MS = 1000

/** The journal file is there but is not one (damaged by hand or by the disk). */
export class JournalHeaderError extends Error {
  override name = 'JournalHeaderError'
}

export function journalHeader(gen: number): string {
  return `${JSON.stringify({ faultline: 'journal', version: 1, gen })}\n`
}

export class Journal {
  readonly file: string

  constructor(file: string) {
    this.file = file
  }

  sealed(gen: number): string {
    return `${this.file}.${gen}`
  }

  /** Complete lines from `from`: of its generation's file while it exists, then of the next. */
  read(from: JournalPosition): JournalRead {
    const fd = openIfThere(this.file, 'r')
    if (fd === null) return { kind: 'missing' }
    let current: { gen: number; end: number; size: number }
    try {
      // read every time: a checkpoint replaces the file, and a new file may take an old one's inode
      const header = headerEnd(fd)
      if (header === null) throw new JournalHeaderError(`${this.file} does not start with a journal header`)
      current = { ...header, size: fstatSync(fd).size }
      if (current.gen === from.gen) return readLines(fd, from, current.end, current.size, false)
    } finally {
      closeSync(fd)
    }
    if (current.gen < from.gen) return { kind: 'behind' }
    if (current.gen > from.gen + 1) return { kind: 'lost' }
    // the previous generation, sealed by a checkpoint: its rest, then on to the current one
    const sealed = openIfThere(this.sealed(from.gen), 'r')
    if (sealed === null) return { kind: 'lost' }
    try {
      const size = fstatSync(sealed).size
      const header = headerEnd(sealed)
      if (header === null) return { kind: 'lost' }
      return readLines(sealed, from, header.end, size, true)
    } finally {
      closeSync(sealed)
    }
  }

  /** The generation of the journal there now, or null when there is none (or it is not one). */
  currentGen(): number | null {
    const fd = openIfThere(this.file, 'r')
    if (fd === null) return null
    try {
      return headerEnd(fd)?.gen ?? null
    } finally {
      closeSync(fd)
    }
  }

  /** The journal's size, or 0 when there is none. */
  size(): number {
    const fd = openIfThere(this.file, 'r')
    if (fd === null) return 0
    try {
      return fstatSync(fd).size
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Appends `text` (whole lines) at `at`, where the writer read up to. What may follow it:
   * - whole lines another writer appended since (the lock was deleted by hand): EBEHIND, so the
   *   writer catches up and tries again, never writing over them;
   * - the start of a line a writer left when it was killed, not touched for TORN_AFTER_MS: cut off;
   *   one touched more recently may still be being written: EBEHIND too.
   * A journal of another generation (a writer that lost its place) is left alone: ECHANGED. A failed
   * write (a full disk) is cut back, so a retry never leaves a line twice or torn. Returns the new end.
   */
  append(text: string, at: JournalPosition): number {
    const end = at.offset
    const fd = openSync(this.file, 'a+')
    try {
      const { size, mtimeMs } = fstatSync(fd)
      const header = headerEnd(fd)
      if (header?.gen !== at.gen || size < end || end < header.end) {
        throw Object.assign(new Error(`the journal ${this.file} is not where this process read up to (generation ${header?.gen ?? '?'} of ${size} bytes, not ${at.gen} at ${end})`), { code: 'ECHANGED' })
      }
      if (size > end) {
        const tail = Buffer.alloc(Math.min(size - end, READ_CHUNK))
        readSync(fd, tail, 0, tail.length, end)
        if (tail.includes(10) || Date.now() - mtimeMs < TORN_AFTER_MS) {
          throw Object.assign(new Error(`the journal ${this.file} has lines this process has not read yet`), { code: 'EBEHIND' })
        }
        ftruncateSync(fd, end)
      }
      const bytes = Buffer.from(text)
      try {
        writeFully(fd, bytes)
      } catch (err) {
        try { ftruncateSync(fd, end) } catch { /* the next writer cuts it as torn */ }
        throw err
      }
      return end + bytes.length
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Starts generation `gen`, replacing the journal atomically. With `seal`, the journal it
   * replaces is kept as `errors.journal.<its gen>` (and the one before that removed), for readers
   * that have not finished it yet.
   */
  start(gen: number, seal: number | null): number {
    const tmp = `${this.file}.tmp.${process.pid}`
    const header = journalHeader(gen)
    const fd = openSync(tmp, 'w')
    try {
      writeFully(fd, Buffer.from(header))
    } catch (err) {
      closeSync(fd)
      removeIfThere(tmp)
      throw err
    }
    closeSync(fd)
    if (seal !== null) {
      removeIfThere(this.sealed(seal - 1))
      removeIfThere(this.sealed(seal))
      try {
        linkSync(this.file, this.sealed(seal))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          removeIfThere(tmp)
          throw err
        }
      }
    }
    renameSync(tmp, this.file)
    return Buffer.byteLength(header)
  }
}

/** The generation and the end of the header line, or null when the file does not start with one. */
function headerEnd(fd: number): { gen: number; end: number } | null {
  const buf = Buffer.alloc(HEADER_MAX)
  const n = readSync(fd, buf, 0, HEADER_MAX, 0)
  const nl = buf.subarray(0, n).indexOf(10)
  if (nl < 0) return null
  try {
    const header = JSON.parse(buf.toString('utf8', 0, nl)) as { faultline?: unknown; gen?: unknown }
    if (header.faultline !== 'journal' || !Number.isInteger(header.gen)) return null
    return { gen: header.gen as number, end: nl + 1 }
  } catch {
    return null
  }
}

function readLines(fd: number, from: JournalPosition, headerEnd: number, size: number, sealed: boolean): JournalRead {
  const start = Math.max(from.offset, headerEnd)
  const length = Math.min(size - start, READ_CHUNK)
  const buf = Buffer.alloc(Math.max(0, length))
  let got = 0
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, start + got)
    if (n === 0) break
    got += n
  }
  const lastNewline = buf.subarray(0, got).lastIndexOf(10)
  const lines: string[] = []
  let at = 0
  while (at <= lastNewline) {
    const nl = buf.indexOf(10, at)
    if (nl > at) lines.push(buf.toString('utf8', at, nl))
    at = nl + 1
  }
  const offset = start + lastNewline + 1
  const more = offset < size && (lastNewline >= 0 && got === READ_CHUNK)
  if (sealed && !more) {
    // a sealed generation ends where it was sealed: go on with the next one
    return { kind: 'lines', lines, next: { gen: from.gen + 1, offset: 0 }, more: true, tornAt: null }
  }
  // no newline in a whole chunk is not a line but garbage; it is cut off like a torn one
  const tornAt = offset < size && !more ? offset : null
  return { kind: 'lines', lines, next: { gen: from.gen, offset }, more, tornAt }
}

function writeFully(fd: number, bytes: Buffer): void {
  let done = 0
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done)
    if (n === 0) throw Object.assign(new Error('the disk took no more bytes'), { code: 'ENOSPC' })
    done += n
  }
}

function openIfThere(file: string, flags: string): number | null {
  try {
    return openSync(file, flags)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

export function removeIfThere(file: string): void {
  try {
    unlinkSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
