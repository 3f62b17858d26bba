/**
 * The shapes faultline passes around: events (Sentry's shape), issues, and the store interface.
 * Everything here is part of the public contract; see DESIGN.md.
 */

export type Level = 'fatal' | 'error' | 'warning' | 'log' | 'info' | 'debug'
export const LEVELS: readonly Level[] = ['fatal', 'error', 'warning', 'log', 'info', 'debug']

/** Issue and event ids: grouping hashes and Sentry's hex ids; the file store also uses issue ids as file names. */
export const ISSUE_ID = /^[A-Za-z0-9_-]{1,64}$/

/** Tag keys and values are cut to these lengths, as Sentry's are; events carry them so, and stores count them so. */
export const TAG_KEY_MAX_LENGTH = 32
export const TAG_VALUE_MAX_LENGTH = 200

export type IssueStatus = 'unresolved' | 'resolved' | 'ignored'
export const STATUSES: readonly IssueStatus[] = ['unresolved', 'resolved', 'ignored']

export interface User {
  id?: string | number
  email?: string
  username?: string
  ip_address?: string
  [key: string]: unknown
}

export interface Breadcrumb {
  timestamp: string
  type?: string
  category?: string
  message?: string
  level?: Level
  data?: Record<string, unknown>
}

export interface StackFrame {
  function?: string
  /** relative to the app root for files under it, else as printed by V8 */
  filename?: string
  abs_path?: string
  lineno?: number
  colno?: number
  in_app: boolean
  pre_context?: string[]
  context_line?: string
  post_context?: string[]
  /**
   * The frame as the stack gave it (the compiled or minified file), when it was mapped through a
   * source map: the fields above then describe the original source.
   */
  raw?: { filename: string; lineno: number; colno: number; function?: string }
}

export interface Stacktrace {
  /** oldest call first, as Sentry orders them */
  frames: StackFrame[]
  /** [start, end) indexes of frames dropped from the middle when the stack was too deep */
  frames_omitted?: [number, number]
}

export interface ExceptionInfo {
  type: string
  value: string
  stacktrace?: Stacktrace
  mechanism?: { type: string; handled: boolean }
  /** err.cause, err.cause.cause, ... (at most 5), outermost first */
  causes?: Array<Omit<ExceptionInfo, 'causes'>>
}

export interface RequestInfo {
  method?: string
  url?: string
  headers?: Record<string, string>
  query_string?: string | Record<string, unknown>
  data?: unknown
  cookies?: Record<string, string>
  /** REMOTE_ADDR holds the client ip, as in Sentry */
  env?: Record<string, string>
}

export interface FaultlineEvent {
  /** 32 lowercase hex characters */
  event_id: string
  /** ISO 8601 */
  timestamp: string
  level: Level
  exception?: ExceptionInfo
  message?: string
  tags: Record<string, string>
  extra: Record<string, unknown>
  user?: User
  request?: RequestInfo
  contexts: Record<string, Record<string, unknown>>
  breadcrumbs: Breadcrumb[]
  environment: string
  release?: string
  server_name?: string
  /** the fingerprint as configured, e.g. ['{{ default }}'] */
  fingerprint: string[]
  /** the route or function the event happened in, e.g. 'GET /users/:id' */
  transaction?: string
  /** which parts were cut to fit the caps, e.g. ['message', 'extra.payload', 'breadcrumbs'] */
  truncated?: string[]
  /** where it happened: 'node' for the server, 'javascript' for a browser; 'node' when absent */
  platform?: 'node' | 'javascript'
}

/** How an issue is named: what grouping derives from its first event, and the issue shows. */
export interface IssueNaming {
  /** the components that were hashed, after '{{ default }}' was expanded */
  fingerprint: string[]
  /** 'TypeError: Cannot read properties of undefined (reading 'x')' */
  title: string
  /** where it happened: 'getUser (routes/users.js)' */
  culprit: string
  type: string
  message: string
  level: Level
}

/** What grouping derives from an event: the issue it belongs to and how that issue is named. */
export interface Grouping extends IssueNaming {
  /** 16 hex characters; becomes the issue id */
  hash: string
}

export interface IgnoreUntil {
  /** absolute targets: the ignore ends when count reaches `count` or userCount reaches `userCount` */
  count?: number
  userCount?: number
  /** ISO time at which the ignore ends */
  at?: string
}

