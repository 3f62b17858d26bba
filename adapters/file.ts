/**
 * The file store, faultline's embedded default (`.faultline/errors.json`), which any number of
 * processes on one machine may share: cluster workers, a cron script beside the web app, a new
 * process started before the old one exits.
 *
 * Beside the document (a lowdb checkpoint of every issue, see file/document.ts) a journal holds
 * every change since (file/journal.ts): each process appends its batches under a short lock
 * (file/lock.ts) and applies everyone's batches in journal order to its own copy of the issues
 * (file/replica.ts), so every process counts every event once and gets the same answers (is this
 * issue new, who sent this alert). Events go to one JSON Lines file per issue
 * (`.faultline/errors.events/<issue id>.jsonl`), written only once they are counted, so a crash
 * can cost an event its body but never its count; a second lock orders the writes of those files,
 * so counting never waits for them. A checkpoint saves the issues into the document and starts the
 * journal again once it has grown as large as the document.
 *
 * `recordSync` and `flushSync` are for the crash path: they write before returning, or, when
 * another process holds the lock too long, leave the batch in the spool (file/spool.ts).
 */
import { mkdirSync, renameSync, statSync } from 'node:fs'
import { readdir, stat, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Low } from 'lowdb'
import type { Activity, ActivityPage, DeferredAlert, EventPage, FaultlineEvent, Issue, IssuePage, IssueUpdate, ListIssuesOptions, MaintainOptions, MaintainResult, RecordInput, RecordResult, Retention, StatusCounts, Store, TagBreakdown, HistogramOptions, UserPage } from '../lib/types.js'
import { checkClaim, copyIssue, factsOf, reopens, type IssueIndex } from './shared/issue-index.js'
import { checkNote, checkRetention, checkRuleFired, checkSetting, checkUpdate, DEFAULT_RETENTION, isIssueId, maintainArguments } from './shared/arguments.js'
import { findEntry, mergeEntries, neighborsOf, pageEntries, prunable, toEntry, type EventEntry } from './shared/event-list.js'
import { CorruptDocumentError, IndexDocument, type Checkpoint } from './file/document.js'
import { SliceMeter, type WriteStats } from './file/meter.js'
import { DeferredAlerts } from './file/deferred-alerts.js'
import { EventFiles } from './file/event-files.js'
import { WriteLock } from './file/lock.js'
import { Journal, JournalHeaderError, journalHeader, removeIfThere } from './file/journal.js'
import { encodeBatches, factsOp, type Op, type OpResult } from './file/journal-ops.js'
import { Replica } from './file/replica.js'
import { Spool } from './file/spool.js'
import { orphanRecords, uncountedRecords } from './file/reconcile.js'
import { refuseNetworkFileSystem } from './file/file-system.js'
import { limitReports, type Report } from '../common/report-limiter.js'

export interface FileStoreOptions {
  /** the JSON document, e.g. '.faultline/errors.json' (relative to the working directory) */
  path: string
  /** what is kept between maintain sweeps (maintain may pass another); default 100 events an issue, 90 days */
  retention?: Retention
  /** told about recoverable trouble: a corrupt file moved aside, a failed write and its recovery, a lock taken over */
  onWarning?: (err: Error) => void
  /** how long records gather before one write; default 100 ms */
  writeDelayMs?: number
}

/** The file store: a Store plus `open()` and the figures of its last checkpoint. */
export interface FileStore extends Store {
  /** resolves once the issues are read (every method waits for this itself) */
  open(): Promise<void>
  flush(): Promise<void>
  flushSync(): void
  readonly path: string
  /** the last checkpoint or maintenance rewrite: its duration, the longest time it kept the event loop busy, the bytes saved */
  readonly lastWrite: WriteStats | null
}

const OPTION_KEYS = new Set(['path', 'retention', 'onWarning', 'writeDelayMs'])
/** events counted but not yet in their files (a full disk); beyond either bound the oldest are shed */
const MAX_UNWRITTEN_EVENTS = 20_000
const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024
const EVENT_FILE_CONCURRENCY = 8
/** a backlog of events is written newest first in windows of about this much (see #windows) */
const WINDOW_BYTES = 256 * 1024
/** the longest pause between retries of a failing write: writing resumes within a second of the disk coming back */
const MAX_RETRY_MS = 1000
/** retries that keep the process alive (about 1.5 s of them) before a failing disk is left to the exit hook */
const KEEP_ALIVE_RETRIES = 5
/** the journal is saved into the document once it is this large, or as large as the document */
const MIN_CHECKPOINT_BYTES = 1 << 20
/** after a failed checkpoint (a full disk) the next is tried this much later, not at every write */
const CHECKPOINT_RETRY_MS = 10_000
/** how long the crash path waits for the lock before leaving its batch in the spool */
const CRASH_LOCK_WAIT_MS = 1000
/** how long one stretch of applying the journal may keep the event loop busy */
const SLICE_MS = 4
/** a temporary file left this long is a killed process's */
const STRAY_AFTER_MS = 60_000
/** records the tracker may have waiting for one write: the store batches them itself */
const RECORD_CONCURRENCY = 4096

interface PendingOp {
  op: Op
  /** the event's body, for a record that keeps it */
  entry: EventEntry | null
  done(result: OpResult): void
  fail(err: Error): void
}

type JournalState = 'ok' | 'missing' | 'behind'

const openStores = new Set<FileStoreImpl>()
let exitHooked = false

/**
 * Why the store's folder cannot be made, in words: mkdir says EEXIST or ENOTDIR when a file stands
 * where a folder should be, which reads as if the folder were there.
 */
function whyNoFolder(dir: string, err: Error): string {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) return `${at} is a file, not a folder`
      return err.message
    } catch {
      if (path.dirname(at) === at) return err.message
    }
  }
}

