import os from 'node:os'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { findAppRoot } from './app-root.js'
import { DAY, formatDuration, parseDuration } from '../common/duration.js'
import { DEFAULT_RETENTION } from '../adapters/shared/arguments.js'
import { LEVELS, type Level, type PanelAuth, type Retention, type RuleFilter, type RuleWhen, type Store, type TrackerOptions } from './types.js'
import { limitReports } from '../common/report-limiter.js'
import { MESSAGE_PREFIX, reportedError } from './reported-error.js'

export interface ResolvedMail {
  transport: unknown
  from: string
  to: string[]
  baseUrl: string
  subjectPrefix: string
  maxPerHour: number
}

export interface ResolvedRule {
  when: RuleWhen
  filter: RuleFilter | null
  to: string[] | null
  webhook: string | null
  throttleMs: number | null
  email: boolean
  withinMs: number | null
  /** a stable name for claims: its position and shape */
  id: string
}

export interface ResolvedOptions {
  /** a file path, IN_MEMORY, or the store given */
  store: string | typeof IN_MEMORY | Store
  root: string
  environment: string
  release: string | undefined
  serverName: string
  appName: string
  beforeSend: TrackerOptions['beforeSend'] | null
  ignoreErrors: NonNullable<TrackerOptions['ignoreErrors']>
  shouldCapture: (err: unknown) => boolean
  sampleRate: number
  /** lowercased; the defaults plus the user's */
  scrubFields: string[]
  maxBreadcrumbs: number
  maxQueueSize: number
  captureUncaught: boolean
  captureUnhandledRejections: boolean
  sourceContext: boolean
  panel: false | { path: string; auth: PanelAuth | null }
  mail: ResolvedMail | null
  rules: ResolvedRule[]
  autoResolveMs: number | null
  retention: Retention
  onInternalError: (err: Error) => void
  /** the browser ingest, or null when it is off */
  browser: ResolvedBrowser | null
}

export interface ResolvedBrowser {
  /** no trailing slash */
  path: string
  /** the public key; null: generated once and kept in the store */
  key: string | null
  /** other origins allowed to send, as `URL.origin` writes them */
  origins: string[]
  eventsPerMinute: number
  newIssuesPerMinute: number
  /** absolute folders */
  sourceMaps: string[]
}

export const DEFAULT_SCRUB_FIELDS = [
  'auth', 'token', 'secret', 'session', 'password', 'passwd', 'pwd', 'key', 'jwt', 'bearer',
  'csrf', 'xsrf', 'credentials', 'sid', 'cookie', 'set-cookie',
]

const KNOWN = [
  'store', 'root', 'environment', 'release', 'serverName', 'appName', 'beforeSend', 'ignoreErrors',
  'shouldCapture', 'sampleRate', 'scrubFields', 'maxBreadcrumbs', 'maxQueueSize', 'captureUncaught',
  'captureUnhandledRejections', 'sourceContext', 'panel', 'mail', 'rules', 'autoResolve', 'retention',
  'onInternalError', 'browser',
]

/** Thrown for a bad option; the message names the option and the fix. */
export class OptionError extends TypeError {
  override name = 'FaultlineOptionError'
}

function fail(option: string, problem: string, fix: string): never {
  throw new OptionError(`${MESSAGE_PREFIX}option \`${option}\` ${problem}. ${fix}`)
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]
}

function suggest(name: string, known: string[]): string {
  const best = known
    .map((k) => [k, editDistance(name, k)] as const)
    .sort((x, y) => x[1] - y[1])[0]
  return best && best[1] <= 3 ? `Did you mean \`${best[0]}\`?` : `Known options: ${known.join(', ')}.`
}

/**
 * The options' plain defaults, in one place: resolveOptions fills them in, and a test checks the
 * options table in docs/options.md against them.
 */
