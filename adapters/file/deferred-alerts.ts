/**
 * Alerts a crash could not send, kept beside the store (`errors.deferred-alerts.json`) until the
 * next start takes them. Written synchronously, as the crash path runs no more callbacks.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { readFile, unlink } from 'node:fs/promises'
import type { DeferredAlert } from '../../lib/types.js'

/** A crash loop must not grow the file without bound: the newest are kept. */
const MAX_DEFERRED = 20

export class DeferredAlerts {
  #file: string

  constructor(file: string) {
    this.#file = file
  }

  addSync(alert: DeferredAlert): void {
    const list = [...parse(readIfThere(this.#file)), alert].slice(-MAX_DEFERRED)
    const tmp = `${this.#file}.tmp`
    writeFileSync(tmp, JSON.stringify(list))
    renameSync(tmp, this.#file)
  }

  /** Reads and removes the file; an unreadable file is removed too, and yields nothing. */
  async take(): Promise<DeferredAlert[]> {
    let text: string
    try {
      text = await readFile(this.#file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    await unlink(this.#file)
    return parse(text)
  }
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return '[]'
  }
}

function parse(text: string): DeferredAlert[] {
  try {
    const list = JSON.parse(text)
    return Array.isArray(list) ? list.filter((a) => a && typeof a === 'object' && a.result?.issue && a.event) : []
  } catch {
    return []
  }
}
