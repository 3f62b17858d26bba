/**
 * Events of the file store: one JSON Lines file per issue, appended to, so recording an event
 * costs the same however big the store is. A file is rewritten (temp file and rename) only to
 * drop old events, which keeps it between maxEventsPerIssue and twice that.
 */
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync } from 'node:fs'
import { appendFile, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseEntry, sortEntries, type EventEntry } from '../shared/event-list.js'
import type { SliceMeter } from './meter.js'

export class EventFiles {
  #dir: string
  #madeDir = false
  /** files known to end with a whole line: written by this process since it checked them */
  #whole = new Set<string>()

  constructor(dir: string) {
    this.#dir = dir
  }

  get dir(): string {
    return this.#dir
  }

  #file(id: string): string {
    return path.join(this.#dir, `${id}.jsonl`)
  }

  /** The events as stored, oldest first; lines torn by a crash are skipped. */
  async read(id: string, meter?: SliceMeter): Promise<EventEntry[]> {
    let text: string
    try {
      meter?.pause()
      text = await readFile(this.#file(id), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    } finally {
      meter?.resume()
    }
    const entries: EventEntry[] = []
    // an append retried after it failed part-way (a full disk) may have left some lines twice
    const seen = new Set<string>()
    for (const line of text.split('\n')) {
      if (line === '') continue
      const entry = parseEntry(line)
      if (entry === null || seen.has(entry.id)) continue
      seen.add(entry.id)
      entries.push(entry)
    }
    return sortEntries(entries)
  }

  async #ensureDir(): Promise<void> {
    if (this.#madeDir) return
    await mkdir(this.#dir, { recursive: true })
    this.#madeDir = true
  }

  async append(id: string, entries: EventEntry[], meter?: SliceMeter): Promise<void> {
    meter?.pause()
    try {
      await this.#ensureDir()
      const file = this.#file(id)
      // (a one-byte read, once per file and process: not worth a second, asynchronous copy)
      const text = (this.#whole.has(id) ? '' : endsTorn(file)) + lines(entries)
      await appendFile(file, text)
      this.#whole.add(id)
    } catch (err) {
      // a failed append may have left a torn line; the directory may have been removed under us
      this.#whole.delete(id)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.#madeDir = false
      throw err
    } finally {
      meter?.resume()
    }
  }

  appendSync(id: string, entries: EventEntry[]): void {
    mkdirSync(this.#dir, { recursive: true })
    const file = this.#file(id)
    appendFileSync(file, (this.#whole.has(id) ? '' : endsTorn(file)) + lines(entries))
    this.#whole.add(id)
  }

  /** Replaces the file with these entries (none: removes it). */
  async rewrite(id: string, entries: EventEntry[], meter?: SliceMeter): Promise<void> {
    const text = lines(entries)
    meter?.pause()
    try {
      if (entries.length === 0) return await this.remove(id)
      const file = this.#file(id)
      const tmp = `${file}.tmp`
      await this.#ensureDir()
      try {
        await writeFile(tmp, text)
        await rename(tmp, file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.#madeDir = false
        await unlink(tmp).catch(() => {})
        throw err
      }
      this.#whole.add(id)
    } finally {
      meter?.resume()
    }
  }

  async remove(id: string): Promise<void> {
    this.#whole.delete(id)
    await unlink(this.#file(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** Moves the whole directory aside (when the document it belongs to was corrupt). */
  async moveAside(to: string): Promise<boolean> {
    try {
      await rename(this.#dir, to)
      this.#madeDir = false
      this.#whole.clear()
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
      this.#madeDir = false
      this.#whole.clear()
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  async removeAll(): Promise<void> {
    this.#whole.clear()
    await rm(this.#dir, { recursive: true, force: true })
  }
}

/** JSON Lines: one event a line, each ending with a newline. */
function lines(entries: EventEntry[]): string {
  return entries.map((e) => `${e.json}\n`).join('')
}

/**
 * What to write before appending to a file: a newline when its last line is torn (a crash cut a
 * write short, or an older layout), so that line stays on its own and the next one is whole.
 */
function endsTorn(file: string): string {
  let fd
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
  try {
    const { size } = fstatSync(fd)
    if (size === 0) return ''
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, size - 1)
    return byte[0] === 0x0a ? '' : '\n'
  } finally {
    closeSync(fd)
  }
}
