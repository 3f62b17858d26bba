/**
 * A Sentry event, as a browser sent it, turned into what the tracker builds events from: the
 * same capture input a server error gives (exception, message, level, capture context, scope),
 * with the exception described here. Nothing of it is trusted: every field is read by type and
 * bounded here, then normalised, capped and scrubbed by the event builder like a server event's.
 * in_app is decided here, from the app's own origins, never taken from the client.
 */
import { MAX_FRAMES } from '../stacktrace.js'
import { scrubQueryInText } from '../scrub.js'
import { truncateString } from '../normalize.js'
import type { Breadcrumb, CaptureContext, ExceptionInfo, Level, ScopeData, StackFrame, Stacktrace } from '../types.js'
import { LEVELS } from '../types.js'
import { MAX_CAUSES, MAX_FINGERPRINT_PARTS, MAX_TAGS } from '../event.js'
import { MAX_USER_AGENT } from '../user-agent.js'

/** What the server knows of the request that brought the event. */
export interface IngestFacts {
  /** the client's address, as the framework gives it (behind a trusted proxy, the forwarded one) */
  ip: string | undefined
  /** the User-Agent header of the request */
  userAgent: string | undefined
  /** origins whose scripts are the app's own: their frames are in-app */
  appOrigins: string[]
  /** where faultline serves its client: its frames are not the app's */
  clientPath: string
  maxBreadcrumbs: number
  scrubFields: string[]
}

/** What the tracker records for one browser event (see PendingCapture). */
export interface BrowserCapture {
  exception?: ExceptionInfo
  message?: string
  level: Level
  ctx: CaptureContext
  scope: ScopeData
  environment?: string
  release?: string
  platform: 'javascript'
}

const MAX_URL = 2048
const MAX_NAME = 256

type Raw = Record<string, unknown>

export function fromSentryEvent(event: Raw, facts: IngestFacts): BrowserCapture {
  const level = LEVELS.includes(event.level as Level) ? (event.level as Level) : undefined
  const exception = exceptionOf(event.exception, facts)
  const pageUrl = text(record(event.request)?.url, MAX_URL)
  const agent = facts.userAgent ?? text(record(record(event.request)?.headers)?.['User-Agent'], MAX_USER_AGENT)

  const ctx: CaptureContext = {}
  const tags = firstEntries(event.tags, MAX_TAGS)
  if (Object.keys(tags).length > 0) ctx.tags = tags
  if (record(event.extra)) ctx.extra = firstEntries(event.extra, 200)
  const contexts: Record<string, Record<string, unknown>> = {}
  for (const [name, value] of Object.entries(firstEntries(event.contexts, 20))) if (record(value)) contexts[name] = value as Raw
  ctx.contexts = contexts
  const user = userOf(event.user)
  if (user) ctx.user = user
  if (Array.isArray(event.fingerprint) && event.fingerprint.length > 0) {
    ctx.fingerprint = event.fingerprint.slice(0, MAX_FINGERPRINT_PARTS).filter((part) => typeof part === 'string').map((part) => truncateString(part, 200))
    if (ctx.fingerprint.length === 0) delete ctx.fingerprint
  }
  const headers: Record<string, string> = {}
  // the event builder tags the browser, OS and device from it, as for a server request
  if (agent) headers['user-agent'] = truncateString(agent, MAX_USER_AGENT)
  ctx.request = { url: pageUrl, headers }
  if (facts.ip) ctx.request.env = { REMOTE_ADDR: facts.ip }
  if (level) ctx.level = level

  const capture: BrowserCapture = {
    level: level ?? (exception ? 'error' : 'info'),
    ctx,
    scope: {
      tags: {},
      extra: {},
      user: null,
      contexts: {},
      level: null,
      fingerprint: null,
      breadcrumbs: breadcrumbsOf(event.breadcrumbs, facts.maxBreadcrumbs),
      request: null,
      transaction: text(event.transaction, 200) ?? pagePath(pageUrl),
    },
    platform: 'javascript',
  }
  if (exception) capture.exception = exception
  else capture.message = messageOf(event) ?? '(empty message)'
  const environment = label(event.environment, 64)
  if (environment) capture.environment = environment
  const release = label(event.release, 200)
  if (release) capture.release = release
  return capture
}

/** Sentry lists an error's chain innermost cause first, the error itself last. */
function exceptionOf(value: unknown, facts: IngestFacts): ExceptionInfo | undefined {
  const values = listOf(value)
  if (!values || values.length === 0) return undefined
  const chain = values.slice(-(MAX_CAUSES + 1)).reverse().filter(record)
  if (chain.length === 0) return undefined
  const [outer, ...causes] = chain.map((one: unknown) => describe(one as Raw, facts))
  if (causes.length > 0) outer.causes = causes
  return outer
}

function describe(raw: Raw, facts: IngestFacts): ExceptionInfo {
  const out: ExceptionInfo = { type: text(raw.type, MAX_NAME) || 'Error', value: text(raw.value, 16 * 1024) ?? '' }
  const mechanism = record(raw.mechanism)
  if (mechanism) out.mechanism = { type: text(mechanism.type, 64) ?? 'generic', handled: mechanism.handled !== false }
  const stacktrace = stacktraceOf(record(raw.stacktrace)?.frames, facts)
  if (stacktrace) out.stacktrace = stacktrace
  return out
}

