import { AsyncLocalStorage } from 'node:async_hooks'
import { newEventId } from '../common/event-id.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { subscribeBreadcrumbs } from './breadcrumbs.js'
import { CaptureQueue } from './capture-queue.js'
import { buildEvent, buildEventFacts, eventFacts } from './event.js'
import { eventChanged, eventJson, parseEvent, unshareCached } from '../common/event-json.js'
import { groupEvent, userKey } from '../common/fingerprint.js'
import { CaptureFilters } from './capture-filters.js'
import { reportedError } from './reported-error.js'
import { withTimeout } from './timeout.js'
import { BodyBudget } from './body-budget.js'
import { Overflow } from './overflow.js'
import { enterRequestScope, expressErrorHandler, expressMiddleware } from './integrations/express.js'
import { onRequestArrival } from './integrations/request-arrival.js'
import { koaMiddleware } from './integrations/koa.js'
import { IN_MEMORY, resolveOptions, type ResolvedOptions } from './options.js'
import { limitReports, type Report } from '../common/report-limiter.js'
import { attachProcessHooks, detachProcessHooks, type Mechanism } from './process-hooks.js'
import { CrashPath } from './crash-path.js'
import { countRecorded, recordInput, type Capture, type CaptureCounts, type PendingCapture, type QueuedEvent } from './queued-capture.js'
import { Scope, type RequestSource } from './scope.js'
import type { Breadcrumb, FaultlineEvent, Level, Store, User } from './types.js'
import { LEVELS } from './types.js'
import { loadUserAgentParser, userAgentParserLoaded } from './user-agent.js'
import type { Alerter } from './alerts/alerter.js'
import type { Panel, PanelWhere } from './panel/index.js'
import type { BrowserIngest, IngestWhere } from './browser/ingest.js'
import type { BrowserCapture } from './browser/sentry-event.js'
import { browserKey } from './browser/key.js'
import type { ExceptionInfo, ScopeData } from './types.js'
import type { CaptureContext, TrackerOptions, TrackerStats } from './types.js'

/**
 * The embedded stores a tracker opens when its `store` option is a path or ':memory:'. They are
 * wired where the package's entry is (lib/index.ts), not here: the tracker loads no store itself.
 */
export interface EmbeddedStores {
  file(options: { path: string; onWarning: (err: Error) => void }): Store
  memory(): Store
}

/** What the Express and Koa glue needs from a tracker, and nothing more. */
export interface Glue {
  panelPath: string | null
  servePanel(req: IncomingMessage, res: ServerResponse, where: PanelWhere): void
  /** where the browser ingest is served, or null when it is off */
  browserPath: string | null
  serveBrowser(req: IncomingMessage, res: ServerResponse, where: IngestWhere): void
  openRequestScope(source: RequestSource): Scope
  runInScope<T>(scope: Scope, fn: () => T): T
  /** makes `scope` current for the rest of what runs from here, as a request that has just arrived */
  enterScope(scope: Scope): void
  /** whether `scope` is the current one (callbacks from event emitters can lose it) */
  isCurrent(scope: Scope): boolean
  captureRequestError(error: unknown, scope: Scope, mechanism: string): void
  /** the tracker this glue belongs to: a second `express()` of the same tracker shares the request's scope */
  owner: object
  /** says a mistake in how the app set faultline up (once per kind, through onInternalError) */
  warn(err: Error): void
  /** whether an error would be recorded were it captured: shouldCapture and ignoreErrors pass it (sampling aside) */
  wouldCapture(error: unknown): boolean
  /** calls `onRequest` as each request reaches the process's HTTP servers, until the stop it returns is called or the tracker closes */
  watchRequests(onRequest: (req: IncomingMessage, res: ServerResponse) => void): () => void
}

/**
 * How many records may be in the store at once: enough to keep a networked store busy (the
 * PostgreSQL store writes them in one statement). More made a hot issue slower across instances,
 * as their bigger statements queue for its row lock (`npm run bench:pg`).
 */
const STORE_CONCURRENCY = 8
const MAINTENANCE_EVERY_MS = 60_000
const DEFAULT_FLUSH_MS = 10_000
/** attempts after which an event that fails while the store answers is given up (and reported) */
const MAX_ATTEMPTS_WHILE_STORE_UP = 3
/**
 * The capture queue also holds at most maxQueueSize times this in events, as JSON (50 MB at the
 * default 10,000). A typical event is 2 to 5 KB, so this binds only when events are larger (a
 * request body or extra is kept up to the 256 KB an event may be): a thousand of those queued
 * behind a stuck store would otherwise hold hundreds of MB. Held on the heap, a built event takes
 * about 2 to 3 times its JSON (the event object, and its JSON kept for the store).
 */
