/**
 * The write lock of a file store: a file beside it (`errors.json.lock`) that a process holds for
 * the few milliseconds it takes to append a batch to the journal and its events to their files.
 * Any number of processes share the store this way, one writing at a time. Taking it is a single
 * exclusive create, so processes never wait at startup, only briefly before a write.
 *
 * The file names its holder: pid, host, boot and pid namespace. A holder on this machine (same
 * host, boot and pid namespace) whose process is gone (killed mid-write) loses the lock at once.
 * A pid means nothing in another container on a shared volume, so there the holder vouches for
 * itself instead: while it holds the lock longer than a moment (a checkpoint of a big store) it
 * refreshes the file's mtime every second, and a lock unrefreshed for `staleMs` is taken over.
 * Network file systems are refused (see file-system.ts), so every holder shares this kernel's clock.
 */
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import os from 'node:os'

/**
 * A holder refreshes its lock every second while it holds it; one from another container
 * unrefreshed for 5 s is taken over (a writer that died there stalls the others that long at most).
 * A live process here is waited for up to a minute: only a stuck one, or a reused pid, holds that
 * long. Waiters poll from 1 ms up to every 20 ms. Tests shorten these.
 */
export const lockTiming = { refreshMs: 1_000, staleMs: 5_000, liveStaleMs: 60_000, maxPollMs: 20 }

export interface LockReports {
  /** one-off notices: a lock taken over from another host, or lost to another process */
  warn: (err: Error) => void
}

interface Holder {
  pid: number
  hostname: string
  /** the kernel's boot id and the pid namespace: a pid is only meaningful where both match */
  boot: string
  ns: string
  /** which store instance holds it: one process may open a store twice */
  token: string
}

/** A lock file as read: its content and when it was last written. */
interface Seen {
  raw: string
  mtimeMs: number
}

/** tokens of the locks held by store instances of this process */
const liveTokens = new Set<string>()

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim()
  } catch {
    return fallback
  }
}

/** This machine as a pid sees it; read once (tests may change os.hostname before the first lock). */
let machine: { boot: string; ns: string } | null = null
function thisMachine(): { hostname: string; boot: string; ns: string } {
  machine ??= {
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), ''),
    ns: readOr(() => readlinkSync('/proc/self/ns/pid'), ''),
  }
  return { hostname: os.hostname(), ...machine }
}

export class WriteLock {
  readonly path: string
  #token = randomBytes(8).toString('hex')
  #mine: string | null = null
  #reports: LockReports
  #refresh: NodeJS.Timeout | null = null

  constructor(lockPath: string, reports: LockReports) {
    this.path = lockPath
    this.#reports = reports
    liveTokens.add(this.#token)
  }

  get held(): boolean {
    return this.#mine !== null
  }

  /** Waits for the lock; polls, as no portable file lock wakes a waiter. */
  async acquire(): Promise<void> {
    let wait = 1
    while (!this.tryAcquire()) {
      await new Promise((resolve) => setTimeout(resolve, wait))
      wait = Math.min(wait * 2, lockTiming.maxPollMs)
    }
  }

  /** Waits for the lock synchronously, for at most `timeoutMs` (the crash path); false if it stayed taken. */
  acquireSync(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs
    const sleeper = new Int32Array(new SharedArrayBuffer(4))
    let wait = 1
    while (!this.tryAcquire()) {
      if (Date.now() >= deadline) return false
      Atomics.wait(sleeper, 0, 0, wait)
      wait = Math.min(wait * 2, lockTiming.maxPollMs)
    }
    return true
  }

  /** Takes the lock if it is free, or held by a process that is gone; never waits. */
  tryAcquire(): boolean {
    if (this.#mine !== null) throw new Error(`faultline: the lock ${this.path} is already held by this store`)
    const mine = JSON.stringify({ pid: process.pid, ...thisMachine(), token: this.#token } satisfies Holder)
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(this.path, mine)) {
        this.#held(mine)
        return true
      }
      const seen = observe(this.path)
      if (seen === null) continue
      const stale = this.#staleness(seen)
      if (stale === null) return false
      if (takeAway(this.path, seen) && stale !== '') this.#reports.warn(new Error(stale))
    }
    return false
  }

  /** Frees the lock if this store still holds it. */
  release(): void {
    const mine = this.#mine
    if (mine === null) return
    this.#mine = null
    if (this.#refresh !== null) clearInterval(this.#refresh)
    this.#refresh = null
    try {
      if (observe(this.path)?.raw === mine) unlinkSync(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  /** The store is closed for good: its token no longer vouches for a lock with this pid. */
  retire(): void {
    this.release()
    liveTokens.delete(this.#token)
  }

  #held(mine: string): void {
    this.#mine = mine
    // a long hold (a checkpoint of a big store) must not look abandoned to another container
    this.#refresh = setInterval(() => {
      const now = new Date()
      utimes(this.path, now, now).catch(() => {})
    }, lockTiming.refreshMs)
    this.#refresh.unref()
  }

  /**
   * Null while the holder may still be writing; else why its lock may be taken: '' for a holder on
   * this machine that is gone (usual after a crash), or a notice for one from elsewhere gone quiet.
   */
  #staleness(seen: Seen): string | null {
    const holder = parseHolder(seen.raw)
    const here = thisMachine()
    let patience = lockTiming.staleMs
    if (holder !== null && holder.hostname === here.hostname && holder.boot === here.boot && holder.ns === here.ns) {
      if (!isAlive(holder)) return ''
      patience = lockTiming.liveStaleMs
    }
    // a lock being written has no content yet; a holder elsewhere vouches for itself by refreshing
    const age = Math.max(0, Date.now() - seen.mtimeMs)
    if (age < patience) return null
    const who = holder === null ? 'an unreadable lock' : `the lock of process ${holder.pid} on host ${holder.hostname}`
    return `faultline: took over ${who} (${this.path}), not refreshed for ${(age / 1000).toFixed(1)} s. ` +
      'If that process still runs, it was stalled for that long; the store stays consistent, but it should not happen again.'
  }
}

function isAlive(holder: Holder): boolean {
  if (holder.pid === process.pid) return liveTokens.has(holder.token)
  try {
    process.kill(holder.pid, 0)
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

/** Creates `file` with `content` unless it exists; a reader may briefly see it empty (and judges it by age). */
function createExclusive(file: string, content: string): boolean {
  let fd: number
  try {
    fd = openSync(file, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, content)
  } finally {
    closeSync(fd)
  }
  return true
}

/**
 * Removes a stale lock as it was `seen`. Moving it aside is atomic, so of several processes taking
 * it over at once one moves it; if what was moved is no longer the stale lock (another process took
 * over first), it is put back. True when it was removed.
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
  try { unlinkSync(aside) } catch { /* gone already */ }
  return taken
}

/** Reads a lock and its mtime through one open file; null if there is none. */
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