/** Oldest call first, as Sentry sends them; a deeper stack keeps both ends, as a server one does. */
function stacktraceOf(value: unknown, facts: IngestFacts): Stacktrace | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined
  const half = MAX_FRAMES / 2
  const cut = value.length > MAX_FRAMES
  const kept = cut ? [...value.slice(0, half), ...value.slice(-half)] : value
  const frames = kept.map((frame) => frameOf(frame, facts))
  if (!frames.some(Boolean)) return undefined
  const stacktrace: Stacktrace = { frames: frames.map((frame) => frame ?? { in_app: false, function: '?' }) }
  if (cut) stacktrace.frames_omitted = [half, value.length - half]
  return stacktrace
}

function frameOf(value: unknown, facts: IngestFacts): StackFrame | null {
  const raw = record(value)
  if (!raw) return null
  const where = text(raw.abs_path, MAX_URL) ?? text(raw.filename, MAX_URL)
  const frame: StackFrame = { in_app: false }
  const fn = text(raw.function, MAX_NAME)
  if (fn) frame.function = fn
  if (where) {
    const url = parseUrl(where)
    // named by path, so one script groups alike on every host it is served from
    if (url && (url.protocol === 'http:' || url.protocol === 'https:')) {
      frame.filename = url.pathname
      frame.in_app = facts.appOrigins.includes(url.origin) && !url.pathname.startsWith(`${facts.clientPath}/`)
    } else {
      frame.filename = where
    }
    frame.abs_path = scrubQueryInText(where, facts.scrubFields)
  }
  const lineno = position(raw.lineno)
  if (lineno) frame.lineno = lineno
  const colno = position(raw.colno)
  if (colno) frame.colno = colno
  return frame
}

function messageOf(event: Raw): string | undefined {
  const direct = event.message
  if (typeof direct === 'string') return truncateString(direct, 16 * 1024)
  for (const entry of [record(direct), record(event.logentry)]) {
    const message = entry && (text(entry.formatted, 16 * 1024) ?? text(entry.message, 16 * 1024))
    if (message) return message
  }
  return undefined
}

function userOf(value: unknown): Raw | undefined {
  const raw = record(value)
  if (!raw) return undefined
  const user = firstEntries(raw, 20)
  // the SDK asks the server to fill in the address; the address is the request's, kept there
  if (user.ip_address === '{{auto}}') delete user.ip_address
  return Object.keys(user).length > 0 ? user : undefined
}

/** The newest breadcrumbs, with Sentry's times (seconds since 1970) as ISO text. */
function breadcrumbsOf(value: unknown, max: number): Breadcrumb[] {
  const list = listOf(value) ?? []
  const out: Breadcrumb[] = []
  if (max <= 0) return out
  for (const item of list.slice(-max)) {
    const raw = record(item)
    if (!raw) continue
    const crumb: Breadcrumb = { timestamp: isoTime(raw.timestamp) }
    for (const key of ['type', 'category', 'message'] as const) {
      const value = text(raw[key], key === 'message' ? 2048 : 64)
      if (value) crumb[key] = value
    }
    if (LEVELS.includes(raw.level as Level)) crumb.level = raw.level as Level
    if (record(raw.data)) crumb.data = raw.data as Raw
    out.push(crumb)
  }
  return out
}

function isoTime(value: unknown): string {
  const ms = typeof value === 'number' ? value * 1000 : typeof value === 'string' ? Date.parse(value) : Number.NaN
  // a time the clock of the page made up is the server's now
  return Number.isFinite(ms) && ms > 0 && ms < 8.64e15 ? new Date(ms).toISOString() : new Date().toISOString()
}

function pagePath(url: string | undefined): string | null {
  const parsed = url ? parseUrl(url) : null
  return parsed ? truncateString(parsed.pathname, 200) : null
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text)
  } catch {
    return null
  }
}

/** Sentry writes lists as `{ values: [...] }`; older SDKs as the list alone. */
function listOf(value: unknown): unknown[] | null {
  if (Array.isArray(value)) return value
  const values = record(value)?.values
  return Array.isArray(values) ? values : null
}

function record(value: unknown): Raw | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Raw) : null
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value !== '' ? truncateString(value, max) : undefined
}

/** An environment or release: one line of text. */
function label(value: unknown, max: number): string | undefined {
  const line = text(value, max)?.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()
  return line ? line.slice(0, max) : undefined
}

function position(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1e9 ? value : undefined
}

/** At most `max` own entries of an object from the client (a million keys would be walked in full otherwise). */
function firstEntries(value: unknown, max: number): Raw {
  const raw = record(value)
  const out: Raw = {}
  if (!raw) return out
  let n = 0
  for (const key in raw) {
    if (n++ >= max) break
    // JSON.parse makes `__proto__` an own key; copied by assignment it would become a prototype
    if (Object.hasOwn(raw, key) && key !== '__proto__') out[key] = raw[key]
  }
  return out
}
