/**
 * One process per store file. The lock is a file beside the store holding the owner's pid and
 * host. On the owner's host a lock whose process is gone (it crashed, or was restarted) is taken
 * over at once: its pid says so. A pid means nothing on another host, and two containers sharing a
 * volume are two hosts, so there the owner vouches for itself instead: it rewrites its lock every
 * `heartbeatMs`, and a lock from another host is taken over only once it has gone `staleMs` without
 * that (its owner died without releasing it, e.g. a container replaced after a crash, which comes
 * back under a new hostname). A lock from another host refreshed more recently is refused like a
 * live local pid.
 *
 * Ages are measured on the file system's clock, never across two machines' clocks: the refresh is a
 * write, whose mtime the file system (the NFS server, or the kernel of a local volume) sets, and
 * "now" is the mtime of a file the newcomer has just written beside it. So a host whose clock is
 * minutes off neither takes a live lock nor waits for ever on a dead one.
 *
 * Taking the lock is synchronous so that `fileStore()` can fail at startup, not on the first error;
 * the heartbeat is asynchronous, off the event loop, on an unref'd timer.
 */
import { closeSync, fstatSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import os from 'node:os'

/**
 * The owner refreshes its lock every 5 s, and a lock from another host is taken over after 30 s
 * without a refresh: a live owner keeps its store unless it misses five refreshes in a row (its
 * event loop or thread pool stuck for 25 s, or its machine paused), while a replacement for an
 * owner that died without releasing waits 30 s at most. A refresh is one small read and write off
 * the event loop. Tests shorten both.
 */
export const lockTiming = { heartbeatMs: 5_000, staleMs: 30_000 }

/** locks held by this process, so that a second store on the same file here is refused too */
const held = new Map<string, Heartbeat>()

interface Holder {
  pid: number
  hostname: string
  since: string
}

/** A lock file as read: its content and when it was last written, both from one open file. */
interface Seen {
  raw: string
  mtimeMs: number
}

export interface LockReports {
  /** one-off notices: a lock taken over, made again, or lost to another process */
  warn: (err: Error) => void
  /** a refresh that failed; may come every heartbeat while the disk fails, so the store limits it */
  failure: (err: Error) => void
}

/** Takes the lock at `lockPath` or throws an Error saying who holds it and what to do. */
export function acquireLock(storePath: string, lockPath: string, reports: LockReports): void {
  if (held.has(lockPath)) {
    throw new Error(`faultline: the file store ${storePath} is already open in this process. Share one store (tracker.store) or close() the first one before opening it again.`)
  }
  const host = os.hostname()
  const mine = JSON.stringify({ pid: process.pid, hostname: host, since: new Date().toISOString() } satisfies Holder)
  for (let attempt = 0; attempt < 3; attempt++) {
    const made = createWithContent(lockPath, mine)
    if (made.created) {
      held.set(lockPath, new Heartbeat(storePath, lockPath, mine, reports))
      return
    }
    const seen = observe(lockPath)
    if (seen === null) continue
    const holder = parseHolder(seen.raw)
    let takingOver: Error | null = null
    if (holder !== null && holder.hostname === host) {
      if (isAlive(holder.pid)) {
        throw new Error(
          `faultline: the file store ${storePath} is in use by process ${holder.pid} (since ${holder.since}). ` +
            'The file store serves one process; for several processes or machines use the postgres store ' +
            "(postgresStore({ connectionString }) from 'faultline/adapters/postgres'), or give each process its own path. " +
            `If process ${holder.pid} is not a faultline app, delete ${lockPath}.`,
        )
      }
    } else if (holder !== null) {
      // a clock step, or a coarse mtime, can put the lock a little in the future: that is fresh
      const age = Math.max(0, made.now - seen.mtimeMs)
      if (age < lockTiming.staleMs) {
        throw new Error(
          `faultline: the file store ${storePath} is in use by process ${holder.pid} on host ${holder.hostname} ` +
            `(since ${holder.since}; it refreshed its lock ${seconds(age)} ago). ` +
            'The file store serves one process; for several processes or machines use the postgres store ' +
            "(postgresStore({ connectionString }) from 'faultline/adapters/postgres'), or give each process its own path. " +
            `If host ${holder.hostname} is gone (a replaced container, a machine switched off), its lock is taken over once it has gone ` +
            `${seconds(lockTiming.staleMs)} without a refresh: start again then, or delete ${lockPath} now.`,
        )
      }
      takingOver = new Error(`faultline: took over the lock ${lockPath} of process ${holder.pid} on host ${holder.hostname}, not refreshed for ${seconds(age)}. ` +
        `If that process still runs, two processes write to ${storePath}: stop one, or use the postgres store.`)
    }
    // stale: take it over, unless someone else replaced or refreshed it since we read it
    if (takeAway(lockPath, seen) && takingOver !== null) reports.warn(takingOver)
  }
  throw new Error(`faultline: could not take the lock ${lockPath}; another process keeps replacing it. Use the postgres store for several processes.`)
}

/** Removes the lock if this process holds it, and stops refreshing it; synchronous, for the exit path. */
export function releaseLock(lockPath: string): void {
  const lock = held.get(lockPath)
  if (lock === undefined) return
  held.delete(lockPath)
  lock.stop()
  // another process may have taken it over meanwhile (see Heartbeat): that lock is theirs
  if (readText(lockPath) === lock.mine) removeFile(lockPath)
}

/**
 * Keeps a held lock fresh by writing its own bytes over it again: the content never changes, so a
 * reader never sees it half written, and the write sets the mtime that others judge it by. Through
 * an open file, so a refresh racing a takeover (which renames the lock) writes to the file moved
 * aside, never to the new owner's.
 */
class Heartbeat {
  readonly mine: string
  #bytes: Buffer
  #storePath: string
  #lockPath: string
  #reports: LockReports
  #timer: NodeJS.Timeout | null = null
  #stopped = false
  #failing = false

  constructor(storePath: string, lockPath: string, mine: string, reports: LockReports) {
    this.mine = mine
    this.#bytes = Buffer.from(mine)
    this.#storePath = storePath
    this.#lockPath = lockPath
    this.#reports = reports
    this.#schedule()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** The next refresh is timed from the end of this one, so a slow disk never stacks them up. */
  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#beat()
    }, lockTiming.heartbeatMs)
    // the lock must not keep the app alive; the exit hook releases it
    this.#timer.unref()
  }

  async #beat(): Promise<void> {
    try {
      const fine = await this.#refresh()
      if (!fine) return // lost to another process: nothing of ours left to refresh
      if (this.#failing && !this.#stopped) {
        this.#failing = false
        this.#reports.warn(new Error(`faultline: the lock ${this.#lockPath} is refreshed again`))
      }
    } catch (err) {
      if (!this.#stopped) {
        this.#failing = true
        const code = (err as NodeJS.ErrnoException).code ?? 'error'
        this.#reports.failure(new Error(`faultline: could not refresh the lock ${this.#lockPath} (${code}: ${(err as Error).message}). ` +
          `If this lasts ${seconds(lockTiming.staleMs)}, a process on another host may take over ${this.#storePath}.`, { cause: err }))
      }
    }
    this.#schedule()
  }

  /** False when the lock is another process's now. */
  async #refresh(): Promise<boolean> {
    let file
    try {
      file = await open(this.#lockPath, 'r+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      return this.#makeAgain()
    }
    try {
      const raw = await file.readFile({ encoding: 'utf8' })
      if (this.#stopped) return true
      if (raw !== this.mine) {
        this.#lost(raw)
        return false
      }
      await file.write(this.#bytes, 0, this.#bytes.length, 0)
      return true
    } finally {
      await file.close()
    }
  }

  /** The lock file was deleted under a running store (by hand, or a cleanup): without it a second process would be let in. */
  #makeAgain(): boolean {
    // synchronous from here: a release between the check and the link would be undone otherwise
    if (this.#stopped) return true
    if (createWithContent(this.#lockPath, this.mine).created) {
      this.#reports.warn(new Error(`faultline: the lock ${this.#lockPath} was deleted while ${this.#storePath} was open; made it again. ` +
        'Leave it while the app runs: it keeps a second process from writing the same store.'))
      return true
    }
    this.#lost(observe(this.#lockPath)?.raw ?? '')
    return false
  }

  #lost(raw: string): void {
    this.stop()
    const holder = parseHolder(raw)
    const who = holder === null ? 'it was overwritten with something else' : `process ${holder.pid} on host ${holder.hostname} holds it now`
    this.#reports.warn(new Error(`faultline: this process no longer holds the lock ${this.#lockPath}: ${who}. ` +
      `Two processes may now write to ${this.#storePath}; stop one of them, or use the postgres store for several processes or machines.`))
  }
}