export interface Issue extends IssueNaming {
  id: string
  status: IssueStatus
  /** true once a resolved issue came back; cleared when resolved again */
  regressed: boolean
  count: number
  userCount: number
  firstSeen: string
  lastSeen: string
  firstRelease: string | null
  lastRelease: string | null
  environments: string[]
  /** when it was last resolved, else null */
  resolvedAt: string | null
  /** set while ignored with an end */
  ignoreUntil: IgnoreUntil | null
  /** when it last regressed, else null */
  regressedAt: string | null
  /** events and distinct users since the issue was first seen or last regressed; thresholds count these */
  countSinceRegression: number
  usersSinceRegression: number
  /** events counted (in `count`, users and tags) whose details were not kept: shed under load */
  shed: number
  /**
   * set while resolved "in the next release": the release that was current then. Events of that
   * release keep the issue resolved; an event of any other release regresses it. Else null.
   */
  resolvedInRelease: string | null
  /** where its events came from: 'node' (the server) and 'javascript' (browsers), in the order first seen */
  platforms: Array<'node' | 'javascript'>
}

/** What the tracker hands the store to record one event. */
export interface RecordInput {
  event: FaultlineEvent
  grouping: Grouping
  /** the distinct-user key (id, else email, else username, else ip_address), or null */
  userKey: string | null
  /**
   * count the event but do not keep it: under load the tracker sheds event bodies, never the
   * fact that an error happened (its count, user, tags and time still count in full)
   */
  shed?: boolean
  /**
   * how many errors this one record counts, 1 when absent. Under load the tracker folds shed
   * errors that count alike (same issue, user, tags and level, in the same second) into one
   * record; above 1 only with `shed`. The event id is the first error's; a store that keeps a row
   * per error names the others with `foldedEventId`.
   */
  times?: number
}

export interface RecordResult {
  issue: Issue
  /** this event created the issue */
  isNew: boolean
  /** this event reopened a resolved issue */
  isRegression: boolean
  /** this event ended an ignore (its count or users target was reached, or its time passed) */
  unignored: boolean
}

export type IssueSort = 'lastSeen' | 'firstSeen' | 'events' | 'users'
export const SORTS: readonly IssueSort[] = ['lastSeen', 'firstSeen', 'events', 'users']

export interface ListIssuesOptions {
  /** default 'unresolved'; 'all' for every status */
  status?: IssueStatus | 'all'
  /** search syntax: free text and key:value terms (see common/search.ts) */
  q?: string
  /** default 'lastSeen'; always descending */
  sort?: IssueSort
  /** default 25, at most 100 */
  limit?: number
  cursor?: string | null
}

export interface IssuePage {
  issues: Issue[]
  nextCursor: string | null
}
export interface EventPage {
  events: FaultlineEvent[]
  nextCursor: string | null
}

/** What a status change may say: `until` only with 'ignored', `inRelease` only with 'resolved'. */
export interface IssueUpdate {
  status: IssueStatus
  until?: { events: number } | { users: number } | { for: string } | null
  /** resolve in the next release: stay resolved for events of this release (the one current now) */
  inRelease?: string
  /** who made the change, for the activity log: the panel user's name, 'panel' or 'API' (default) */
  actor?: string
}

/** One user an issue affected, counted by the distinct-user key. */
export interface AffectedUser {
  /** the distinct-user key: id, else email, else username, else ip_address */
  key: string
  /** every field the app set, as on this user's latest event */
  user: User
  /** this user's events in the issue */
  count: number
  firstSeen: string
  lastSeen: string
}

export interface UserPage {
  /** most events first */
  users: AffectedUser[]
  nextCursor: string | null
}

/** What the activity log records. */
export type ActivityKind =
  | 'first_seen'
  | 'resolved'
  | 'unresolved'
  | 'ignored'
  /** an ignore ended: its count, users or time was reached */
  | 'unignored'
  /** a resolved issue came back */
  | 'regressed'
  /** resolved by `autoResolve` */
  | 'auto_resolved'
  /** events deleted by retention */
  | 'events_pruned'
  | 'note'

/** One line of an issue's activity log. */
export interface Activity {
  /** unique within the issue; ordered as the log is */
  id: string
  kind: ActivityKind
  /** ISO time */
  at: string
  /** who did it: the panel user's name, 'panel', 'API', or 'faultline' for what happened by itself */
  actor: string
  /** note: its text */
  text?: string
  /** ignored: the end it was given */
  until?: IgnoreUntil | null
  /** first_seen and regressed: the event that did it */
  eventId?: string
  /** regressed: the event's release; resolved in the next release: the release it stays resolved for */
  release?: string | null
  /** regressed: when the issue had been resolved */
  resolvedAt?: string | null
  /** events_pruned: how many */
  count?: number
}

export interface ActivityPage {
  /** oldest first, as a log reads */
  activity: Activity[]
  nextCursor: string | null
}

/** Notes are plain text of at most this many characters; a store refuses a longer one (a TypeError). */
export const NOTE_MAX_LENGTH = 2000