const QUEUE_BYTES_PER_EVENT = 5_000
/** what a queued event counted from its facts alone holds, about (an estimate: it is never serialised here) */
const FACTS_BYTES = 600
/** how long records wait for the first maintenance sweep, which tells the store the retention */
const FIRST_SWEEP_WAIT_MS = 2000
/** how often what the full queue counted moves into it as room frees up */
const OVERFLOW_MOVE_MS = 10
/**
 * Captures waiting to be built hold the app's objects (the error, the request's headers and body):
 * past this many, a capture is counted from its facts at once instead, so a storm that outruns the
 * queue's slices costs tens of megabytes, not hundreds.
 */
const MAX_UNBUILT = 1000

/** Alerts decided or about to be, not yet handed to the mail transport or the webhook. */
function unsentAlerts(alerter: Alerter | null): number {
  const stats = alerter?.stats
  return stats ? stats.pendingChecks + (stats.mail?.pending ?? 0) + stats.webhooks.pending : 0
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}

function printable(value: unknown): string {
  try {
    return String(value)
  } catch {
    return '[unprintable message]'
  }
}

export class Tracker {
  /** the validated options, defaults filled in */
  readonly options: ResolvedOptions
  /** the store in use */
  readonly store: Store
  #als = new AsyncLocalStorage<Scope>()
  /**
   * The scope faultline's own work runs in (storing, alerting): what it logs or requests (a
   * printed email, a webhook) must not become breadcrumbs of the app's events. It keeps none.
   */
  #internal: Scope
  #global: Scope
  #queue: CaptureQueue<PendingCapture, QueuedEvent>
  #filters: CaptureFilters
  #alerter: Promise<Alerter | null>
  /** the alerter once loaded, for the exit hook, which cannot wait for the promise */
  #loadedAlerter: Alerter | null = null
  /** a beforeSend that fails fails for every event: said once a minute, with how many since */
  #reportBeforeSend: Report
  /** store failures repeat while it is down: said once per kind every 10 s, with a count */
  #reportStoreFailure: Report
  /** a panel that cannot load fails every page: said the same way */
  #reportPanelFailure: Report
  /** a mistake in how the app set faultline up: said once an hour at most */
  #reportSetup: Report
  /** the alerts of earlier crashes, handed to the alerter at start (never rejects) */
  #deferredAlerts: Promise<void>
  #panel: Promise<Panel> | null = null
  #browserIngest: Promise<BrowserIngest> | null = null
  /** the browser ingest's public key, asked of the store on first use (an app that serves no page never asks) */
  #browserKeyClaim: Promise<string> | null = null
  /** browser events whose frames are being mapped, not yet in the queue */
  #mapping = new Set<Promise<void>>()
  #fatal: CrashPath
  #stopBreadcrumbs: () => void
  #maintenanceTimer: NodeJS.Timeout
  /** the first sweep, which gives the store the retention: records wait for it (at most FIRST_SWEEP_WAIT_MS) */
  #retentionKnown: Promise<unknown>
  #budget: BodyBudget
  /** errors captured while the queue was full, counted from their facts */
  #overflow = new Overflow<QueuedEvent>()
  #overflowTimer: NodeJS.Timeout | null = null
  #stats: CaptureCounts = { captured: 0, stored: 0, shed: 0, dropped: 0, discarded: 0 }
  /** the store failed to answer: its recovery is said once */
  #storeDown = false
  /** records handed to the store and not yet answered: at exit a store that writes synchronously keeps them */
  #atStore = 0
  #closing: Promise<void> | null = null
  /** express() was asked for: its middleware opens each request's scope */
  #expressMiddleware = false
  /** set while requests get their scope on arrival (expressErrorHandler() without express()) */
  #stopRequestArrival: (() => void) | null = null
  /** the glue's watchers of arriving requests, stopped at close() */
  #requestWatchers = new Set<() => void>()