export const DEFAULTS = {
  sampleRate: 1,
  ignoreErrors: [],
  scrubFields: [],
  maxBreadcrumbs: 100,
  maxQueueSize: 10_000,
  captureUncaught: true,
  captureUnhandledRejections: true,
  sourceContext: true,
  panel: { path: '/errors' },
  retention: { maxEventsPerIssue: DEFAULT_RETENTION.maxEventsPerIssue, maxAge: formatDuration(DEFAULT_RETENTION.maxAgeMs) },
  browser: false,
} as const

/** What `browser: true` means; an object's missing keys take these too. */
export const BROWSER_DEFAULTS = {
  path: '/faultline',
  eventsPerMinute: 60,
  newIssuesPerMinute: 20,
} as const

/** alerts sent an hour, by mail and by each webhook, before the rest wait for a summary */
export const DEFAULT_ALERTS_PER_HOUR = 20

/** What faultline calls on every store (the optional ones it checks for before calling). */
const STORE_METHODS = [
  'record', 'getIssue', 'listIssues', 'countIssues', 'listEvents', 'getEvent', 'eventNeighbors', 'updateIssue',
  'deleteIssue', 'histogram', 'countEventsSince', 'tagBreakdown', 'claimAlert', 'maintain', 'close',
]

function checkKeys(value: Record<string, unknown>, known: string[], prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) fail(prefix + key, 'is not an option', suggest(key, known))
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function duration(option: string, value: unknown): number {
  // '14d' or 14 days? A bare number is refused rather than read as milliseconds.
  if (typeof value === 'number') fail(option, `must be a duration with a unit, got the bare number ${value}`, `Write '${value}d', '${value}h' or '${value}m', or '${value}ms' for milliseconds.`)
  const ms = parseDuration(value)
  if (ms === null) fail(option, `must be a duration, got ${JSON.stringify(value)}`, "Use a number and a unit, like '30m', '1h' or '14d'.")
  return ms
}

function positiveInteger(option: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1) fail(option, `must be a positive integer, got ${String(value)}`, 'Pass a whole number above 0.')
  return value as number
}

/** An address, alone or with a display name: 'ann@example.com', 'Ann <ann@example.com>'. */
const EMAIL = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>.]+(?:\.[^\s@<>.]+)*\s*>|[^\s@<>]+@[^\s@<>.]+(?:\.[^\s@<>.]+)*)$/

function emailList(option: string, value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && EMAIL.test(s))) {
    fail(option, 'must be an email address or a list of them', "Pass 'team@example.com' or ['a@example.com', 'b@example.com'].")
  }
  return list as string[]
}

function readPackageJson(root: string): { name?: string; version?: string } {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  } catch {
    return {}
  }
}

/** The default `onInternalError`: one line on stderr, at most one a second. */
export const logInternalError: (err: Error) => void = limitReports((err) => {
  process.stderr.write(`${reportedError(err).message}\n`)
}, 1000)

