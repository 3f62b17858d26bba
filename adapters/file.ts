/**
 * The file store, faultline's embedded default (`.faultline/errors.json`). Issues, counters and
 * alert claims live in memory (the same IssueIndex as the memory store) and are saved with
 * lowdb as one JSON document; events go to one JSON Lines file per issue beside it
 * (`.faultline/errors.events/<issue id>.jsonl`), appended to, so recording costs the same in
 * a small store and a big one.
 *
 * Writes are coalesced (everything recorded within `writeDelayMs` goes in one write), atomic
 * (temp file and rename) and sliced so that none keeps the event loop busy for long.
 * `flushSync()` is for the crash path. One process owns a store file: a lock file beside it
 * says which (refreshed while the store is open, see file/lock.ts), and a second process gets an
 * error pointing to the postgres store.
 */
import { mkdirSync, renameSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import path from 'node:path'
import { Low } from 'lowdb'
import type { DeferredAlert, EventPage, FaultlineEvent, Issue, IssuePage, IssueUpdate, ListIssuesOptions, MaintainOptions, MaintainResult, RecordInput, RecordResult, Retention, StatusCounts, Store, TagBreakdown, HistogramOptions } from '../lib/types.js'
import { checkRecordInput, IssueIndex } from './shared/issue-index.js'
import { checkRetention, DEFAULT_RETENTION, isIssueId, maintainArguments } from './shared/arguments.js'
import { findEntry, mergeEntries, neighborsOf, pageEntries, prunable, toEntry, type EventEntry } from './shared/event-list.js'
import { CorruptDocumentError, IndexDocument } from './file/document.js'
import { SliceMeter, type WriteStats } from './file/meter.js'
import { DeferredAlerts } from './file/deferred-alerts.js'
import { EventFiles } from './file/event-files.js'
import { acquireLock, releaseLock } from './file/lock.js'
import { limitReports, type Report } from '../lib/report-limiter.js'

export interface FileStoreOptions {
  /** the JSON document, e.g. '.faultline/errors.json' (relative to the working directory) */
  path: string
  /** what is kept between maintain sweeps (maintain may pass another); default 100 events an issue, 90 days */
  retention?: Retention
  /** told about recoverable trouble: a corrupt file moved aside, a failed background write, a lock taken over or failing to refresh */
  onWarning?: (err: Error) => void
  /** how long changes gather before one write; default 100 ms */
  writeDelayMs?: number
}

/** The file store: a Store plus `open()` and the figures of its last write. */
export interface FileStore extends Store {
  /** resolves once the document is read (every method waits for this itself) */
  open(): Promise<void>
  flush(): Promise<void>
  flushSync(): void
  readonly path: string
  /** the last write (a save, or the file rewrites of a maintain sweep): its duration, the longest time it kept the event loop busy, the bytes saved */
  readonly lastWrite: WriteStats | null
}

/** events waiting for a write, across issues; past this, events are counted but not stored until the disk catches up */
const MAX_PENDING_EVENTS = 20_000
const EVENT_FILE_CONCURRENCY = 8
const OPTION_KEYS = new Set(['path', 'retention', 'onWarning', 'writeDelayMs'])

/** the longest pause between retries of a failing write */
const MAX_RETRY_MS = 5000

const openStores = new Set<FileStoreImpl>()
let exitHooked = false

/** Opens (or creates) the file store at `path`; throws at once if another live process holds it. */
export function fileStore(options: FileStoreOptions | string): FileStore {
  return new FileStoreImpl(typeof options === 'string' ? { path: options } : options)
}

export default fileStore

class FileStoreImpl implements FileStore {
  readonly path: string
  #lockPath: string
  #db: Low<IssueIndex>
  #document: IndexDocument
  #files: EventFiles
  #deferred: DeferredAlerts
  #retention: Retention
  #warn: (err: Error) => void
  #writeDelayMs: number
  /** failed writes in a row: retries back off, and the failure is said once per kind every 10 s */
  #failedWrites = 0
  #reportWriteFailure: Report
  #ready: Promise<void>
  #loaded = false
  #closed = false
  /** event lines waiting for the next write, and those being written now (reads see both) */
  #pending = new Map<string, EventEntry[]>()
  #pendingCount = 0
  #inflight = new Map<string, EventEntry[]>()
  #dropped = 0
  #dirty = false
  /** a document write is under way (its data is not on disk until it renames) */
  #writing = false
  #timer: NodeJS.Timeout | null = null
  #lastWrite: WriteStats | null = null
  /** disk work runs one job at a time, in order */
  #disk: Promise<unknown> = Promise.resolve()

  constructor(options: FileStoreOptions) {
    if (typeof options !== 'object' || options === null || typeof options.path !== 'string' || options.path === '') {
      throw new TypeError("fileStore needs a path: fileStore({ path: '.faultline/errors.json' })")
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new TypeError(`fileStore has no option ${JSON.stringify(key)}; it takes ${[...OPTION_KEYS].join(', ')}`)
    }
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw new TypeError('fileStore onWarning must be a function (err) => void')
    const delay = options.writeDelayMs ?? 100
    if (typeof delay !== 'number' || !(delay >= 0 && delay <= 60_000)) throw new TypeError(`fileStore writeDelayMs must be from 0 to 60000 ms, got ${String(delay)}`)
    this.path = path.resolve(options.path)
    this.#lockPath = `${this.path}.lock`
    this.#retention = options.retention === undefined ? DEFAULT_RETENTION : checkRetention(options.retention)
    this.#warn = options.onWarning ?? ((err) => process.emitWarning(err))
    this.#writeDelayMs = delay
    this.#reportWriteFailure = limitReports((err) => this.#warn(err))
    this.#document = new IndexDocument(this.path)
    this.#db = new Low(this.#document, new IssueIndex())
    // beside the document, named after it: errors.events/, errors.deferred-alerts.json
    const sibling = (suffix: string) => path.join(path.dirname(this.path), `${path.basename(this.path, '.json')}${suffix}`)
    this.#files = new EventFiles(sibling('.events'))
    this.#deferred = new DeferredAlerts(sibling('.deferred-alerts.json'))

    try {
      mkdirSync(path.dirname(this.path), { recursive: true })
      // a lock refresh failing on every heartbeat is said like a failing write: once per 10 s
      acquireLock(this.path, this.#lockPath, { warn: (err) => this.#warn(err), failure: (err) => this.#reportWriteFailure(err, 'lock') })
    } catch (err) {
      if ((err as Error).message.startsWith('faultline:')) throw err
      // a folder it may not write (EACCES, EROFS): say where and what to do, not just the errno
      throw new Error(`faultline: cannot open the file store at ${this.path} (${(err as Error).message}). ` +
        "Give it a folder the app may write to, e.g. createTracker({ store: '/var/lib/myapp/errors.json' }), or use another store.", { cause: err })
    }
    openStores.add(this)
    if (!exitHooked) {
      exitHooked = true
      process.on('exit', flushOpenStoresOnExit)
    }
    this.#ready = this.#open()
    // the same error reaches every caller through #use(); this only keeps it from being "unhandled"
    this.#ready.catch(() => {})
  }

  get lastWrite(): WriteStats | null {
    return this.#lastWrite
  }

  open(): Promise<void> {
    return this.#use().then(() => {})
  }

  async #open(): Promise<void> {
    let data: IssueIndex | null
    try {
      data = await this.#document.read()
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err
      if (this.#loaded) return // the crash path opened it meanwhile, and moved it aside
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const aside = `${this.path}.corrupt-${stamp}`
      await rename(this.path, aside)
      const eventsMoved = await this.#files.moveAside(`${this.#files.dir}.corrupt-${stamp}`)
      this.#warn(new Error(`faultline: ${err.message}. Moved it to ${aside}${eventsMoved ? ' (its events directory too)' : ''} and started an empty store.`))
      data = null
    }
    // a crash before this point opened the store synchronously and may have recorded into it
    if (this.#loaded) return
    this.#db.data = data ?? new IssueIndex()
    this.#loaded = true
  }

  /** `#open`, synchronously: a crash can come before the store has finished opening. */
  #openSync(): void {
    let data: IssueIndex | null
    try {
      data = this.#document.readSync()
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const aside = `${this.path}.corrupt-${stamp}`
      renameSync(this.path, aside)
      const eventsMoved = this.#files.moveAsideSync(`${this.#files.dir}.corrupt-${stamp}`)
      this.#warn(new Error(`faultline: ${err.message}. Moved it to ${aside}${eventsMoved ? ' (its events directory too)' : ''} and started an empty store.`))
      data = null
    }
    this.#db.data = data ?? new IssueIndex()
    this.#loaded = true
  }

  async #use(): Promise<IssueIndex> {
    if (this.#closed) throw new Error(`faultline: the file store ${this.path} is closed`)
    if (!this.#loaded) await this.#ready
    return this.#db.data
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#disk.then(job)
    this.#disk = run.catch(() => {})
    return run
  }

  #markDirty(): void {
    this.#dirty = true
    if (this.#timer !== null || this.#closed) return
    // after failures (a full or read-only disk) retries slow down, up to one every 5 s
    const delay = this.#failedWrites === 0 ? this.#writeDelayMs : Math.min(MAX_RETRY_MS, Math.max(this.#writeDelayMs, 100) * 2 ** this.#failedWrites)
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#enqueue(() => this.#write()).then(() => {
        if (this.#failedWrites === 0) return
        this.#failedWrites = 0
        this.#warn(new Error(`faultline: the file store ${this.path} writes again; what waited meanwhile is stored`))
      }, (err: Error) => {
        this.#failedWrites++
        const code = (err as NodeJS.ErrnoException).code ?? 'write'
        this.#reportWriteFailure(new Error(`faultline: the file store ${this.path} could not write (${code}: ${err.message}); ${this.#pendingCount} events wait in memory and are retried`, { cause: err }), code)
      })
    }, delay)
    // a pending write must not keep the app alive; the exit hook writes it synchronously
    this.#timer.unref()
  }

  /** Appends waiting event lines (or trims files that grew past twice the retention), then saves the document. */
  async #write(): Promise<void> {
    if (!this.#dirty) return
    this.#dirty = false
    const index = this.#db.data
    const batches = this.#pending
    this.#pending = new Map()
    this.#pendingCount = 0
    this.#inflight = batches
    this.#writing = true
    const meter = new SliceMeter()
    try {
      const work = [...batches.keys()]
      const writeEvents = async () => {
        for (let id = work.pop(); id !== undefined; id = work.pop()) {
          const entries = batches.get(id)!
          if (index.has(id)) {
            if (index.storedEvents(id).count > 2 * this.#retention.maxEventsPerIssue) await this.#trim(index, id, entries, meter)
            else await this.#files.append(id, entries, meter)
          }
          batches.delete(id)
        }
      }
      // a few files at a time: an error spread over many issues touches many files
      const results = await Promise.allSettled(Array.from({ length: Math.min(EVENT_FILE_CONCURRENCY, work.length) }, writeEvents))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      this.#document.meter = meter
      await this.#db.write()
      this.#lastWrite = meter.stats()
    } catch (err) {
      // keep what was not written for the next attempt
      for (const [id, entries] of batches) {
        this.#pending.set(id, [...entries, ...(this.#pending.get(id) ?? [])])
        this.#pendingCount += entries.length
      }
      this.#markDirty()
      throw err
    } finally {
      this.#inflight = new Map()
      this.#writing = false
    }
  }

  async #trim(index: IssueIndex, id: string, fresh: EventEntry[], meter: SliceMeter): Promise<void> {
    const all = mergeEntries(await this.#files.read(id, meter), fresh)
    const keep = all.slice(Math.max(0, all.length - this.#retention.maxEventsPerIssue))
    await this.#files.rewrite(id, keep, meter)
    index.setStoredEvents(id, keep.length + (this.#pending.get(id)?.length ?? 0), keep.length > 0 ? keep[0].t : null)
  }

  /** The issue's events, oldest first: the file plus events not yet written. */
  async #entries(issueId: unknown): Promise<EventEntry[]> {
    const index = await this.#use()
    if (!isIssueId(issueId) || !index.has(issueId)) return []
    // taken before reading the file: a line written meanwhile is then in one or the other
    const unwritten = [...(this.#inflight.get(issueId) ?? []), ...(this.#pending.get(issueId) ?? [])]
    return mergeEntries(await this.#files.read(issueId), unwritten)
  }

  async record(input: RecordInput): Promise<RecordResult> {
    if (!this.#loaded || this.#closed) await this.#use()
    return this.recordSync(input)
  }

  /** `record`, synchronously, for the crash path; opens the store synchronously if it is not open yet. */
  recordSync(input: RecordInput): RecordResult {
    if (this.#closed) throw new Error(`faultline: the file store ${this.path} is closed`)
    if (!this.#loaded) this.#openSync()
    const index = this.#db.data
    checkRecordInput(input)
    const now = Date.now()
    // serialise first: an event JSON cannot hold must not leave the counts changed
    const entry = toEntry(input.event, now)
    const result = index.record(input, now)
    if (this.#pendingCount < MAX_PENDING_EVENTS) {
      const id = result.issue.id
      const list = this.#pending.get(id)
      if (list === undefined) this.#pending.set(id, [entry])
      else list.push(entry)
      this.#pendingCount += 1
    } else {
      index.forgetStoredEvent(result.issue.id)
      if (this.#dropped++ % 1000 === 0) this.#warn(new Error(`faultline: the file store ${this.path} cannot write as fast as events arrive; ${this.#dropped} events were counted but not stored`))
    }
    this.#markDirty()
    return result
  }

  deferAlertSync(alert: DeferredAlert): void {
    this.#deferred.addSync(alert)
  }

  takeDeferredAlerts(): Promise<DeferredAlert[]> {
    return this.#deferred.take()
  }

  async getIssue(id: string): Promise<Issue | null> {
    return (await this.#use()).get(id)
  }

  async listIssues(options?: ListIssuesOptions): Promise<IssuePage> {
    return (await this.#use()).list(options)
  }

  async countIssues(q?: string): Promise<StatusCounts> {
    return (await this.#use()).count(q)
  }

  async listEvents(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<EventPage> {
    return pageEntries(await this.#entries(issueId), options)
  }

  async getEvent(issueId: string, eventId: string): Promise<FaultlineEvent | null> {
    return findEntry(await this.#entries(issueId), eventId)
  }

  async eventNeighbors(issueId: string, eventId: string): Promise<{ older: string | null; newer: string | null } | null> {
    return neighborsOf(await this.#entries(issueId), eventId)
  }

  async updateIssue(id: string, update: IssueUpdate): Promise<Issue | null> {
    const issue = (await this.#use()).update(id, update)
    if (issue !== null) this.#markDirty()
    return issue
  }

  async deleteIssue(id: string): Promise<boolean> {
    const index = await this.#use()
    if (!index.delete(id)) return false
    this.#pendingCount -= this.#pending.get(id)?.length ?? 0
    this.#pending.delete(id)
    this.#markDirty()
    await this.#enqueue(() => this.#files.remove(id))
    return true
  }

  async histogram(issueId: string, options: HistogramOptions): Promise<number[]> {
    return (await this.#use()).histogram(issueId, options)
  }

  async countEventsSince(issueId: string, since: Date): Promise<number> {
    return (await this.#use()).countSince(issueId, since)
  }

  async tagBreakdown(issueId: string, options?: { limit?: number }): Promise<TagBreakdown[]> {
    return (await this.#use()).tagBreakdown(issueId, options)
  }

  async claimAlert(key: string, options: { issueId: string; expiresAt?: Date }): Promise<boolean> {
    const claimed = (await this.#use()).claim(key, options)
    if (claimed) this.#markDirty()
    return claimed
  }

  async maintain(options: MaintainOptions = {}): Promise<MaintainResult> {
    const index = await this.#use()
    const args = maintainArguments(options, this.#retention)
    this.#retention = args.retention
    const { resolvedIssues, unignoredIssues, expiredClaims } = index.maintain(args.now, args.autoResolveBefore)
    if (resolvedIssues + unignoredIssues + expiredClaims > 0) this.#markDirty()
    const prunedEvents = await this.#enqueue(() => this.#prune(index, args.retention, args.now))
    return { prunedEvents, resolvedIssues, unignoredIssues }
  }

  /** Rewrites the files of issues holding more events than the retention allows, or older ones. */
  async #prune(index: IssueIndex, retention: Retention, now: number): Promise<number> {
    const cutoff = now - retention.maxAgeMs
    const meter = new SliceMeter()
    let pruned = 0
    for (const id of index.ids()) {
      const stored = index.storedEvents(id)
      if (stored.count <= retention.maxEventsPerIssue && (stored.oldest === null || stored.oldest >= cutoff)) continue
      // this issue's waiting events go into the rewrite rather than after it; meanwhile readers
      // find them among the events being written, and a failed rewrite puts them back
      const fresh = this.#pending.get(id) ?? []
      this.#pending.delete(id)
      this.#pendingCount -= fresh.length
      this.#inflight.set(id, fresh)
      let keep: EventEntry[]
      let drop: number
      try {
        const all = mergeEntries(await this.#files.read(id, meter), fresh)
        drop = prunable(all, retention, now)
        keep = all.slice(drop)
        if (drop > 0 || fresh.length > 0) await this.#files.rewrite(id, keep, meter)
      } catch (err) {
        this.#pending.set(id, [...fresh, ...(this.#pending.get(id) ?? [])])
        this.#pendingCount += fresh.length
        this.#markDirty()
        throw err
      } finally {
        this.#inflight.delete(id)
      }
      if (!index.has(id)) continue
      index.setStoredEvents(id, keep.length + (this.#pending.get(id)?.length ?? 0), keep.length > 0 ? keep[0].t : null)
      this.#markDirty()
      pruned += drop
    }
    this.#lastWrite = meter.stats()
    return pruned
  }

  async flush(): Promise<void> {
    await this.#use()
    await this.#enqueue(() => this.#write())
  }

  flushSync(): void {
    if (!this.#loaded) return
    const index = this.#db.data
    for (const batches of [this.#inflight, this.#pending]) {
      for (const [id, entries] of batches) if (index.has(id)) this.#files.appendSync(id, entries)
    }
    this.#pending = new Map()
    this.#pendingCount = 0
    if (this.#dirty || this.#writing) this.#document.writeSync(index)
    this.#dirty = false
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    try {
      await this.#ready.catch(() => {})
      if (this.#loaded) await this.#enqueue(() => this.#write())
    } finally {
      openStores.delete(this)
      releaseLock(this.#lockPath)
    }
  }

  /** The exit hook: save what is pending and free the lock; nothing here may throw. */
  exitSync(): void {
    try {
      if (!this.#closed) this.flushSync()
    } catch (err) {
      try { this.#warn(err as Error) } catch { /* exiting anyway */ }
    }
    try {
      releaseLock(this.#lockPath)
    } catch (err) {
      try { this.#warn(err as Error) } catch { /* exiting anyway */ }
    }
  }
}

function flushOpenStoresOnExit(): void {
  for (const store of openStores) store.exitSync()
}
