/**
 * One process per store file. The lock is a file beside the store holding the owner's pid and
 * host; a lock whose process is gone (it crashed, or the container restarted) is taken over.
 * Everything here is synchronous so that `fileStore()` can fail at startup, not on the first error.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import os from 'node:os'

/** locks held by this process, so that a second store on the same file here is refused too */
const held = new Set<string>()

interface Holder {
  pid: number
  hostname: string
  since: string
}

/** Takes the lock at `lockPath` or throws an Error saying who holds it and what to do. */
export function acquireLock(storePath: string, lockPath: string, warn: (err: Error) => void): void {
  if (held.has(lockPath)) {
    throw new Error(`faultline: the file store ${storePath} is already open in this process. Share one store (tracker.store) or close() the first one before opening it again.`)
  }
  const mine = JSON.stringify({ pid: process.pid, hostname: os.hostname(), since: new Date().toISOString() } satisfies Holder)
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createWithContent(lockPath, mine)) {
      held.add(lockPath)
      return
    }
    const raw = readText(lockPath)
    if (raw === null) continue
    const holder = parseHolder(raw)
    if (holder !== null && holder.hostname === os.hostname() && isAlive(holder.pid)) {
      throw new Error(
        `faultline: the file store ${storePath} is in use by process ${holder.pid} (since ${holder.since}). ` +
          'The file store serves one process; for several processes or machines use the postgres store ' +
          "(postgresStore({ connectionString }) from 'faultline/adapters/postgres'), or give each process its own path. " +
          `If process ${holder.pid} is not a faultline app, delete ${lockPath}.`,
      )
    }
    if (holder !== null && holder.hostname !== os.hostname()) {
      warn(new Error(`faultline: took over the lock ${lockPath} left by process ${holder.pid} on host ${holder.hostname}. If another machine really writes to ${storePath}, use the postgres store instead.`))
    }
    // stale: take it over, unless someone else replaced it since we read it
    takeAway(lockPath, raw)
  }
  throw new Error(`faultline: could not take the lock ${lockPath}; another process keeps replacing it. Use the postgres store for several processes.`)
}

/**
 * Creates `file` holding `content`, atomically: another process never sees it empty (and judges it
 * stale). False when the file exists already.
 */
function createWithContent(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(tmp, content)
  try {
    linkSync(tmp, file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    removeFile(tmp)
  }
}

/**
 * Removes a stale lock whose content was `stale`. Moving it aside is atomic, so of several processes
 * taking it over at once one moves it; if what was moved is no longer the stale lock (another
 * process took over first), it is put back.
 */
function takeAway(file: string, stale: string): void {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    renameSync(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (readText(aside) !== stale) {
    try {
      linkSync(aside, file)
    } catch {
      // someone holds the name again; theirs stands
    }
  }
  removeFile(aside)
}

/** Removes the lock if this process holds it. */
export function releaseLock(lockPath: string): void {
  if (!held.delete(lockPath)) return
  const holder = parseHolder(readText(lockPath) ?? '')
  if (holder !== null && holder.pid === process.pid && holder.hostname === os.hostname()) removeFile(lockPath)
}

function isAlive(pid: number): boolean {
  // our own pid in a lock we do not hold is a previous run's (containers reuse pid 1)
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseHolder(raw: string): Holder | null {
  try {
    const holder = JSON.parse(raw) as Holder
    return Number.isInteger(holder?.pid) && holder.pid > 0 && typeof holder.hostname === 'string' ? holder : null
  } catch {
    return null
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

function removeFile(file: string): void {
  try {
    unlinkSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