function resolveRule(rule: unknown, index: number, mail: ResolvedMail | null): ResolvedRule {
  const hasMail = mail !== null
  const at = `rules[${index}]`
  if (!isPlainObject(rule)) fail(at, 'must be an object', "Write rules like { when: 'new' } or { when: { events: 100 } }.")
  checkKeys(rule, ['when', 'filter', 'to', 'webhook', 'throttle', 'email'], `${at}.`)
  const when = rule.when
  let withinMs: number | null = null
  if (when !== 'new' && when !== 'regression') {
    if (!isPlainObject(when)) fail(`${at}.when`, `must be 'new', 'regression' or an object, got ${JSON.stringify(when)}`, "Use 'new', 'regression', { events: 100 }, { events: 50, within: '1h' } or { users: 100 }.")
    checkKeys(when, ['events', 'within', 'users'], `${at}.when.`)
    if (when.events === undefined && when.users === undefined) fail(`${at}.when`, 'needs `events` or `users`', 'Add a threshold, like { events: 100 }.')
    if (when.events !== undefined) {
      const list = Array.isArray(when.events) ? when.events : [when.events]
      if (list.length === 0) fail(`${at}.when.events`, 'is an empty list', 'List one or more milestones, like [10, 100, 1000].')
      list.forEach((n, i) => positiveInteger(`${at}.when.events${Array.isArray(when.events) ? `[${i}]` : ''}`, n))
    }
    if (when.users !== undefined) positiveInteger(`${at}.when.users`, when.users)
    if (when.within !== undefined) {
      if (when.events === undefined || Array.isArray(when.events)) fail(`${at}.when.within`, 'needs a single `events` count', "Write { events: 50, within: '1h' }.")
      withinMs = duration(`${at}.when.within`, when.within)
      if (withinMs > DAY) fail(`${at}.when.within`, 'is longer than 24 hours', "Use a window of at most '24h'.")
    }
  }
  let filter: RuleFilter | null = null
  if (rule.filter !== undefined) {
    if (!isPlainObject(rule.filter)) fail(`${at}.filter`, 'must be an object', "Write { environment: 'production', level: 'error', tags: { job: 'billing' } }.")
    checkKeys(rule.filter, ['environment', 'level', 'tags', 'platform'], `${at}.filter.`)
    const env = rule.filter.environment
    if (env !== undefined && !(typeof env === 'string' || (Array.isArray(env) && env.every((e) => typeof e === 'string')))) {
      fail(`${at}.filter.environment`, 'must be a string or a list of strings', "Write 'production' or ['production', 'staging'].")
    }
    const level = rule.filter.level
    if (level !== undefined && !(Array.isArray(level) ? level : [level]).every((l) => LEVELS.includes(l as Level))) {
      fail(`${at}.filter.level`, `must be one of ${LEVELS.join(', ')}`, "Write 'error' or ['fatal', 'error'].")
    }
    const tags = rule.filter.tags
    if (tags !== undefined && !(isPlainObject(tags) && Object.values(tags).every((v) => typeof v === 'string'))) {
      fail(`${at}.filter.tags`, 'must map tag names to string values', "Write { job: 'billing' }.")
    }
    const platform = rule.filter.platform
    if (platform !== undefined && !(Array.isArray(platform) ? platform : [platform]).every((p) => p === 'node' || p === 'javascript')) {
      fail(`${at}.filter.platform`, "must be 'node', 'javascript' or a list of them", "Write 'javascript' for the browser's errors, 'node' for the server's.")
    }
    filter = rule.filter as RuleFilter
  }
  const to = rule.to === undefined ? null : emailList(`${at}.to`, rule.to)
  let webhook: string | null = null
  if (rule.webhook !== undefined) {
    try {
      const url = new URL(String(rule.webhook))
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error()
      webhook = url.href
    } catch {
      fail(`${at}.webhook`, `must be an http(s) URL, got ${JSON.stringify(rule.webhook)}`, "Write 'https://hooks.example.com/...'.")
    }
  }
  if (rule.email !== undefined && typeof rule.email !== 'boolean') fail(`${at}.email`, 'must be true or false', 'Pass a boolean.')
  const email = rule.email ?? hasMail
  if (email && !hasMail) fail(`${at}.email`, 'needs the `mail` option', 'Set `mail: { transport, to }` or remove `email: true`.')
  if (!email && !webhook) fail(at, 'has nowhere to send alerts', 'Set the `mail` option, or give the rule a `webhook`.')
  if (email && !to && mail?.to.length === 0) fail(`${at}.to`, 'is missing, and so is `mail.to`', "Say who gets this rule's alerts (to: 'team@example.com'), or set `mail.to` for every rule.")
  const throttleMs = rule.throttle === undefined ? null : duration(`${at}.throttle`, rule.throttle)
  return { when: when as RuleWhen, filter, to, webhook, throttleMs, email, withinMs, id: `${index}:${JSON.stringify(when)}` }
}