/**
 * Creates `file` holding `content`, atomically: another process never sees it empty (and judges it
 * stale). When the file exists already, `now` is the file system's time (see the top of this file).
 */
function createWithContent(file: string, content: string): { created: true } | { created: false; now: number } {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(tmp, content)
  try {
    linkSync(tmp, file)
    return { created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { created: false, now: statSync(tmp).mtimeMs }
    throw err
  } finally {
    removeFile(tmp)
  }
}

/**
 * Removes a stale lock as it was `seen`. Moving it aside is atomic, so of several processes taking
 * it over at once one moves it; if what was moved is no longer the stale lock (another process took
 * over first, or its owner refreshed it after all), it is put back. True when it was removed.
 */
function takeAway(file: string, seen: Seen): boolean {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    renameSync(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  const moved = observe(aside)
  const taken = moved !== null && moved.raw === seen.raw && moved.mtimeMs === seen.mtimeMs
  if (!taken) {
    try {
      linkSync(aside, file)
    } catch {
      // someone holds the name again; theirs stands
    }
  }
  removeFile(aside)
  return taken
}

/** Reads a lock and its mtime through one open file (which also makes NFS fetch fresh attributes); null if there is none. */
function observe(file: string): Seen | null {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    return { raw: readFileSync(fd, 'utf8'), mtimeMs: fstatSync(fd).mtimeMs }
  } finally {
    closeSync(fd)
  }
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

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
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