/** Opens (or creates) the file store at `path`; any number of processes on this machine may open the same path. */
export function fileStore(options: FileStoreOptions | string): FileStore {
  return new FileStoreImpl(typeof options === 'string' ? { path: options } : options)
}

export default fileStore

class FileStoreImpl implements FileStore {
  readonly path: string
  readonly recordConcurrency = RECORD_CONCURRENCY
  /** lowdb over the document, loaded on the first read or write (see #database) */
  #db: Promise<Low<Checkpoint | null>> | null = null
  #document: IndexDocument
  #journal: Journal
  /** orders the journal: held to catch up, append and apply */
  #lock: WriteLock
  /** orders the events files: held to append to, trim or remove them (taken before #lock when both are needed) */
  #eventsLock: WriteLock
  #files: EventFiles
  #spool: Spool
  #deferred: DeferredAlerts
  #retention: Retention
  #warn: (err: Error) => void
  #writeDelayMs: number
  #reportWriteFailure: Report
  #ready: Promise<void>
  #replica: Replica | null = null
  #closed = false
  /** changes waiting for the next write */
  #pending: PendingOp[] = []
  /** counted in the journal, not yet in their files: reads see them, a failed write keeps them */
  #unwritten = new Map<string, EventEntry[]>()
  #unwrittenCount = 0
  #unwrittenBytes = 0
  #timer: NodeJS.Timeout | null = null
  /** failed writes in a row: retries back off, up to MAX_RETRY_MS */
  #failedWrites = 0
  /** journal work (commits, checkpoints) runs one job at a time, in order */
  #disk: Promise<unknown> = Promise.resolve()
  /** events-file work runs one job at a time too, beside the journal's */
  #eventsWork: Promise<unknown> = Promise.resolve()
  /** issues whose file was cut back to the retention, until the journal says so (no second cut meanwhile) */
  #trimmed = new Set<string>()
  /** spool files taken in, removed once their events are in their files */
  #spooledBodies: string[] = []
  #catchUps: Promise<unknown> = Promise.resolve()
  /** this process's position no longer matches the journal: the next write reads the document again */
  #lost = false
  /** a catch-up waiting to start: reads join it, as it will see everything written before they asked */
  #nextCatchUp: Promise<JournalState> | null = null
  /** orphaned and uncounted events files are checked by this process's first write */
  #reconciled = false
  #lastDocBytes = 0
  #checkpointAfter = 0
  #lastWrite: WriteStats | null = null
  #reportBadLine: Report

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
    this.#retention = options.retention === undefined ? DEFAULT_RETENTION : checkRetention(options.retention)
    this.#warn = options.onWarning ?? ((err) => process.emitWarning(err))
    this.#writeDelayMs = delay
    this.#reportWriteFailure = limitReports((err) => this.#warn(err))
    this.#reportBadLine = limitReports((err) => this.#warn(err), 60_000)
    this.#document = new IndexDocument(this.path)
    // beside the document, named after it: errors.journal, errors.events/, errors.spool/, ...
    const sibling = (suffix: string) => path.join(path.dirname(this.path), `${path.basename(this.path, '.json')}${suffix}`)
    this.#journal = new Journal(sibling('.journal'))
    this.#files = new EventFiles(sibling('.events'))
    this.#spool = new Spool(sibling('.spool'))
    this.#deferred = new DeferredAlerts(sibling('.deferred-alerts.json'))
    this.#lock = new WriteLock(`${this.path}.lock`, { warn: (err) => this.#warn(err) })
    this.#eventsLock = new WriteLock(sibling('.events.lock'), { warn: (err) => this.#warn(err) })
    try {
      mkdirSync(path.dirname(this.path), { recursive: true })
    } catch (err) {
      // a folder it may not write (EACCES, EROFS), a file in the way: say where and what to do, not just the errno
      throw new Error(`faultline: cannot open the file store at ${this.path} (${whyNoFolder(path.dirname(this.path), err as Error)}). ` +
        "Give it a folder the app may write to, e.g. createTracker({ store: '/var/lib/myapp/errors.json' }), or use another store.", { cause: err })
    }
    refuseNetworkFileSystem(path.dirname(this.path), this.path)
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

  // -- opening ----------------------------------------------------------------------------------