function resolveMail(mail: unknown): ResolvedMail | null {
  if (mail === undefined || mail === null) return null
  if (!isPlainObject(mail)) fail('mail', 'must be an object', "Write { transport: 'smtp://localhost:25', to: 'team@example.com' }.")
  checkKeys(mail, ['transport', 'from', 'to', 'baseUrl', 'subjectPrefix', 'maxPerHour'], 'mail.')
  const t = mail.transport
  if (!(typeof t === 'string' || isPlainObject(t))) {
    fail('mail.transport', 'is missing', "Pass an SMTP URL ('smtp://user:pass@smtp.example.com:587'), nodemailer transport options, or a transporter.")
  }
  if (typeof t === 'string' && !/^smtps?:\/\//.test(t)) fail('mail.transport', 'must be an smtp:// or smtps:// URL when it is a string', "Write 'smtp://user:pass@smtp.example.com:587'.")
  // may be left out when every rule names its own `to` (checked with the rules)
  const to = mail.to === undefined ? [] : emailList('mail.to', mail.to)
  const from = mail.from === undefined ? 'faultline <faultline@localhost>' : sender(mail.from)
  let baseUrl = ''
  if (mail.baseUrl !== undefined) {
    let url: URL | null = null
    try {
      url = new URL(String(mail.baseUrl))
    } catch {
      // said below
    }
    // the links in every alert start with it
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      fail('mail.baseUrl', `must be an http:// or https:// URL, got ${JSON.stringify(mail.baseUrl)}`, "Write the app's public address, like 'https://app.example.com'.")
    }
    baseUrl = url.href.replace(/\/$/, '')
  }
  const maxPerHour = mail.maxPerHour === undefined ? DEFAULT_ALERTS_PER_HOUR : positiveInteger('mail.maxPerHour', mail.maxPerHour)
  if (mail.subjectPrefix !== undefined && typeof mail.subjectPrefix !== 'string') fail('mail.subjectPrefix', 'must be a string', "Write '[my-app]'.")
  return { transport: t, from, to, baseUrl, subjectPrefix: (mail.subjectPrefix as string | undefined) ?? '', maxPerHour }
}

/** `from` as an address string; nodemailer's `{ name, address }` form is accepted and written as one. */
function sender(from: unknown): string {
  if (typeof from === 'string' && EMAIL.test(from.trim())) return from.trim()
  if (isPlainObject(from) && typeof from.address === 'string' && EMAIL.test(from.address) && (from.name === undefined || typeof from.name === 'string')) {
    return from.name ? `"${from.name.replace(/["\\]/g, '\\$&')}" <${from.address}>` : from.address
  }
  return fail('mail.from', `must be an email address, got ${JSON.stringify(from)}`, "Write 'Alerts <alerts@example.com>' or { name: 'Alerts', address: 'alerts@example.com' }.")
}

function resolvePanel(panel: unknown): ResolvedOptions['panel'] {
  if (panel === false) return false
  if (panel === undefined || panel === true) return { path: DEFAULTS.panel.path, auth: null }
  if (!isPlainObject(panel)) fail('panel', 'must be an object or false', "Write { path: '/errors', auth: { username, password } }, or false to turn the panel off.")
  checkKeys(panel, ['path', 'auth'], 'panel.')
  const p = urlPath('panel.path', panel.path === undefined ? DEFAULTS.panel.path : panel.path, DEFAULTS.panel.path)
  const auth = panel.auth
  if (auth !== undefined && typeof auth !== 'function') {
    if (!isPlainObject(auth) || typeof auth.username !== 'string' || typeof auth.password !== 'string' || !auth.username || !auth.password) {
      fail('panel.auth', 'must be { username, password } with non-empty strings, or a function (req) => boolean', "Write auth: { username: 'admin', password: process.env.FAULTLINE_PASSWORD }.")
    }
    checkKeys(auth, ['username', 'password'], 'panel.auth.')
  }
  return { path: p, auth: (auth as PanelAuth | undefined) ?? null }
}

/** A URL path like '/errors': what the panel and the browser ingest are served under. */
function urlPath(option: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(value) || value.includes('//') || value === '/') {
    fail(option, `must be a URL path like '${example}', got ${JSON.stringify(value)}`, "Use a path that starts with '/' and is not '/' alone.")
  }
  return value.replace(/\/$/, '')
}