  constructor(input: TrackerOptions | undefined, stores: EmbeddedStores) {
    const options = resolveOptions(input)
    this.options = options
    this.#filters = new CaptureFilters(options, (err) => this.#report(err))
    this.store = options.store === IN_MEMORY ? stores.memory() : typeof options.store === 'string' ? this.#openFileStore(options.store, stores) : options.store
    this.#global = new Scope(null, options.maxBreadcrumbs)
    this.#internal = new Scope(this.#global, 0)
    this.#reportBeforeSend = limitReports((err) => this.#report(err), 60_000)
    this.#reportStoreFailure = limitReports((err) => this.#report(err))
    this.#reportPanelFailure = limitReports((err) => this.#report(err))
    this.#reportSetup = limitReports((err) => this.#report(err), 3_600_000)
    this.#budget = new BodyBudget(options.retention.maxEventsPerIssue)
    this.#queue = new CaptureQueue<PendingCapture, QueuedEvent>({
      maxBytes: options.maxQueueSize * QUEUE_BYTES_PER_EVENT,
      concurrency: recordConcurrency(this.store),
      prepare: (item) => this.#prepare(item),
      lighten: (item) => this.#lighten(item),
      handle: (item) => this.#als.run(this.#internal, () => this.#store(item)),
      onFailure: (error, item, attempts) => this.#onStoreFailure(error, item, attempts),
    })
    // Mail and the panel load on first use, so an app that never alerts or opens the panel pays nothing for them.
    this.#alerter = options.rules.length
      ? import('./alerts/alerter.js').then((m) => (this.#loadedAlerter = m.createAlerter({ store: this.store, options })), (err) => {
          this.#report(err)
          return null
        })
      : Promise.resolve(null)
    this.#deferredAlerts = options.rules.length > 0 && this.store.takeDeferredAlerts
      ? this.#als.run(this.#internal, () => this.#sendDeferredAlerts())
      : Promise.resolve()
    this.#fatal = new CrashPath({
      store: this.store,
      options,
      filters: this.#filters,
      counts: this.#stats,
      fatalCapture: (error, mechanism) => this.#fatalCapture(error, mechanism),
      build: (item) => this.#build(item),
      beforeSendNow: (item, event) => this.#runBeforeSend(item, event, false) as FaultlineEvent | null,
      recordQueued: (item) => this.#als.run(this.#internal, () => this.#store(item)),
      drain: (ms) => this.#queue.drain(ms),
      takeWaiting: () => {
        const { prepared, incoming } = this.#queue.takeWaiting()
        const folded = this.#overflow.take(Infinity).map(({ value, times }) => ({ ...value, times }))
        return [...prepared, ...incoming, ...folded]
      },
      waiting: () => this.#waiting(),
      atStore: () => this.#atStore,
      unsentAlerts: () => unsentAlerts(this.#loadedAlerter),
      flushAlerts: async (ms) => void (await (await this.#alerter)?.flush(ms)),
      report: (err) => this.#report(err),
    })
    attachProcessHooks(this.#fatal)
    this.#stopBreadcrumbs = subscribeBreadcrumbs((crumb) => this.getScope().addBreadcrumb(crumb))
    // retention from the first write: the first sweep tells the store what to keep before any record
    this.#retentionKnown = withTimeout(this.#maintain(), FIRST_SWEEP_WAIT_MS).catch(() => {})
    this.#maintenanceTimer = setInterval(() => this.#maintain(), MAINTENANCE_EVERY_MS).unref()
  }

  /**
   * The DSN pages send their errors to: `<origin><browser.path>/1` with the public key as its
   * user part, for the client's `data-dsn` or `Sentry.init({ dsn })`. A promise, as the key may
   * come from the store (it resolves at once when `browser.key` is set).
   */
  async browserDsn(origin: string): Promise<string> {
    const browser = this.options.browser
    if (!browser) throw new TypeError('faultline: browserDsn() needs the `browser` option. Set browser: true in createTracker({ ... }).')
    let url: URL
    try {
      url = new URL(String(origin))
    } catch {
      throw new TypeError(`faultline: browserDsn(origin) takes the origin pages are served from, like 'https://www.example.com', got ${JSON.stringify(String(origin).slice(0, 100))}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('faultline: browserDsn(origin) takes an http:// or https:// origin')
    return `${url.protocol}//${await this.#browserKey()}@${url.host}${browser.path}/1`
  }

  #browserKey(): Promise<string> {
    this.#browserKeyClaim ??= browserKey(this.options.browser!.key, this.store, (err) => this.#report(err))
    return this.#browserKeyClaim
  }

  /**
   * The file store at `file`. One that cannot be opened (a path under a file, a folder the app may
   * not write to, a network file system) must not stop the app from starting: it is said once, with
   * the fix, and errors are kept in memory meanwhile, so the panel still shows them.
   */
  #openFileStore(file: string, stores: EmbeddedStores): Store {
    try {
      return stores.file({ path: file, onWarning: (err: Error) => this.#report(err) })
    } catch (err) {
      this.#report(new Error(`${toError(err).message} Meanwhile, errors are kept in memory and lost when the app stops.`))
      return stores.memory()
    }
  }

  /** Records an exception; returns its event id at once. Never throws. */
  captureException(error: unknown, ctx?: CaptureContext): string {
    return this.#captureError(error, this.getScope(), { type: 'generic', handled: true }, ctx)
  }

  /** The filters, then the queue; never throws. */
  #captureError(error: unknown, scope: Scope, mechanism: { type: string; handled: boolean }, ctx?: CaptureContext): string {
    const eventId = newEventId()
    try {
      // shouldCapture is for what faultline catches on its own; an explicit captureException is recorded as asked
      const caught = mechanism.type !== 'generic'
      if (this.#filters.wants(error, caught ? 'request' : 'explicit')) this.#enqueue({ eventId, timestamp: new Date(), error, ctx, mechanism }, scope)
    } catch (err) {
      this.#report(err)
    }
    return eventId
  }

  /** Records a message event (level `info` unless told otherwise); returns its event id at once. Never throws. */
  captureMessage(message: string, levelOrCtx?: Level | CaptureContext): string {
    const eventId = newEventId()
    try {
      const ctx = typeof levelOrCtx === 'object' && levelOrCtx !== null ? levelOrCtx : undefined
      let level: Level = 'info'
      try {
        const wanted = typeof levelOrCtx === 'string' ? levelOrCtx : ctx?.level
        if (wanted && LEVELS.includes(wanted)) level = wanted
      } catch {
        // a hostile context object; the message is still worth keeping
      }
      const text = printable(message)
      if (!this.#filters.wantsMessage(text)) return eventId
      this.#enqueue({ eventId, timestamp: new Date(), message: text, level, ctx }, this.getScope())
    } catch (err) {
      this.#report(err)
    }
    return eventId
  }

  /** Runs `fn(scope)` in a child of the current scope; the child stays current across `await`. */
  withScope<T>(fn: (scope: Scope) => T): T {
    const child = new Scope(this.getScope(), this.options.maxBreadcrumbs)
    return this.#als.run(child, () => fn(child))
  }

  /** The current scope: the request's inside a request, else the global one. */
  getScope(): Scope {
    return this.#als.getStore() ?? this.#global
  }

  setTag(key: string, value: unknown): void {
    this.getScope().setTag(key, value)
  }

  setTags(tags: Record<string, unknown>): void {
    this.getScope().setTags(tags)
  }

  setExtra(key: string, value: unknown): void {
    this.getScope().setExtra(key, value)
  }

  setUser(user: User | null): void {
    this.getScope().setUser(user)
  }

  setContext(name: string, context: Record<string, unknown> | null): void {
    this.getScope().setContext(name, context)
  }

  addBreadcrumb(crumb: Partial<Breadcrumb>): void {
    this.getScope().addBreadcrumb(crumb)
  }

  /** Resolves true once every captured event is stored and every alert handed to the transport; false on timeout. */
  async flush(timeoutMs = DEFAULT_FLUSH_MS): Promise<boolean> {
    // the retry and delivery timers do not keep the process alive; a script awaiting flush must be
    // kept alive until it is done or the time is up, or it ends mid-way and loses what waited
    const keepAlive = setInterval(() => {}, 2 ** 30)
    try {
      return await this.#flush(timeoutMs)
    } finally {
      clearInterval(keepAlive)
    }
  }

  async #flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    const left = () => Math.max(0, deadline - Date.now())
    // browser events whose frames are being mapped go into the queue first
    while (this.#mapping.size > 0) {
      if (!(await withTimeout(Promise.all(this.#mapping), left()).then(() => true, () => false))) return false
    }
    do {
      this.#moveOverflow()
      if (!(await this.#queue.drain(left()))) return false
    } while (this.#overflow.count > 0)
    await this.#deferredAlerts
    const alerter = await this.#alerter
    if (alerter && !(await alerter.flush(left()))) return false
    try {
      if (this.store.flush) await withTimeout(this.store.flush(), left())
    } catch (err) {
      this.#report(err)
      return false
    }
    return true
  }

  /** Flushes, detaches the process handlers, stops timers and closes the store. */
  close(timeoutMs = DEFAULT_FLUSH_MS): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = Date.now() + timeoutMs
      const alerter = await this.#alerter
      if (!(await this.flush(timeoutMs))) {
        const lost = this.#waiting()
        if (lost > 0) {
          this.#stats.dropped += lost
          this.#report(new Error(`close(): ${lost} captured events were not stored within ${timeoutMs} ms and are lost; the store is down or slow (pass close() a longer timeout)`))
        }
        const unsent = unsentAlerts(alerter)
        if (unsent > 0) this.#report(new Error(`close(): ${unsent} alerts were not sent within ${timeoutMs} ms and are dropped; the mail server or a webhook is down or slow`))
      }
      detachProcessHooks(this.#fatal)
      this.#stopBreadcrumbs()
      this.#stopRequestArrival?.()
      for (const stop of this.#requestWatchers) stop()
      clearInterval(this.#maintenanceTimer)
      if (this.#overflowTimer) clearTimeout(this.#overflowTimer)
      this.#queue.stop()
      try {
        // what is left of the time: a hanging mail server must not hold close() past it (what it
        // still held was reported above)
        if (alerter) await withTimeout(alerter.close(), Math.max(0, deadline - Date.now())).catch(() => {})
        await this.store.close()
      } catch (err) {
        this.#report(err)
      }
    })()
    return this.#closing
  }

  /** Counts since the tracker started: what was captured, stored, shed, given up, and what waits. */
  stats(): TrackerStats {
    return { ...this.#stats, queued: this.#waiting() }
  }

  /** Captured events not yet recorded, given up or discarded. */
  #waiting(): number {
    const { captured, stored, shed, dropped, discarded } = this.#stats
    return Math.max(0, captured - stored - shed - dropped - discarded)
  }

  /** Express: `app.use(tracker.express())` before the routes. */
  express() {
    this.#expressMiddleware = true
    this.#loadUserAgentParser()
    return expressMiddleware(this.#glue())
  }

  /** Express: an error handler for apps that place capture explicitly, after their routes. */
  expressErrorHandler() {
    const glue = this.#glue()
    this.#loadUserAgentParser()
    // with no express() before the routes, requests get their scope where they arrive
    if (!this.#expressMiddleware && !this.#stopRequestArrival && !this.#closing) {
      this.#stopRequestArrival = onRequestArrival((req) => enterRequestScope(glue, req))
    }
    return expressErrorHandler(glue)
  }

  /** Koa: `app.use(tracker.koa())` as the first middleware. */
  koa() {
    this.#loadUserAgentParser()
    return koaMiddleware(this.#glue())
  }

  /**
   * An app that serves HTTP has events with a request, tagged with their browser and OS: the parser
   * is loaded now, and events wait for it in the queue (a few milliseconds, once), so that the
   * first ones are tagged like the rest. One that cannot be loaded is reported; events go on without.
   */
  #loadUserAgentParser(): void {
    if (userAgentParserLoaded()) return
    const loading = loadUserAgentParser()
    loading.catch((err: unknown) => this.#report(new Error(`could not load the user agent parser (bowser); events get no browser or os tags: ${toError(err).message}`)))
    this.#queue.waitFor(loading)
  }

  #glue(): Glue {
    const panel = this.options.panel
    return {
      panelPath: panel ? panel.path : null,
      servePanel: (req, res, where) => this.#servePanel(req, res, where),
      browserPath: this.options.browser ? this.options.browser.path : null,
      serveBrowser: (req, res, where) => this.#serveBrowser(req, res, where),
      openRequestScope: (source) => new Scope(this.#global, this.options.maxBreadcrumbs).setRequest(source),
      runInScope: (scope, fn) => this.#als.run(scope, fn),
      enterScope: (scope) => this.#als.enterWith(scope),
      isCurrent: (scope) => this.#als.getStore() === scope,
      captureRequestError: (error, scope, mechanism) => {
        this.#captureError(error, scope, { type: mechanism, handled: false })
      },
      owner: this,
      warn: (err) => this.#reportSetup(err, err.message),
      watchRequests: (onRequest) => this.#watchRequests(onRequest),
      wouldCapture: (error) => this.#filters.wouldCapture(error),
    }
  }

  #watchRequests(onRequest: (req: IncomingMessage, res: ServerResponse) => void): () => void {
    if (this.#closing) return () => {}
    const unsubscribe = onRequestArrival(onRequest)
    const stop = () => {
      unsubscribe()
      this.#requestWatchers.delete(stop)
    }
    this.#requestWatchers.add(stop)
    return stop
  }

  #servePanel(req: IncomingMessage, res: ServerResponse, where: PanelWhere): void {
    this.#panel ??= import('./panel/index.js').then((m) => m.createPanel({ store: this.store, options: this.options, stats: () => this.stats() }))
    this.#panel
      .then((panel) => panel.handle(req, res, where))
      .catch((err) => {
        this.#reportPanelFailure(toError(err), 'panel')
        if (!res.headersSent) {
          res.statusCode = 500
          res.setHeader('content-type', 'text/plain; charset=utf-8')
        }
        if (!res.writableEnded) res.end('faultline: the panel failed; see the server log')
      })
  }

  #serveBrowser(req: IncomingMessage, res: ServerResponse, where: IngestWhere): void {
    this.#browserIngest ??= import('./browser/ingest.js').then((m) => new m.BrowserIngest({
      browser: this.options.browser!,
      scrubFields: this.options.scrubFields,
      maxBreadcrumbs: this.options.maxBreadcrumbs,
      root: this.options.root,
      sourceContext: this.options.sourceContext,
      report: (err) => this.#report(err),
      warn: (err) => this.#reportSetup(err, err.message),
      key: () => this.#browserKey(),
      groupOf: (capture) => groupEvent(buildEventFacts({ ...capture, eventId: '', options: this.options })).hash,
      record: (capture, map) => this.#recordBrowser(capture, map),
    }))
    this.#browserIngest
      .then((ingest) => ingest.handle(req, res, where))
      .catch((err) => {
        this.#reportPanelFailure(toError(err), 'browser')
        if (!res.headersSent) res.statusCode = 500
        if (!res.writableEnded) res.end()
      })
  }

  /**
   * A browser's event, through the same filters, queue, grouping and rules as a server event's.
   * Its frames are mapped through the source maps first, off the request that brought it.
   */
  #recordBrowser(capture: BrowserCapture, map: (exception: ExceptionInfo) => ExceptionInfo): string | null {
    if (this.#closing) return null
    const exception = capture.exception
    if (exception ? !this.#filters.wantsDescribed(exception.type, exception.value) : !this.#filters.wantsMessage(capture.message ?? '')) return null
    const pending: PendingCapture = { ...capture, eventId: newEventId(), timestamp: new Date() }
    // after the answer is on its way: a map read from disk the first time takes milliseconds
    const mapped = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      try {
        if (exception) pending.exception = map(exception)
      } catch (err) {
        // recorded with its frames as sent
        this.#report(err)
      }
      this.#mapping.delete(mapped)
      this.#enqueueSnapshot(pending, pending.scope, () => pending.scope)
    })
    this.#mapping.add(mapped)
    return pending.eventId
  }

  #enqueue(capture: Capture, scope: Scope): void {
    if (this.#closing) {
      this.#report(new Error(`an event was captured after close() and was not stored (${capture.eventId})`))
      return
    }
    this.#enqueueSnapshot(capture, null, () => scope.snapshot(), () => scope.snapshotFacts())
  }

  /**
   * Into the queue, or counted from its facts when the queue is full. A browser event accepted
   * before close() comes here once its frames are mapped, and close() waits for it (see #flush).
   */
  #enqueueSnapshot(capture: Capture, scope: ScopeData | null, snapshot: () => ScopeData, facts: () => ScopeData = snapshot): void {
    this.#stats.captured += 1
    const full = this.#queue.size + this.#overflow.size >= this.options.maxQueueSize || this.#queue.unprepared >= MAX_UNBUILT
    if (full) this.#countOnly(capture, facts(), snapshot)
    else this.#queue.push({ ...capture, scope: scope ?? snapshot() })
  }

  /**
   * The queue is full, or has more than it builds in time: the error is counted from its facts,
   * here and now (some tens of microseconds, the work its building would begin with), and folded
   * with identical ones; nothing of the app's objects is kept, and beforeSend does not see it. An
   * issue whose budget still wants full events (a new issue's first) waits to be built after all.
   */
  #countOnly(capture: Capture, facts: ScopeData, snapshot: () => ScopeData): void {
    const event = buildEventFacts({ ...capture, scope: facts, options: this.options })
    const grouping = groupEvent(event)
    if (!this.options.beforeSend && this.#queue.size < this.options.maxQueueSize && this.#budget.take(grouping.hash)) {
      this.#queue.push({ ...capture, scope: snapshot(), grouping })
      return
    }
    const key = JSON.stringify([grouping.hash, userKey(event.user), event.level, event.tags, event.transaction, Math.floor(Date.parse(event.timestamp) / 1000)])
    this.#overflow.add(key, () => ({ eventId: capture.eventId, event, final: true, grouping, shed: true, times: 0, recorded: 0 }))
    this.#scheduleOverflow()
  }

  #scheduleOverflow(): void {
    if (this.#overflowTimer !== null || this.#overflow.count === 0) return
    this.#overflowTimer = setTimeout(() => {
      this.#overflowTimer = null
      this.#moveOverflow()
    }, OVERFLOW_MOVE_MS).unref()
  }

  /** Moves what the full queue counted into it, as far as there is room. */
  #moveOverflow(): void {
    const room = this.options.maxQueueSize - this.#queue.size
    for (const { value, times } of this.#overflow.take(Math.max(0, room))) this.#queue.pushPrepared({ ...value, times }, FACTS_BYTES)
    this.#scheduleOverflow()
  }

  /**
   * beforeSend failed: the event is taken again as built (from its JSON), so nothing it changed
   * before failing is kept. A failing beforeSend fails for every event, so it is said once a
   * minute, with a count.
   */
  #keptUnchanged(json: string, problem: string, kind: string): FaultlineEvent {
    this.#reportBeforeSend(new Error(`beforeSend ${problem}; the event was kept unchanged`), kind)
    return parseEvent(json)
  }

  /** Builds a capture's full event: in the queue's worker, off the caller's path, before it waits for the store. */
  #build(item: PendingCapture): QueuedEvent {
    const event = buildEvent({ ...item, options: this.options })
    const queued: QueuedEvent = { eventId: item.eventId, event, final: !this.options.beforeSend, shed: false, times: 1, recorded: 0 }
    if (!queued.final) queued.error = item.error
    if (typeof item.error === 'object' && item.error !== null) queued.thrown = new WeakRef(item.error)
    return queued
  }

  /**
   * The queue's prepare step. Without beforeSend the issue is found first, from the event's facts:
   * within the issue's budget the full event is built (its JSON made once, and kept for the store),
   * past it the facts are all that is kept and the body is shed. With beforeSend every event is
   * built, as beforeSend must see it.
   */
  #prepare(item: PendingCapture): { value: QueuedEvent; bytes: number } | null {
    try {
      if (item.grouping) return this.#prepareFull({ ...this.#build(item), grouping: item.grouping })
      if (!this.options.beforeSend) {
        const facts = buildEventFacts({ ...item, options: this.options })
        const grouping = groupEvent(facts)
        if (!this.#budget.take(grouping.hash)) {
          return { value: { eventId: item.eventId, event: facts, final: true, grouping, shed: true, times: 1, recorded: 0 }, bytes: FACTS_BYTES }
        }
        return this.#prepareFull({ ...this.#build(item), grouping })
      }
      return this.#prepareFull(this.#build(item))
    } catch (err) {
      this.#report(err)
      this.#stats.dropped += 1
      return null
    }
  }

  /** A built event waiting for the store, and its size as JSON (made once, and kept for the store). */
  #prepareFull(queued: QueuedEvent): { value: QueuedEvent; bytes: number } {
    return { value: queued, bytes: queued.event ? eventJson(queued.event).length : 0 }
  }

  /** An event the queue has no room for in bytes: its facts are kept, its body shed (beforeSend does not see it). */
  #lighten(item: QueuedEvent): { value: QueuedEvent; bytes: number } {
    const event = item.event && eventFacts(item.event)
    return { value: { ...item, event, error: undefined, final: true, grouping: item.grouping ?? (event ? groupEvent(event) : undefined), shed: true }, bytes: FACTS_BYTES }
  }

  /** The worker side of a built capture: beforeSend (once, however often the store fails), group, record, alert. */
  async #store(item: QueuedEvent): Promise<void> {
    await this.#retentionKnown
    if (!item.final) {
      item.event = await this.#beforeSend(item)
      item.final = true
      item.error = undefined
      if (item.event !== null) {
        item.grouping = groupEvent(item.event)
        // every event was built for beforeSend; past its issue's budget only its body is shed
        item.shed = !this.#budget.take(item.grouping.hash)
      }
    }
    const event = item.event
    if (event === null) {
      this.#stats.discarded += item.times - item.recorded
      item.recorded = item.times
      return
    }
    const grouping = item.grouping ?? groupEvent(event)
    this.#atStore += 1
    let result
    try {
      result = await this.store.record(recordInput(item, event, grouping))
    } finally {
      this.#atStore -= 1
    }
    countRecorded(item, this.#stats)
    // without rules there is no alerter to wait for, and every event would pay for the wait
    if (this.options.rules.length > 0) (await this.#alerter)?.onRecorded(result, event)
    if (this.#storeDown) {
      this.#storeDown = false
      this.#report(new Error('the store answers again; the events that waited are being stored'))
    }
  }

  /** The event as beforeSend leaves it, awaited (in the queue's worker). */
  async #beforeSend(item: QueuedEvent): Promise<FaultlineEvent | null> {
    if (!this.options.beforeSend || item.event === null) return item.event
    return this.#runBeforeSend(item, item.event, true)
  }

  /**
   * Runs beforeSend once on a built event, in either of two ways of waiting: awaited in the
   * queue's worker, or not at all on the crash path, where an async answer cannot be waited for
   * (the event then stays as built). Either way the same rules: null drops the event, an object
   * is the event kept; anything else, or a throw, keeps the event as built (from its JSON, without
   * what was changed in place) and is reported.
   */
  #runBeforeSend(item: QueuedEvent, built: FaultlineEvent, wait: boolean): FaultlineEvent | null | Promise<FaultlineEvent | null> {
    const json = eventJson(built)
    unshareCached(built)
    const verdict = (answer: unknown, threw: boolean): FaultlineEvent | null => {
      // it may have changed the event in place: the JSON kept from building it no longer holds
      eventChanged(built)
      if (threw) return this.#keptUnchanged(json, `threw (${toError(answer).message})`, 'threw')
      if (answer === null) return null
      if (isThenable(answer)) return parseEvent(json)
      if (typeof answer !== 'object') return this.#keptUnchanged(json, 'returned neither the event nor null', 'returned')
      return answer as FaultlineEvent
    }
    let answer: unknown
    try {
      answer = this.options.beforeSend!(built, { originalException: item.error, event_id: item.eventId })
    } catch (err) {
      return verdict(err, true)
    }
    if (!isThenable(answer)) return verdict(answer, false)
    if (wait) return Promise.resolve(answer).then((event) => verdict(event, false), (err: unknown) => verdict(err, true))
    // not waited for; its failure later must not become an unhandled rejection of the app's
    Promise.resolve(answer).catch(() => {})
    return verdict(answer, false)
  }

  /**
   * A store that is down pauses the whole queue (retry with backoff); a store that answers but
   * refuses one event has that event tried again at the back of the queue, alone, and then given up.
   */
  async #onStoreFailure(error: unknown, item: QueuedEvent, attempts: number): Promise<'retry' | 'requeue' | 'drop'> {
    const message = toError(error).message
    let answers = true
    try {
      await this.store.getIssue('0000000000000000')
    } catch {
      answers = false
    }
    if (!answers) {
      // kept and retried for as long as it takes; close() gives up what is left when its time is up, and says so
      this.#storeDown = true
      this.#reportStoreFailure(new Error(`could not store an event, the store is unreachable; events wait in the queue: ${message}`), 'down')
      return 'retry'
    }
    if (attempts < MAX_ATTEMPTS_WHILE_STORE_UP) return 'requeue'
    const lost = item.times - item.recorded
    this.#stats.dropped += lost
    this.#reportStoreFailure(new Error(`gave up ${lost === 1 ? 'an event' : `${lost} events`} the store refused ${attempts} times: ${message}`), 'refused')
    return 'drop'
  }

  #fatalCapture(error: unknown, mechanism: Mechanism): PendingCapture {
    return {
      eventId: newEventId(),
      timestamp: new Date(),
      error,
      level: mechanism === 'uncaughtException' ? 'fatal' : 'error',
      mechanism: { type: mechanism === 'uncaughtException' ? 'onuncaughtexception' : 'onunhandledrejection', handled: false },
      scope: this.getScope().snapshot(),
    }
  }

  /** What earlier crashes recorded but could not alert on: the rules decide now, and claims keep it to once. */
  async #sendDeferredAlerts(): Promise<void> {
    try {
      const alerter = await this.#alerter
      const deferred = await this.store.takeDeferredAlerts!()
      for (const { result, event } of deferred) alerter?.onRecorded(result, event)
    } catch (err) {
      this.#report(err)
    }
  }

  async #maintain(): Promise<void> {
    const now = new Date()
    try {
      await this.store.maintain({
        now,
        retention: this.options.retention,
        autoResolveBefore: this.options.autoResolveMs ? new Date(now.getTime() - this.options.autoResolveMs) : undefined,
      })
    } catch (err) {
      this.#report(err)
    }
  }

  #report(error: unknown): void {
    try {
      this.options.onInternalError(reportedError(error))
    } catch {
      // onInternalError is the last stop: nothing may escape into the host app
    }
  }
}

/** How many records may wait on the store at once: what it asks for, within reason, else 8. */
function recordConcurrency(store: Store): number {
  const asked = store.recordConcurrency
  return typeof asked === 'number' && Number.isInteger(asked) && asked >= 1 ? Math.min(asked, 100_000) : STORE_CONCURRENCY
}

