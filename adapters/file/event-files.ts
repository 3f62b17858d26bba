/**
 * Events of the file store: one JSON Lines file per issue, appended to, so recording an event
 * costs the same however big the store is. A file is rewritten (temp file and rename) only to
 * drop old events, which keeps it between maxEventsPerIssue and twice that.
 */
import { appendFileSync, mkdirSync, renameSync } from 'node:fs'
import { appendFile, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseEntry, sortEntries, type EventEntry } from '../shared/event-list.js'
import type { SliceMeter } from './meter.js'

export class EventFiles {
  #dir: string
  #madeDir = false

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
    for (const line of text.split('\n')) {
      if (line === '') continue
      const entry = parseEntry(line)
      if (entry !== null) entries.push(entry)
    }
    return sortEntries(entries)
  }

  async #ensureDir(): Promise<void> {
    if (this.#madeDir) return
    await mkdir(this.#dir, { recursive: true })
    this.#madeDir = true
  }

  async append(id: string, entries: EventEntry[], meter?: SliceMeter): Promise<void> {
    const text = lines(entries)
    meter?.pause()
    try {
      await this.#ensureDir()
      await appendFile(this.#file(id), text)
    } finally {
      meter?.resume()
    }
  }

  appendSync(id: string, entries: EventEntry[]): void {
    mkdirSync(this.#dir, { recursive: true })
    appendFileSync(this.#file(id), lines(entries))
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
      await writeFile(tmp, text)
      await rename(tmp, file)
    } finally {
      meter?.resume()
    }
  }

  async remove(id: string): Promise<void> {
    await unlink(this.#file(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** Moves the whole directory aside (when the document it belongs to was corrupt). */
  async moveAside(to: string): Promise<boolean> {
    try {
      await rename(this.#dir, to)
      this.#madeDir = false
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

/**
 * Each event line starts with a newline rather than ending with one: a line torn by a crash
 * mid-append then stays on its own (and is skipped on reading) instead of swallowing the next.
 */
function lines(entries: EventEntry[]): string {
  return entries.map((e) => `\n${e.json}`).join('')
}