/** Whether `inner` is `outer` or a path below it. */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`)
}

/** The Sentry JavaScript SDK takes a DSN's key of word characters only. */
export const BROWSER_KEY = /^\w{8,64}$/

function resolveBrowser(value: unknown, root: string, panel: ResolvedOptions['panel']): ResolvedBrowser | null {
  if (value === undefined || value === false) return null
  if (value !== true && !isPlainObject(value)) fail('browser', 'must be true, false or an object', "Write browser: true, or browser: { path: '/faultline', sourceMaps: 'public' }.")
  const o: Record<string, unknown> = value === true ? {} : value
  checkKeys(o, ['path', 'key', 'origins', 'eventsPerMinute', 'newIssuesPerMinute', 'sourceMaps'], 'browser.')
  const p = urlPath('browser.path', o.path ?? BROWSER_DEFAULTS.path, BROWSER_DEFAULTS.path)
  // an app's own guard on the panel's path must not stand in front of the pages' errors, and
  // neither may shadow the other
  if (panel && (within(p, panel.path) || within(panel.path, p))) {
    fail('browser.path', `(${p}) overlaps the panel's path (${panel.path})`, `Serve them apart, like browser: { path: '${BROWSER_DEFAULTS.path}' } beside panel: { path: '/errors' }.`)
  }
  if (o.key !== undefined && (typeof o.key !== 'string' || !BROWSER_KEY.test(o.key))) {
    fail('browser.key', 'must be 8 to 64 letters, digits or underscores', 'Leave it out to have one generated and kept in the store, or pass a string like crypto.randomBytes(16).toString(\'hex\').')
  }
  let origins: string[] = []
  if (o.origins !== undefined) {
    if (!Array.isArray(o.origins)) fail('browser.origins', 'must be a list of origins', "Write ['https://www.example.com'].")
    origins = o.origins.map((origin, i) => browserOrigin(`browser.origins[${i}]`, origin))
  }
  let sourceMaps: string[] = []
  if (o.sourceMaps !== undefined) {
    const list = typeof o.sourceMaps === 'string' ? [o.sourceMaps] : o.sourceMaps
    if (!Array.isArray(list) || !list.every((folder) => typeof folder === 'string' && folder)) {
      fail('browser.sourceMaps', 'must be a folder or a list of folders', "Write 'public' or ['public/js', 'dist/assets'] (relative to the app root).")
    }
    sourceMaps = (list as string[]).map((folder) => path.resolve(root, folder))
  }
  return {
    path: p,
    key: (o.key as string | undefined) ?? null,
    origins,
    eventsPerMinute: o.eventsPerMinute === undefined ? BROWSER_DEFAULTS.eventsPerMinute : positiveInteger('browser.eventsPerMinute', o.eventsPerMinute),
    newIssuesPerMinute: o.newIssuesPerMinute === undefined ? BROWSER_DEFAULTS.newIssuesPerMinute : positiveInteger('browser.newIssuesPerMinute', o.newIssuesPerMinute),
    sourceMaps,
  }
}

/** An origin as browsers send it in the Origin header: scheme, host and port, nothing else. */
function browserOrigin(option: string, value: unknown): string {
  let url: URL | null = null
  try {
    url = new URL(String(value))
  } catch {
    // said below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== String(value).replace(/\/$/, '')) {
    fail(option, `must be an origin like 'https://www.example.com', got ${JSON.stringify(value)}`, 'Write the scheme, host and port alone, without a path.')
  }
  return url.origin
}

function func<T>(option: string, value: unknown): T | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'function') fail(option, `must be a function, got ${typeof value}`, 'Pass a function or leave it out.')
  return value as T
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, `must be true or false, got ${JSON.stringify(value)}`, 'Pass a boolean.')
  return value
}

function optionalString(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !value) fail(option, `must be a non-empty string, got ${JSON.stringify(value)}`, 'Pass a string or leave it out.')
  return value
}