export interface TagBreakdown {
  key: string
  /** events that carried this tag */
  total: number
  /** most frequent first */
  values: Array<{ value: string; count: number }>
}

export interface HistogramOptions {
  interval: 'hour' | 'day'
  /** how many buckets, ending with the one holding `now` */
  buckets: number
  now?: Date
}

/** A recorded event whose alert rules were not run because the process was dying. */
export interface DeferredAlert {
  result: RecordResult
  event: FaultlineEvent
}

export interface Retention {
  maxEventsPerIssue: number
  /** milliseconds */
  maxAgeMs: number
}

export interface MaintainOptions {
  now?: Date
  retention?: Retention
  /** resolve unresolved issues whose lastSeen is older than this */
  autoResolveBefore?: Date
}

export interface MaintainResult {
  prunedEvents: number
  resolvedIssues: number
  unignoredIssues: number
}

export type StatusCounts = Record<IssueStatus | 'all', number>

/**
 * A place to keep issues and events. Small and promise-based: lookups return `null` for
 * "not found", anything else that goes wrong is thrown (the tracker reports it).
 * The conformance suite (`faultline/testing`, testing/store-conformance.ts) is the definition of
 * correct behaviour.
 */
export interface Store {
  /** Atomically upsert the issue and insert the event; says whether the issue is new or regressed. */
  record(input: RecordInput): Promise<RecordResult>
  getIssue(id: string): Promise<Issue | null>
  listIssues(options?: ListIssuesOptions): Promise<IssuePage>
  /** issue counts per status tab for a search (`q` as in listIssues) */
  countIssues(q?: string): Promise<StatusCounts>
  /** newest first */
  listEvents(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<EventPage>
  getEvent(issueId: string, eventId: string): Promise<FaultlineEvent | null>
  /** the ids of the stored events just older and just newer than this one */
  eventNeighbors(issueId: string, eventId: string): Promise<{ older: string | null; newer: string | null } | null>
  updateIssue(id: string, update: IssueUpdate): Promise<Issue | null>
  /** removes the issue, its events and its alert state; false when there was no such issue */
  deleteIssue(id: string): Promise<boolean>
  /** counts per bucket, oldest first */
  histogram(issueId: string, options: HistogramOptions): Promise<number[]>
  /** events of the issue recorded at or after `since` (exact for windows up to 24 hours) */
  countEventsSince(issueId: string, since: Date): Promise<number>
  tagBreakdown(issueId: string, options?: { limit?: number }): Promise<TagBreakdown[]>
  /**
   * Claims an alert once: resolves true for the first caller with this key (across processes
   * sharing the store), false while an earlier claim stands. A claim with `expiresAt` stands until then.
   */
  claimAlert(key: string, options: { issueId: string; expiresAt?: Date }): Promise<boolean>
  /** retention, auto-resolve and expired ignores in one sweep */
  maintain(options: MaintainOptions): Promise<MaintainResult>
  /** the users the issue affected, most events first; null when there is no such issue */
  listUsers(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<UserPage | null>
  /** the issue's activity log, oldest first; null when there is no such issue */
  listActivity(issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<ActivityPage | null>
  /** adds a note (plain text, at most NOTE_MAX_LENGTH characters: a longer one is a TypeError) to the issue's log; null when there is no such issue */
  addNote(issueId: string, note: { text: string; actor: string }): Promise<Activity | null>
  /** remembers that an alert rule fired (across processes sharing the store) */
  noteRuleFired(ruleKey: string, at: Date): Promise<void>
  /** when each rule last fired, by rule key, as ISO times */
  ruleFirings(): Promise<Record<string, string>>
  /**
   * Returns the setting's stored value; stores `value` first when there is none, so every process
   * sharing the store gets the same one (the browser ingest key is kept so).
   */
  claimSetting(name: string, value: string): Promise<string>
  /**
   * `record`, done synchronously. The crash path needs it: a process dying of an uncaught
   * exception runs no more callbacks. Stores that cannot record synchronously leave it out and
   * the tracker keeps the process alive (for at most 2 seconds) until `record` resolves.
   */
  recordSync?(input: RecordInput): RecordResult
  /** writes everything pending synchronously; the fatal (crash) path calls it after recordSync */
  flushSync?(): void
  /**
   * Keeps a crash's recorded event for the alert rules, synchronously: the dying process cannot
   * send mail, so the next start takes it (`takeDeferredAlerts`) and the rules decide then.
   */
  deferAlertSync?(alert: DeferredAlert): void
  /** the alerts deferred by crashes since the last call, removed from the store */
  takeDeferredAlerts?(): Promise<DeferredAlert[]>
  /** resolves once everything accepted so far is durable */
  flush?(): Promise<void>
  /**
   * How many records the tracker may have waiting on the store at once (default 8). A store that
   * gathers records into one write and answers them all when it lands (the file store) asks for many.
   */
  readonly recordConcurrency?: number
  close(): Promise<void>
}

// -- createTracker's options ------------------------------------------------------------------

/** What `beforeSend` gets beside the event. */
export interface EventHint {
  originalException?: unknown
  event_id: string
}

export type PanelAuth =
  | { username: string; password: string }
  /** gets Express's `req` (so `req.session` works) or Koa's `ctx` (so `ctx.session` and `ctx.state` work) */
  | ((reqOrCtx: any) => boolean | Promise<boolean>)

export interface RuleFilter {
  environment?: string | string[]
  level?: Level | Level[]
  tags?: Record<string, string>
  /** where the event happened: 'node' (the server) or 'javascript' (a browser) */
  platform?: 'node' | 'javascript' | Array<'node' | 'javascript'>
}

export type RuleWhen =
  | 'new'
  | 'regression'
  | { events?: number | number[]; within?: string; users?: number }

export interface Rule {
  when: RuleWhen
  filter?: RuleFilter
  to?: string | string[]
  webhook?: string
  throttle?: string
  /** send email for this rule; default true when `mail` is set */
  email?: boolean
}

export interface MailOptions {
  /** nodemailer transport options, an SMTP URL, or a ready transporter (anything with sendMail) */
  transport: unknown
  /** an address ('Alerts <alerts@example.com>') or nodemailer's { name, address } */
  from?: string | { name?: string; address: string }
  to?: string | string[]
  baseUrl?: string
  subjectPrefix?: string
  maxPerHour?: number
}

export interface TrackerOptions {
  /** a store, a file path (relative to the app root), or ':memory:' for the memory store */
  store?: string | Store
  /**
   * the app's root directory: frames under it are in-app, source context is read only from it, and
   * the default store lives in it; by default the folder of the app's package.json
   */
  root?: string
  environment?: string
  release?: string
  serverName?: string
  appName?: string
  beforeSend?: (event: FaultlineEvent, hint: EventHint) => FaultlineEvent | null | Promise<FaultlineEvent | null>
  ignoreErrors?: Array<string | RegExp | (new (...args: any[]) => Error)>
  shouldCapture?: (err: unknown) => boolean
  sampleRate?: number
  scrubFields?: string[]
  maxBreadcrumbs?: number
  maxQueueSize?: number
  captureUncaught?: boolean
  captureUnhandledRejections?: boolean
  sourceContext?: boolean
  panel?: false | { path?: string; auth?: PanelAuth }
  mail?: MailOptions
  rules?: Rule[]
  autoResolve?: string
  retention?: { maxEventsPerIssue?: number; maxAge?: string }
  onInternalError?: (err: Error) => void
  /** take errors from the app's pages (off by default): `true` for the defaults, or the options */
  browser?: boolean | BrowserOptions
}

export interface BrowserOptions {
  /** where the ingest endpoint and the client script are served; default '/faultline' */
  path?: string
  /** the public key in the DSN; default: generated once and kept in the store */
  key?: string
  /** other origins allowed to send (CORS is answered for them only); default none: same origin */
  origins?: string[]
  /** events accepted per client IP per minute; default 60 */
  eventsPerMinute?: number
  /** new issues browser events may open per minute, across all clients; default 20 */
  newIssuesPerMinute?: number
  /** folders holding the app's built browser files and their .map files (relative to the app root) */
  sourceMaps?: string | string[]
}

// -- capturing --------------------------------------------------------------------------------

/** What a scope holds when an event is captured. */
export interface ScopeData {
  tags: Record<string, string>
  extra: Record<string, unknown>
  user: User | null
  contexts: Record<string, Record<string, unknown>>
  level: Level | null
  fingerprint: string[] | null
  breadcrumbs: Breadcrumb[]
  request: RequestInfo | null
  transaction: string | null
}

/** The second argument of captureException / captureMessage: it wins over the scope. */
export interface CaptureContext {
  tags?: Record<string, unknown>
  extra?: Record<string, unknown>
  user?: User
  level?: Level
  fingerprint?: string[]
  contexts?: Record<string, Record<string, unknown>>
  request?: RequestInfo
}

/** What tracker.stats() returns: counts since the tracker started. */
export interface TrackerStats {
  /** errors and messages that passed the filters (ignoreErrors, sampleRate, shouldCapture) */
  captured: number
  /** recorded with their event kept */
  stored: number
  /** recorded (counted in their issue, users and tags) with their event's details shed under load */
  shed: number
  /** given up: refused by the store, or still waiting when close() ran out of time or the process exited */
  dropped: number
  /** dropped on purpose by beforeSend */
  discarded: number
  /** captured and not yet recorded */
  queued: number
}