  /** lowdb, loaded when the document is first read or written: an app on another store never loads it. */
  #database(): Promise<Low<Checkpoint | null>> {
    this.#db ??= import('lowdb').then(({ Low }) => new Low<Checkpoint | null>(this.#document, null))
    return this.#db
  }

  async #open(): Promise<void> {
    let checkpoint: Checkpoint | null
    try {
      const db = await this.#database()
      await db.read()
      checkpoint = db.data
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err
      if (this.#replica !== null) return // the crash path opened it meanwhile, and moved it aside
      checkpoint = await this.#underLockOnly(() => this.#moveCorruptAside(err))
    }
    // a crash before this point opened the store synchronously and may have recorded into it
    if (this.#replica !== null) return
    this.#replica = this.#newReplica(checkpoint)
    this.#lastDocBytes = sizeOf(this.path)
    await this.#catchUp()
  }

  /** `#open`, synchronously: a crash can come before the store has finished opening. */
  #openSync(): Replica {
    let checkpoint: Checkpoint | null
    try {
      checkpoint = this.#document.readSync()
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err
      checkpoint = this.#moveCorruptAsideSync(err)
    }
    const replica = this.#newReplica(checkpoint)
    this.#replica = replica
    this.#catchUpSync()
    return replica
  }

  #newReplica(checkpoint: Checkpoint | null): Replica {
    return new Replica(checkpoint, (line) => {
      this.#reportBadLine(new Error(`faultline: skipped a line of ${this.#journal.file} that is not a batch: ${line.slice(0, 80)}`), 'line')
    })
  }

  /**
   * A document that is not a store is moved aside with its journal and events, and the store starts
   * empty, unless another process did so already (then its new document is read).
   */
  async #moveCorruptAside(first: CorruptDocumentError): Promise<Checkpoint | null> {
    try {
      return this.#document.readSync()
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err
    }
    return this.#moveCorruptAsideSync(first)
  }

  #moveCorruptAsideSync(err: CorruptDocumentError): null {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const aside = `${this.path}.corrupt-${stamp}`
    renameSync(this.path, aside)
    for (const file of [this.#journal.file, this.#files.dir]) {
      try {
        renameSync(file, `${file}.corrupt-${stamp}`)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      }
    }
    this.#warn(new Error(`faultline: ${err.message}. Moved it to ${aside} (its journal and events directory too) and started an empty store.`))
    return null
  }

  async #use(): Promise<Replica> {
    if (this.#closed) throw new Error(`faultline: the file store ${this.path} is closed`)
    if (this.#replica === null) await this.#ready
    return this.#replica!
  }

  /**
   * The issues with everything any process wrote before this call: a panel action taken in one
   * process shows in the next page any process serves. Catching up when nothing changed costs an
   * open and a stat of the journal.
   */
  async #view(): Promise<IssueIndex> {
    await this.#use()
    this.#nextCatchUp ??= this.#catchUp()
    await this.#nextCatchUp
    return this.#replica!.index
  }

  // -- reading the journal ----------------------------------------------------------------------

  /** Applies what the journal holds beyond this process's position; one at a time, yielding between slices. */
  #catchUp(): Promise<JournalState> {
    const run = this.#catchUps.then(async () => {
      this.#nextCatchUp = null
      for (let reloads = 0; ; ) {
        const step = this.#catchUpSlice(SLICE_MS)
        if (step === 'reload') {
          const db = await this.#database()
          await db.read()
          this.#replica = this.#replica!.reloaded(db.data)
          if (reloads++ > 0) this.#skipToCurrentJournal()
        } else if (step === 'more') {
          await new Promise((resolve) => setImmediate(resolve))
        } else {
          return step
        }
      }
    })
    this.#catchUps = run.catch(() => {})
    return run
  }

  #catchUpSync(): JournalState {
    for (let reloads = 0; ; ) {
      const step = this.#catchUpSlice(Infinity)
      if (step === 'reload') {
        this.#replica = this.#replica!.reloaded(this.#document.readSync())
        if (reloads++ > 0) this.#skipToCurrentJournal()
      } else if (step !== 'more') return step
    }
  }

  /**
   * The document read again still leaves this process behind the journal (it was deleted or
   * replaced by hand while processes ran): go on from the start of the journal there now, and say
   * that the changes between were not read, rather than reading the document again and again.
   */
  #skipToCurrentJournal(): void {
    const replica = this.#replica!
    const gen = this.#journal.currentGen()
    if (gen === null) return
    replica.position = { gen, offset: 0 }
    this.#warn(new Error(`faultline: the document of ${this.path} is older than its journal (generation ${gen}); ` +
      'the changes between could not be read, and the counts miss them. Was the document replaced while the app ran?'))
  }

  /** Applies journal lines for up to `budgetMs`; says whether there is more, or the document must be read again. */
  #catchUpSlice(budgetMs: number): JournalState | 'more' | 'reload' {
    const started = performance.now()
    for (;;) {
      const replica = this.#replica!
      const read = this.#journal.read(replica.position)
      if (read.kind === 'lost') return 'reload'
      if (read.kind !== 'lines') return read.kind
      for (const line of read.lines) replica.applyLine(line)
      replica.position = read.next
      if (!read.more) return 'ok'
      if (performance.now() - started > budgetMs) return 'more'
    }
  }

  // -- writing ----------------------------------------------------------------------------------

  #submit(op: Op, entry: EventEntry | null): Promise<OpResult> {
    return new Promise((done, fail) => {
      this.#pending.push({ op, entry, done, fail })
      this.#schedule(this.#writeDelayMs)
    })
  }

  #schedule(delay: number): void {
    if (this.#timer !== null || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#commit().then(() => {
        if (this.#failedWrites === 0) return
        this.#failedWrites = 0
        this.#warn(new Error(`faultline: the file store ${this.path} writes again; what waited meanwhile is stored`))
      }, (err: Error) => {
        this.#failedWrites++
        const code = (err as NodeJS.ErrnoException).code ?? 'write'
        const waiting = this.#pending.length + this.#unwrittenCount
        this.#reportWriteFailure(new Error(`faultline: the file store ${this.path} could not write (${code}: ${err.message}); ` +
          `${waiting} events and changes wait in memory and are retried`, { cause: err }), code)
        this.#schedule(Math.min(MAX_RETRY_MS, 50 * 2 ** this.#failedWrites))
      })
    }, delay)
    // a write soon keeps the process alive, as whoever awaits a record expects, and so do the first
    // retries (a transient failure must not end a script mid-way); retries of a disk that keeps
    // failing do not (the exit hook then writes what it can, synchronously)
    if (this.#failedWrites > KEEP_ALIVE_RETRIES) this.#timer.unref()
  }

  #exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#disk.then(job)
    this.#disk = run.catch(() => {})
    return run
  }

  /** Runs `job` holding the journal lock (and nothing else: no catching up). */
  #underLockOnly<T>(job: () => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      await this.#lock.acquire()
      try {
        return await job()
      } finally {
        this.#lock.release()
      }
    })
  }

  /** Runs `job` holding the journal lock, with every earlier batch applied and the journal ready for appends. */
  async #withJournalLock<T>(job: () => Promise<T>): Promise<T> {
    await this.#lock.acquire()
    try {
      await this.#readyToAppend()
      return await job()
    } finally {
      this.#lock.release()
    }
  }

  /** Runs `job` on the events files, after the events jobs before it, holding the events lock. */
  #withEventsLock<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#eventsWork.then(async () => {
      await this.#eventsLock.acquire()
      try {
        return await job()
      } finally {
        this.#eventsLock.release()
      }
    })
    this.#eventsWork = run.catch(() => {})
    return run
  }

  #hasWork(): boolean {
    return this.#pending.length > 0 || this.#unwrittenCount > 0 || !this.#reconciled
  }

  /**
   * Writes what waits: changes into the journal (their callers have their answers then), then the
   * events they counted into their files. The next commit's changes may go in while those files are
   * still being written: counting never waits for them.
   */
  #commit(): Promise<void> {
    const counted = this.#exclusive(async () => {
      if (this.#pending.length === 0 && this.#reconciled) return
      const append = () => this.#withJournalLock(async () => {
        if (await this.#appendPendingCaughtUp()) await this.#catchUp()
        if (this.#journal.size() > Math.max(MIN_CHECKPOINT_BYTES, this.#lastDocBytes) && Date.now() >= this.#checkpointAfter) await this.#checkpoint()
      })
      // a deleted issue's events file goes before the change that deletes it, with no events write under way
      if (this.#pending.some((p) => p.op.o === 'd')) await this.#withEventsLock(append)
      else await append()
    })
    return counted.then(() => this.#writeEventsSoon())
  }

  /** The events counted so far, into their files, after the events writes before them. */
  #writeEventsSoon(): Promise<void> {
    if (this.#unwrittenCount === 0 && this.#spooledBodies.length === 0) return this.#eventsWork.then(() => {})
    return this.#withEventsLock(async () => {
      await this.#writeEvents()
      for (const name of this.#spooledBodies.splice(0)) this.#spool.remove(name)
      await this.#trimOversized()
      this.#shedBacklog()
    })
  }

  /** Catches up, makes sure a journal of this generation is there, and takes in orphans and spooled batches. */
  async #readyToAppend(): Promise<void> {
    if (this.#lost) {
      // this process lost its place in the journal (see #appendPending): start again from the document
      this.#lost = false
      const db = await this.#database()
      await db.read()
      this.#replica = this.#replica!.reloaded(db.data)
    }
    let state: JournalState
    try {
      state = await this.#catchUp()
    } catch (err) {
      if (!(err instanceof JournalHeaderError)) throw err
      const aside = `${this.#journal.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
      renameSync(this.#journal.file, aside)
      this.#warn(new Error(`faultline: ${(err as Error).message}; moved it to ${aside}. The changes since the last checkpoint in it are lost.`))
      state = 'missing'
    }
    if (state !== 'ok') {
      // no journal yet, or one the document already holds (a checkpoint died before replacing it)
      const replica = this.#replica!
      replica.position = { gen: replica.position.gen, offset: this.#journal.start(replica.position.gen, null) }
    }
    if (!this.#reconciled) await this.#reconcile(state === 'missing')
    await this.#adoptSpool()
  }

  /**
   * Appends the waiting changes (synchronously, so that an exit in between finds them either all
   * waiting or all in the journal). An issue's events file goes before the change that deletes
   * it: a crash between leaves the issue with fewer events, never events without their issue.
   * False when there was nothing to append.
   */
  #appendPending(): boolean {
    const batch = this.#pending.splice(0)
    if (batch.length === 0) return false
    const replica = this.#replica!
    for (const { op } of batch) {
      if (op.o !== 'd') continue
      removeIfThere(this.#files.file(op.i))
      this.#forgetUnwritten(op.i)
    }
    // the replica stays where it was: the catch-up that follows applies these lines, and settles the callers
    let end = replica.position.offset
    let from = 0
    for (const line of encodeBatches(batch.map((p) => p.op), replica.index, newBatchId)) {
      const members = batch.slice(from, from + line.ops.length)
      try {
        end = this.#journal.append(line.text, { gen: replica.position.gen, offset: end })
      } catch (err) {
        // what did not go in waits for the next write, before anything submitted since
        this.#pending.unshift(...batch.slice(from))
        if ((err as NodeJS.ErrnoException).code === 'ECHANGED') this.#lost = true
        throw err
      }
      this.#expect(line.id, members)
      from += line.ops.length
    }
    return true
  }

  /**
   * `#appendPending`, catching up again when another writer appended meanwhile (only possible when
   * the lock file was deleted by hand): its lines are read first, then these go after them.
   */
  async #appendPendingCaughtUp(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return this.#appendPending()
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EBEHIND' || attempt >= 20) throw err
        await new Promise((resolve) => setTimeout(resolve, attempt))
        await this.#catchUp()
      }
    }
  }

  #expect(batchId: string, members: PendingOp[]): void {
    this.#replica!.expect(batchId, (results) => {
      members.forEach((member, i) => {
        const result = results[i]
        if (result instanceof Error) return member.fail(result)
        if (member.entry !== null && member.op.o === 'r') this.#addUnwritten((result as RecordResult).issue.id, member.entry)
        member.done(result)
      })
    })
  }

  #addUnwritten(id: string, entry: EventEntry): void {
    const list = this.#unwritten.get(id)
    if (list === undefined) this.#unwritten.set(id, [entry])
    else list.push(entry)
    this.#unwrittenCount += 1
    this.#unwrittenBytes += entry.json.length
  }

  /** Forgets the issue's `count` oldest unwritten events (all by default). */
  #forgetUnwritten(id: string, count = Infinity): void {
    const list = this.#unwritten.get(id)
    if (list === undefined) return
    list.sort((a, b) => a.t - b.t)
    this.#forgetEntries(id, list.slice(0, count))
  }

  #forgetEntries(id: string, gone: EventEntry[]): void {
    const list = this.#unwritten.get(id)
    if (list === undefined || gone.length === 0) return
    const leaving = new Set(gone)
    const left = list.filter((entry) => !leaving.has(entry))
    for (const entry of gone) this.#unwrittenBytes -= entry.json.length
    this.#unwrittenCount -= list.length - left.length
    if (left.length === 0) this.#unwritten.delete(id)
    else this.#unwritten.set(id, left)
  }

  /**
   * The events waiting to be written, newest first across all issues, in windows of about
   * WINDOW_BYTES, each as the events of each issue: on a disk with room for part of a backlog the
   * newest land first, and what is left over (shed if it never fits) is the oldest. A write of an
   * ordinary batch is one window. Each comes with the bytes it takes on disk.
   */
  #windows(): Array<{ events: Map<string, EventEntry[]>; bytes: number }> {
    const index = this.#replica!.index
    const all: Array<[string, EventEntry]> = []
    for (const [id, entries] of this.#unwritten) {
      if (!index.has(id)) this.#forgetUnwritten(id)
      else for (const entry of entries) all.push([id, entry])
    }
    all.sort((a, b) => b[1].t - a[1].t)
    const windows: Array<{ events: Map<string, EventEntry[]>; bytes: number }> = []
    let window = { events: new Map<string, EventEntry[]>(), bytes: 0 }
    for (const [id, entry] of all) {
      // each entry goes in after a newline
      const size = entry.json.length + 1
      if (window.bytes > 0 && window.bytes + size > WINDOW_BYTES) {
        windows.push(window)
        window = { events: new Map(), bytes: 0 }
      }
      const list = window.events.get(id)
      if (list === undefined) window.events.set(id, [entry])
      else list.push(entry)
      window.bytes += size
    }
    if (window.bytes > 0) windows.push(window)
    return windows
  }

  /** Appends counted events to their files, a few files at a time; what fails stays for the next write. */
  async #writeEvents(): Promise<void> {
    for (const window of this.#windows()) {
      await this.#files.ensureRoom(window.bytes)
      const work = [...window.events]
      let failure: Error | null = null
      const worker = async () => {
        for (let next = work.pop(); next !== undefined; next = work.pop()) {
          const [id, entries] = next
          const { written, error } = await this.#files.append(id, entries)
          this.#forgetEntries(id, entries.slice(0, written))
          if (error) failure ??= error
        }
      }
      await Promise.all(Array.from({ length: Math.min(EVENT_FILE_CONCURRENCY, work.length) }, worker))
      // what did not fit waits, older than what did
      if (failure) throw failure
    }
  }

  /** `#writeEvents`, synchronously, for a process that is exiting. */
  #writeEventsSync(): void {
    for (const window of this.#windows()) {
      this.#files.ensureRoomSync(window.bytes)
      for (const [id, entries] of window.events) {
        const { written, error } = this.#files.appendSync(id, entries)
        this.#forgetEntries(id, entries.slice(0, written))
        if (error) throw error
      }
    }
  }

  /**
   * Events that can no longer wait (the store closes, the process exits) and could not be written:
   * counted as shed in the journal, so their issues say how many of their events were not kept.
   */
  #shedUnwrittenSync(why: string): void {
    if (this.#unwrittenCount === 0) return
    const done = () => {}
    const total = this.#unwrittenCount
    for (const [id, list] of this.#unwritten) this.#pending.push({ op: { o: 'x', i: id, c: list.length }, entry: null, done, fail: done })
    this.#unwritten.clear()
    this.#unwrittenCount = 0
    this.#unwrittenBytes = 0
    try {
      this.#commitSync()
    } catch {
      // the disk takes nothing at all: the counts stand, the issues just do not say these were shed
    }
    this.#warn(new Error(`faultline: ${total} events of ${this.path} could not be written (${why}); they stay counted, as shed`))
  }

  /** Files that grew past twice the retention go back to it, newest kept. */
  async #trimOversized(): Promise<void> {
    const replica = this.#replica!
    const max = this.#retention.maxEventsPerIssue
    const ops: Op[] = []
    const meter = new SliceMeter()
    for (const id of replica.index.ids()) {
      if (replica.index.storedEvents(id).count <= 2 * max || this.#trimmed.has(id)) continue
      const all = mergeEntries(await this.#files.read(id, meter), this.#unwritten.get(id) ?? [])
      const keep = all.slice(Math.max(0, all.length - max))
      await this.#files.rewrite(id, keep, meter)
      this.#forgetUnwritten(id)
      this.#trimmed.add(id)
      ops.push({ o: 's', i: id, c: keep.length, t: keep.length > 0 ? keep[0].t : null, p: all.length - keep.length, n: Date.now() })
    }
    this.#queueInternal(ops)
  }

  /**
   * Changes of the store's own (a file's events after a rewrite, bodies shed), for the next commit:
   * nobody waits on them.
   */
  #queueInternal(ops: Op[]): void {
    if (ops.length === 0) return
    const settled = (op: Op) => () => {
      if (op.o === 's') this.#trimmed.delete(op.i)
    }
    this.#pending.unshift(...ops.map((op) => ({ op, entry: null, done: settled(op), fail: settled(op) })))
    this.#schedule(this.#writeDelayMs)
  }

  /**
   * Events that could not be written (a full disk) wait in memory up to a bound; beyond it the
   * oldest are shed: still counted, their bodies given up and counted as shed.
   */
  #shedBacklog(): void {
    if (this.#unwrittenCount <= MAX_UNWRITTEN_EVENTS && this.#unwrittenBytes <= MAX_UNWRITTEN_BYTES) return
    const all: Array<[string, EventEntry]> = []
    for (const [id, entries] of this.#unwritten) for (const entry of entries) all.push([id, entry])
    all.sort((a, b) => a[1].t - b[1].t)
    const shed = new Map<string, number>()
    let count = this.#unwrittenCount
    let bytes = this.#unwrittenBytes
    for (const [id, entry] of all) {
      if (count <= MAX_UNWRITTEN_EVENTS / 2 && bytes <= MAX_UNWRITTEN_BYTES / 2) break
      shed.set(id, (shed.get(id) ?? 0) + 1)
      count -= 1
      bytes -= entry.json.length
    }
    for (const [id, n] of shed) {
      const list = this.#unwritten.get(id)!
      list.sort((a, b) => a.t - b.t)
      this.#forgetUnwritten(id, n)
    }
    const total = [...shed.values()].reduce((a, b) => a + b, 0)
    this.#warn(new Error(`faultline: the file store ${this.path} could not write ${total} events for too long; their bodies were shed, oldest first (they stay counted, as shed)`))
    this.#queueInternal([...shed].map(([id, n]) => ({ o: 'x', i: id, c: n })))
  }

  /**
   * Saves every issue into the document, with how far into the journal that is, and starts the
   * next journal generation. This process's position stays in the generation it sealed: its next
   * catch-up reads the rest of it (a line another writer appended meanwhile) and goes on.
   */
  async #checkpoint(): Promise<void> {
    // loaded first: from here to the write's start nothing may wait, or the index would run ahead of the offset
    const db = await this.#database()
    const replica = this.#replica!
    const { gen, offset } = replica.position
    const adopted = [...replica.adopted].filter((name) => this.#spool.has(name))
    const meter = new SliceMeter()
    this.#document.meter = meter
    db.data = { index: replica.index, journal: gen, offset, adopted, legacy: false }
    try {
      await db.write()
    } catch (err) {
      this.#checkpointAfter = Date.now() + CHECKPOINT_RETRY_MS
      const code = (err as NodeJS.ErrnoException).code ?? 'checkpoint'
      this.#reportWriteFailure(new Error(`faultline: could not save the issues of ${this.path} into the document (${code}: ${(err as Error).message}); ` +
        'the journal keeps them meanwhile and it is tried again in 10 s', { cause: err }), `checkpoint ${code}`)
      return
    }
    this.#journal.start(gen + 1, gen)
    replica.adopted = new Set(adopted)
    replica.legacy = false
    this.#lastDocBytes = meter.bytes
    this.#lastWrite = meter.stats()
  }

  /** The first write of this process checks the events files against the issues (see file/reconcile.ts). */
  async #reconcile(journalWasMissing: boolean): Promise<void> {
    const replica = this.#replica!
    const now = Date.now()
    await this.#removeStrays()
    const orphans = await orphanRecords(this.#files, replica.index, now)
    const uncounted = replica.legacy && journalWasMissing ? await uncountedRecords(this.#files, replica.index, now) : []
    this.#reconciled = true
    if (orphans.ops.length + uncounted.length === 0) return
    const done = () => {}
    this.#pending.unshift(...[...orphans.ops, ...uncounted].map((op) => ({ op, entry: null, done, fail: done })))
    if (await this.#appendPendingCaughtUp()) await this.#catchUp()
    if (orphans.issues.length > 0) {
      this.#warn(new Error(`faultline: ${orphans.issues.length} events files of ${this.path} had no issue (${orphans.issues.slice(0, 5).join(', ')}); their issues were restored from their events`))
    }
    if (uncounted.length > 0) this.#warn(new Error(`faultline: counted ${uncounted.length} events of ${this.path} that an earlier crash had left uncounted`))
  }

  /**
   * Temporary files a killed process left (a checkpoint, a rewrite, a spool file half written). Only
   * old ones: a fresh one may belong to a process writing it right now (a rewrite under the events
   * lock, a dying process spooling).
   */
  async #removeStrays(): Promise<void> {
    const dir = path.dirname(this.path)
    const base = path.basename(this.path)
    const journal = path.basename(this.#journal.file)
    const stray = (name: string) => name === `.${base}.tmp` || name.startsWith(`${journal}.tmp.`) || name.includes('.lock.stale.') ||
      name.endsWith('.jsonl.tmp') || (name.startsWith('.') && name.endsWith('.batch.tmp'))
    for (const folder of [dir, this.#files.dir, this.#spool.dir]) {
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        if (!stray(name)) continue
        const file = path.join(folder, name)
        const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: Date.now() }))
        if (Date.now() - mtimeMs > STRAY_AFTER_MS) await unlink(file).catch(() => {})
      }
    }
  }

  /** Takes in batches that dying processes left in the spool (see file/spool.ts). */
  async #adoptSpool(): Promise<void> {
    for (const name of this.#spool.list()) {
      let read
      try {
        read = this.#spool.read(name)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      if (!read.ok) {
        const to = this.#spool.reject(name)
        this.#warn(new Error(`faultline: the spool file ${name} of ${this.path} is not a batch (${read.reason}); moved it to ${to}`))
        continue
      }
      const replica = this.#replica!
      if (!replica.adopted.has(name)) {
        this.#journal.append(`${JSON.stringify({ id: read.batch.id, ops: read.batch.ops, spool: name })}\n`, replica.position)
        await this.#catchUp()
      }
      // the file goes once its events are in their files (a crash before: the next writer takes them again)
      for (const [id, entry] of read.bodies) this.#addUnwritten(id, entry)
      this.#spooledBodies.push(name)
    }
  }

  // -- the crash path ---------------------------------------------------------------------------

  /**
   * Writes what waits before returning: the crash path runs no more callbacks. When another process
   * holds the lock for longer than CRASH_LOCK_WAIT_MS, the batch goes to the spool instead.
   */
  #commitSync(): void {
    // both locks, the events lock first as everywhere; one this process holds already (an async write
    // under way when the process dies) is used as it is
    const taken: WriteLock[] = []
    for (const lock of [this.#eventsLock, this.#lock]) {
      if (lock.held) continue
      if (!lock.acquireSync(CRASH_LOCK_WAIT_MS)) {
        for (const held of taken) held.release()
        this.#spoolPending()
        return
      }
      taken.push(lock)
    }
    try {
      if (this.#catchUpSync() !== 'ok') {
        const replica = this.#replica!
        replica.position = { gen: replica.position.gen, offset: this.#journal.start(replica.position.gen, null) }
      }
      if (this.#appendPending()) this.#catchUpSync()
      this.#writeEventsSync()
      for (const name of this.#spooledBodies.splice(0)) this.#spool.remove(name)
    } finally {
      for (const held of taken) held.release()
    }
  }

  /** Leaves the waiting changes and the unwritten events in the spool, for the next writer. */
  #spoolPending(): void {
    const pending = this.#pending.splice(0)
    const bodies: Array<[string, EventEntry]> = []
    for (const [id, entries] of this.#unwritten) for (const entry of entries) bodies.push([id, entry])
    for (const { op, entry } of pending) if (op.o === 'r' && entry !== null) bodies.push([op.i, entry])
    if (pending.length === 0 && bodies.length === 0) return
    const name = this.#spool.writeSync({ id: newBatchId(), ops: pending.map((p) => p.op) }, bodies)
    this.#unwritten.clear()
    this.#unwrittenCount = 0
    this.#unwrittenBytes = 0
    const index = this.#replica!.index
    for (const p of pending) p.done(p.op.o === 'r' ? provisionalResult(index, p.op) : undefined)
    this.#warn(new Error(`faultline: the write lock of ${this.path} stayed taken for ${CRASH_LOCK_WAIT_MS} ms; left ${pending.length} changes in the spool (${name}) for the next writer`))
  }

  // -- the Store interface ----------------------------------------------------------------------

  async record(input: RecordInput): Promise<RecordResult> {
    // without an await when open: a flushSync right after record() writes it
    if (this.#replica === null || this.#closed) await this.#use()
    const now = Date.now()
    const facts = factsOf(input, now)
    // serialise first: an event JSON cannot hold must not leave the counts changed
    const entry = facts.shed ? null : toEntry(input.event, now)
    return (await this.#submit(factsOp(facts, now), entry)) as RecordResult
  }

  /** `record`, synchronously, for the crash path; opens the store synchronously if it is not open yet. */
  recordSync(input: RecordInput): RecordResult {
    if (this.#closed) throw new Error(`faultline: the file store ${this.path} is closed`)
    const replica = this.#replica ?? this.#openSync()
    const now = Date.now()
    const facts = factsOf(input, now)
    const entry = facts.shed ? null : toEntry(input.event, now)
    const op = factsOp(facts, now)
    let result: RecordResult | undefined
    let error: Error | undefined
    this.#pending.push({ op, entry, done: (r) => (result = r as RecordResult), fail: (e) => (error = e) })
    this.#commitSync()
    if (error) throw error
    return result ?? provisionalResult(replica.index, op)
  }

  flushSync(): void {
    if (this.#replica === null) return
    this.#commitSync()
  }

  deferAlertSync(alert: DeferredAlert): void {
    this.#deferred.addSync(alert)
  }

  takeDeferredAlerts(): Promise<DeferredAlert[]> {
    return this.#deferred.take()
  }

  async getIssue(id: string): Promise<Issue | null> {
    return (await this.#view()).get(id)
  }

  async listIssues(options?: ListIssuesOptions): Promise<IssuePage> {
    return (await this.#view()).list(options)
  }

  async countIssues(q?: string): Promise<StatusCounts> {
    return (await this.#view()).count(q)
  }

  /** The issue's events, oldest first: its file, and what is counted but not written yet. */
  async #entries(issueId: unknown): Promise<EventEntry[]> {
    const index = await this.#view()
    if (!isIssueId(issueId) || !index.has(issueId)) return []
    // taken before reading the file: an event written meanwhile is then in one or the other
    const unwritten = [...(this.#unwritten.get(issueId) ?? [])]
    return mergeEntries(await this.#files.read(issueId), unwritten)
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
    const checked = checkUpdate(update)
    await this.#use()
    if (!isIssueId(id)) return null
    return (await this.#submit({ o: 'u', i: id, u: checked, n: Date.now() }, null)) as Issue | null
  }

  async deleteIssue(id: string): Promise<boolean> {
    await this.#use()
    if (!isIssueId(id)) return false
    return (await this.#submit({ o: 'd', i: id }, null)) as boolean
  }

  async histogram(issueId: string, options: HistogramOptions): Promise<number[]> {
    return (await this.#view()).histogram(issueId, options)
  }

  async countEventsSince(issueId: string, since: Date): Promise<number> {
    return (await this.#view()).countSince(issueId, since)
  }

  async tagBreakdown(issueId: string, options?: { limit?: number }): Promise<TagBreakdown[]> {
    return (await this.#view()).tagBreakdown(issueId, options)
  }

  async claimAlert(key: string, options: { issueId: string; expiresAt?: Date }): Promise<boolean> {
    const claim = checkClaim(key, options)
    await this.#use()
    return (await this.#submit({ o: 'c', k: claim.key, i: claim.issueId, x: claim.expiresAt, n: Date.now() }, null)) as boolean
  }

  async maintain(options: MaintainOptions = {}): Promise<MaintainResult> {
    const args = maintainArguments(options, this.#retention)
    this.#retention = args.retention
    await this.#use()
    const swept = (await this.#submit({ o: 'm', b: args.autoResolveBefore, n: args.now }, null)) as ReturnType<IssueIndex['maintain']>
    await this.#commit()
    const prunedEvents = await this.#withEventsLock(() => this.#prune(args.retention, args.now))
    // what was pruned is in the journal (the counts of stored events, the log's events_pruned lines)
    // before the sweep answers, as its other changes are
    await this.#commit()
    return { prunedEvents, resolvedIssues: swept.resolvedIssues, unignoredIssues: swept.unignoredIssues }
  }

  /** Rewrites the files of issues holding more events than the retention allows, or older ones. */
  async #prune(retention: Retention, now: number): Promise<number> {
    const index = this.#replica!.index
    const cutoff = now - retention.maxAgeMs
    const meter = new SliceMeter()
    const ops: Op[] = []
    let pruned = 0
    for (const id of index.ids()) {
      const stored = index.storedEvents(id)
      if (stored.count <= retention.maxEventsPerIssue && (stored.oldest === null || stored.oldest >= cutoff)) continue
      // events not written yet go into the rewrite rather than after it
      const all = mergeEntries(await this.#files.read(id, meter), this.#unwritten.get(id) ?? [])
      const drop = prunable(all, retention, now)
      const keep = all.slice(drop)
      if (drop > 0 || this.#unwritten.has(id)) await this.#files.rewrite(id, keep, meter)
      this.#forgetUnwritten(id)
      ops.push({ o: 's', i: id, c: keep.length, t: keep.length > 0 ? keep[0].t : null, p: drop, n: now })
      pruned += drop
    }
    this.#queueInternal(ops)
    this.#lastWrite = meter.stats()
    return pruned
  }

  async listUsers(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<UserPage | null> {
    return (await this.#view()).listUsers(issueId, options)
  }

  async listActivity(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<ActivityPage | null> {
    return (await this.#view()).listActivity(issueId, options)
  }

  async addNote(issueId: string, note: { text: string; actor: string }): Promise<Activity | null> {
    const checked = checkNote(note)
    await this.#use()
    if (!isIssueId(issueId)) return null
    return (await this.#submit({ o: 'a', i: issueId, tx: checked.text, a: checked.actor, n: Date.now() }, null)) as Activity | null
  }

  async noteRuleFired(ruleKey: string, at: Date): Promise<void> {
    const checked = checkRuleFired(ruleKey, at)
    await this.#use()
    await this.#submit({ o: 'f', k: checked.ruleKey, t: checked.at }, null)
  }

  async ruleFirings(): Promise<Record<string, string>> {
    return (await this.#view()).ruleFirings()
  }

  async claimSetting(name: string, value: string): Promise<string> {
    const checked = checkSetting(name, value)
    await this.#use()
    return (await this.#submit({ o: 'k', k: checked.name, v: checked.value }, null)) as string
  }

  async flush(): Promise<void> {
    await this.#use()
    await this.#commit()
    // records that arrived during that write
    if (this.#hasWork()) await this.#commit()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    try {
      await this.#ready.catch(() => {})
      if (this.#replica !== null) {
        await this.#commit()
        // the document is complete after a close when that is cheap: a small store, or a journal grown large
        const journal = this.#journal.size() - journalHeader(this.#replica.position.gen).length
        if (journal > 0 && (this.#lastDocBytes < MIN_CHECKPOINT_BYTES || journal > this.#lastDocBytes / 10)) {
          await this.#exclusive(() => this.#withJournalLock(() => this.#checkpoint()))
        }
      }
    } catch (err) {
      const lost = this.#pending.length
      for (const p of this.#pending.splice(0)) p.fail(err as Error)
      if (lost > 0) this.#warn(new Error(`faultline: closing the file store ${this.path}: ${lost} events and changes could not be written (${(err as Error).message})`))
      this.#shedUnwrittenSync((err as Error).message)
    } finally {
      openStores.delete(this)
      this.#lock.retire()
      this.#eventsLock.retire()
    }
  }

  /** The exit hook: write what waits and free the lock; nothing here may throw. */
  exitSync(): void {
    try {
      if (!this.#closed) this.flushSync()
    } catch (err) {
      try {
        this.#warn(err as Error)
        this.#shedUnwrittenSync((err as Error).message)
      } catch { /* exiting anyway */ }
    }
    try {
      this.#lock.retire()
      this.#eventsLock.retire()
    } catch (err) {
      try { this.#warn(err as Error) } catch { /* exiting anyway */ }
    }
  }
}

/**
 * What recording would say, without recording: for a batch left in the spool, whose real result
 * only the next writer learns. Enough for the crash's deferred alert (claims keep it to one).
 */
function provisionalResult(index: IssueIndex, op: Extract<Op, { o: 'r' }>): RecordResult {
  const known = index.get(op.i)
  const t = new Date(op.t).toISOString()
  const g = op.g
  const issue: Issue = known ?? {
    id: op.i, fingerprint: g?.fingerprint ?? [], title: g?.title ?? '', culprit: g?.culprit ?? '', type: g?.type ?? '', message: g?.message ?? '',
    level: op.l, status: 'unresolved', regressed: false, count: 0, userCount: 0, firstSeen: t, lastSeen: t, firstRelease: null, lastRelease: null,
    environments: [], resolvedAt: null, ignoreUntil: null, regressedAt: null, countSinceRegression: 0, usersSinceRegression: 0, shed: 0,
    resolvedInRelease: null, platforms: [op.p ?? 'node'],
  }
  return { issue: copyIssue({ ...issue, count: issue.count + 1, countSinceRegression: issue.countSinceRegression + 1 }), isNew: known === null, isRegression: known !== null && reopens(known, op.r), unignored: false }
}

let batchCounter = 0
function newBatchId(): string {
  return `${process.pid}-${(batchCounter++).toString(36)}-${randomBytes(3).toString('hex')}`
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

function flushOpenStoresOnExit(): void {
  for (const store of openStores) store.exitSync()
}