/** Strings that ask for the memory store, as `':memory:'` does in SQLite, knex and Sentry's tests. */
const MEMORY_STORE_NAMES = [':memory:', 'memory']
/** `scheme://...`: a URL, never a file path */
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

/** `store: ':memory:'` resolved: the tracker opens a memory store for it. */
export const IN_MEMORY = Symbol('in memory')

/**
 * The store: a store instance, or a string. A string is a file path (relative to the app root, as
 * the default is), unless it names memory or is a URL: a database URL taken as a path would make a
 * file store in a folder called `postgres:`, and record nothing where the app looks.
 */
function resolveStore(value: unknown, root: string): string | typeof IN_MEMORY | Store {
  if (value === undefined) return path.join(root, '.faultline', 'errors.json')
  if (typeof value !== 'string') {
    const missing = isPlainObject(value) ? STORE_METHODS.filter((name) => typeof value[name] !== 'function') : STORE_METHODS
    if (missing.length > 0) {
      fail('store', `must be a file path or a store; this one lacks ${missing.join(', ')}`, "Use fileStore({ path }), memoryStore() or postgresStore({ connectionString }), or implement the whole Store interface (docs/writing-a-store.md).")
    }
    return value as unknown as Store
  }
  const text = value.trim()
  if (!text) fail('store', 'is an empty path', "Pass a file path like '.faultline/errors.json' or a store instance.")
  if (MEMORY_STORE_NAMES.includes(text.toLowerCase())) return IN_MEMORY
  const scheme = URL_SCHEME.exec(text)?.[1].toLowerCase()
  if (scheme === undefined) return path.resolve(root, text)
  if (scheme === 'file') {
    try {
      return fileURLToPath(text)
    } catch {
      fail('store', 'is a file: URL that names no local file', "Pass a file path like '/var/lib/myapp/errors.json'.")
    }
  }
  // the URL itself is not repeated: it may hold a password
  if (scheme === 'postgres' || scheme === 'postgresql') {
    fail('store', 'is a PostgreSQL connection string, and faultline takes a string only as a file path', "Open the PostgreSQL store instead: store: postgresStore({ connectionString }), with postgresStore imported from 'faultline/adapters/postgres'.")
  }
  return fail('store', `is a ${scheme}:// URL, and faultline takes a string only as a file path`, "faultline keeps errors in a file, in PostgreSQL or in memory: pass a file path like '.faultline/errors.json', postgresStore({ connectionString }) from 'faultline/adapters/postgres', or memoryStore() from 'faultline/adapters/memory'.")
}

/** Validates the options once and fills in the defaults. Throws OptionError naming the option and the fix. */
export function resolveOptions(input: unknown = {}): ResolvedOptions {
  if (!isPlainObject(input)) fail('options', 'must be an object', 'Call createTracker({ ... }) or createTracker().')
  const o = input as Record<string, unknown>
  checkKeys(o, KNOWN, '')

  const root = o.root === undefined ? findAppRoot() : path.resolve(optionalString('root', o.root)!)
  const pkg = readPackageJson(root)
  const store = resolveStore(o.store, root)

  const sampleRate = o.sampleRate === undefined ? DEFAULTS.sampleRate : o.sampleRate
  if (typeof sampleRate !== 'number' || !(sampleRate >= 0 && sampleRate <= 1)) fail('sampleRate', `must be a number from 0 to 1, got ${String(sampleRate)}`, 'Use 1 to keep every event, 0.5 to keep half.')

  const ignoreErrors = o.ignoreErrors === undefined ? [...DEFAULTS.ignoreErrors] : o.ignoreErrors
  if (!Array.isArray(ignoreErrors) || !ignoreErrors.every((e) => typeof e === 'string' || e instanceof RegExp || typeof e === 'function')) {
    fail('ignoreErrors', 'must be a list of strings, RegExps or error classes', "Write ['ECONNRESET', /timeout/i, MyExpectedError].")
  }
  const scrubFields = o.scrubFields === undefined ? [...DEFAULTS.scrubFields] : o.scrubFields
  if (!Array.isArray(scrubFields) || !scrubFields.every((f) => typeof f === 'string' && f)) {
    fail('scrubFields', 'must be a list of non-empty strings', "Write ['ssn', 'card'].")
  }

  const maxBreadcrumbs = o.maxBreadcrumbs === undefined ? DEFAULTS.maxBreadcrumbs : o.maxBreadcrumbs
  if (!Number.isInteger(maxBreadcrumbs) || (maxBreadcrumbs as number) < 0) fail('maxBreadcrumbs', `must be a whole number, got ${String(maxBreadcrumbs)}`, 'Use 0 to keep none, 100 by default.')

  const mail = resolveMail(o.mail)
  const panel = resolvePanel(o.panel)
  if (o.rules !== undefined && !Array.isArray(o.rules)) fail('rules', 'must be a list', "Write rules: [{ when: 'new' }, { when: { events: 100 } }].")
  const rawRules = (o.rules as unknown[] | undefined) ?? (mail ? [{ when: 'new' }, { when: 'regression' }] : [])
  if (mail && mail.to.length === 0 && o.rules === undefined) fail('mail.to', 'is missing', "Say who gets alerts: to: 'team@example.com'.")
  const rules = rawRules.map((r, i) => resolveRule(r, i, mail))

  let retention: Retention = { ...DEFAULT_RETENTION }
  if (o.retention !== undefined) {
    if (!isPlainObject(o.retention)) fail('retention', 'must be an object', "Write { maxEventsPerIssue: 100, maxAge: '90d' }.")
    checkKeys(o.retention, ['maxEventsPerIssue', 'maxAge'], 'retention.')
    retention = {
      maxEventsPerIssue: o.retention.maxEventsPerIssue === undefined ? retention.maxEventsPerIssue : positiveInteger('retention.maxEventsPerIssue', o.retention.maxEventsPerIssue),
      maxAgeMs: o.retention.maxAge === undefined ? retention.maxAgeMs : duration('retention.maxAge', o.retention.maxAge),
    }
  }

  return {
    store,
    root,
    environment: optionalString('environment', o.environment) ?? process.env.NODE_ENV ?? 'development',
    release: optionalString('release', o.release) ?? process.env.FAULTLINE_RELEASE ?? pkg.version,
    serverName: optionalString('serverName', o.serverName) ?? os.hostname(),
    appName: optionalString('appName', o.appName) ?? pkg.name ?? path.basename(root),
    beforeSend: func('beforeSend', o.beforeSend),
    ignoreErrors: ignoreErrors as ResolvedOptions['ignoreErrors'],
    shouldCapture: func<(err: unknown) => boolean>('shouldCapture', o.shouldCapture) ?? defaultShouldCapture,
    sampleRate,
    scrubFields: [...new Set([...DEFAULT_SCRUB_FIELDS, ...(scrubFields as string[]).map((f) => f.toLowerCase())])],
    maxBreadcrumbs: maxBreadcrumbs as number,
    maxQueueSize: o.maxQueueSize === undefined ? DEFAULTS.maxQueueSize : positiveInteger('maxQueueSize', o.maxQueueSize),
    captureUncaught: bool('captureUncaught', o.captureUncaught, DEFAULTS.captureUncaught),
    captureUnhandledRejections: bool('captureUnhandledRejections', o.captureUnhandledRejections, DEFAULTS.captureUnhandledRejections),
    sourceContext: bool('sourceContext', o.sourceContext, DEFAULTS.sourceContext),
    panel,
    mail,
    rules,
    autoResolveMs: o.autoResolve === undefined ? null : duration('autoResolve', o.autoResolve),
    retention,
    onInternalError: func<(err: Error) => void>('onInternalError', o.onInternalError) ?? logInternalError,
    browser: resolveBrowser(o.browser, root, panel),
  }
}

/** Client errors (status below 500) are the app working as meant; they are not captured by default. */
export function defaultShouldCapture(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return true
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode
  return !(typeof status === 'number' && status < 500)
}
