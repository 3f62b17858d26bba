import os from 'node:os'
import { addTruncated, describeThrown, normalize, safeMessage, tagText, truncateString, type ThrownDescription } from './normalize.js'
import { scrub, scrubRequest, scrubText } from './scrub.js'
import { cutStack, parseCutStack, type ParsedStack } from './stacktrace.js'
import { StackCache } from './stack-cache.js'
import { userAgentOf, userAgentTags } from './user-agent.js'
import { eventChanged, measureJson, shareBreadcrumb, shareFrames } from '../common/event-json.js'
import { addSourceContext } from './source-context.js'
import { mapServerFrames } from './source-maps/server.js'
import { DEFAULT_FINGERPRINT } from '../common/fingerprint.js'
import type { Breadcrumb, CaptureContext, ExceptionInfo, FaultlineEvent, Level, RequestInfo, ScopeData, Stacktrace, User } from './types.js'
import { LEVELS, TAG_KEY_MAX_LENGTH, TAG_VALUE_MAX_LENGTH } from './types.js'
import type { ResolvedOptions } from './options.js'

/** Everything one capture needs: what was thrown or said, the scope then, and the options. */
export interface BuildEventInput {
  eventId: string
  timestamp?: Date
  error?: unknown
  message?: string
  level?: Level
  mechanism?: { type: string; handled: boolean }
  scope: ScopeData
  ctx?: CaptureContext
  /**
   * An exception another runtime described (a browser's, its frames parsed there): taken instead
   * of `error`, with its text capped and scrubbed as a thrown value's is.
   */
  exception?: ExceptionInfo
  /** 'javascript' for a browser's event: it carries its own runtime and os, and no server name */
  platform?: 'javascript'
  /** a browser event's own environment and release, which win over the options' */
  environment?: string
  release?: string
  options: Pick<ResolvedOptions, 'root' | 'environment' | 'release' | 'serverName' | 'scrubFields' | 'sourceContext' | 'maxBreadcrumbs'> & {
    /** told when a source map cannot be read (once per file) */
    onInternalError?: (err: Error) => void
  }
}

/** Messages (and exception values) longer than this are cut and marked. */
export const MAX_MESSAGE = 8192
/** The serialised event is kept under this by dropping its least useful parts first. */
export const MAX_EVENT_BYTES = 256 * 1024
export const MAX_CAUSES = 5
export const MAX_TAGS = 100
export const MAX_FINGERPRINT_PARTS = 20

const RUNTIME = { name: 'node', version: process.version }
const OS = { name: os.type(), version: os.release(), arch: process.arch }

/**
 * Builds the event for one capture from the thrown value or message, the scope and the capture
 * context (which wins over the scope). Synchronous and never throws: when something inside fails,
 * it still returns a minimal event with what it could get.
 */
export function buildEvent(input: BuildEventInput): FaultlineEvent {
  try {
    return fitToSize(build(input))
  } catch (err) {
    return minimalEvent(input, err)
  }
}

/**
 * What counting an event needs, and no more: the exception without its causes, tags, user, level,
 * fingerprint, where it happened (and the request's method and URL, for an alert). It groups into
 * the same issue as the full event (`buildEvent`), at a fraction of the cost: no extra, contexts,
 * request data or breadcrumbs are read, normalised or serialised. An event whose body is shed
 * under load is counted from this.
 */
export function buildEventFacts(input: BuildEventInput): FaultlineEvent {
  try {
    const event = buildCore(input, [], false).event
    const request = input.ctx?.request ?? input.scope.request
    if (isRecord(request)) {
      const seen = scrubRequest({ method: safeField(request, 'method'), url: safeField(request, 'url') }, input.options.scrubFields)
      event.request = { method: seen.method, url: seen.url }
    }
    return event
  } catch (err) {
    return minimalEvent(input, err)
  }
}

/** The facts of a full event (see buildEventFacts): for one whose body is shed after it was built. */
export function eventFacts(event: FaultlineEvent): FaultlineEvent {
  const facts: FaultlineEvent = {
    event_id: event.event_id,
    timestamp: event.timestamp,
    level: event.level,
    tags: event.tags,
    extra: {},
    contexts: {},
    breadcrumbs: [],
    environment: event.environment,
    fingerprint: event.fingerprint,
  }
  if (event.platform !== undefined) facts.platform = event.platform
  if (event.release !== undefined) facts.release = event.release
  if (event.server_name !== undefined) facts.server_name = event.server_name
  if (event.transaction !== undefined) facts.transaction = event.transaction
  if (event.user !== undefined) facts.user = event.user
  if (event.message !== undefined) facts.message = event.message
  if (event.exception !== undefined) {
    const { causes: _causes, ...exception } = event.exception
    facts.exception = exception
  }
  if (event.request !== undefined) facts.request = { method: event.request.method, url: event.request.url }
  return facts
}

/** The parts of an event that grouping and counting read; the full build adds the rest. */
function buildCore(input: BuildEventInput, truncated: string[], withCauses: boolean): { event: FaultlineEvent; thrownData: unknown } {
  const { scope, options } = input
  const ctx = input.ctx ?? {}
  const fields = options.scrubFields
  const isException = input.message === undefined

  const event: FaultlineEvent = {
    event_id: input.eventId,
    timestamp: isoTime(input.timestamp),
    level: pickLevel(ctx.level, input.level, scope.level, isException ? 'error' : 'info'),
    tags: buildTags(merge(scope.tags, ctx.tags), fields),
    extra: {},
    contexts: {},
    breadcrumbs: [],
    environment: input.environment ?? options.environment,
    fingerprint: pickFingerprint(ctx.fingerprint, scope.fingerprint),
  }
  addUserAgentTags(event.tags, ctx.request ?? scope.request, fields)
  const release = input.release ?? options.release
  if (release !== undefined) event.release = release
  if (input.platform === 'javascript') event.platform = 'javascript'
  else if (options.serverName) event.server_name = options.serverName
  if (scope.transaction) event.transaction = truncateString(String(scope.transaction), 200)

  let thrownData: unknown
  if (isException) {
    const built = buildException(input.error, input, truncated, withCauses)
    event.exception = built.exception
    thrownData = built.data
  } else {
    const message = typeof input.message === 'string' ? input.message : safeMessage(input.message)
    if (message.length > MAX_MESSAGE) truncated.push('message')
    event.message = scrubText(truncateString(message, MAX_MESSAGE), fields)
  }

  const user = ctx.user ?? scope.user
  if (isRecord(user)) event.user = scrub(normalize(user, { depth: 3, maxString: 1024, truncated, path: 'user' }) as User, fields)
  return { event, thrownData }
}

function build(input: BuildEventInput): FaultlineEvent {
  const { scope, options } = input
  const ctx = input.ctx ?? {}
  const fields = options.scrubFields
  const truncated: string[] = []
  const { event, thrownData } = buildCore(input, truncated, true)

  const extra = merge(scope.extra, ctx.extra)
  event.extra = scrub(normalize(extra, { depth: 5, truncated, path: 'extra' }) as Record<string, unknown>, fields)

  if (thrownData !== undefined) event.extra.__serialized__ = scrub(thrownData, fields)

  const contexts = merge(scope.contexts)
  for (const [name, value] of entries(ctx.contexts)) contexts[name] = isRecord(contexts[name]) ? merge(contexts[name], value) : value
  event.contexts = scrub(normalize(contexts, { depth: 5, truncated, path: 'contexts' }) as FaultlineEvent['contexts'], fields)
  if (input.platform !== 'javascript') {
    event.contexts.runtime = { ...RUNTIME }
    event.contexts.os = { ...OS }
  }

  const request = ctx.request ?? scope.request
  if (isRecord(request)) {
    event.request = scrubRequest(normalize(request, { depth: 5, truncated, path: 'request' }) as RequestInfo, fields)
  }

  event.breadcrumbs = buildBreadcrumbs(scope.breadcrumbs, options.maxBreadcrumbs, fields, truncated)
  if (truncated.length > 0) event.truncated = truncated
  return event
}

/** A short string field of an object from the app, read without trusting it. */
function safeField(value: object, key: string): string | undefined {
  try {
    const field = (value as Record<string, unknown>)[key]
    return typeof field === 'string' ? field.slice(0, 2000) : undefined
  } catch {
    return undefined
  }
}

/** The exception with its cause chain, and the thrown value itself when it was not an Error. */
function buildException(error: unknown, input: BuildEventInput, truncated: string[], withCauses: boolean): { exception: ExceptionInfo; data: unknown } {
  const { scrubFields } = input.options
  if (input.exception !== undefined) return { exception: givenException(input.exception, scrubFields, truncated, withCauses), data: undefined }
  const thrown = describeThrown(error)
  const exception: ExceptionInfo = describeOne(thrown, input.options, scrubFields, truncated, 'exception')
  if (input.mechanism) exception.mechanism = { type: String(input.mechanism.type), handled: Boolean(input.mechanism.handled) }
  if (!withCauses) return { exception, data: undefined }

  // Follow err.cause; a cause that loops back to an earlier error ends the chain.
  const seen = new Set<unknown>([error])
  const causes: NonNullable<ExceptionInfo['causes']> = []
  let cause = thrown.cause
  while (cause !== undefined && causes.length < MAX_CAUSES && !seen.has(cause)) {
    seen.add(cause)
    const described = describeThrown(cause)
    causes.push(describeOne(described, input.options, scrubFields, truncated, `exception.causes.${causes.length}`))
    cause = described.cause
  }
  if (cause !== undefined && !seen.has(cause)) truncated.push('exception.causes')
  if (causes.length > 0) exception.causes = causes
  return { exception, data: thrown.data }
}

/** An exception described elsewhere (see BuildEventInput.exception), capped and scrubbed as a thrown value's. */
function givenException(given: ExceptionInfo, fields: string[], truncated: string[], withCauses: boolean): ExceptionInfo {
  const one = (ex: Omit<ExceptionInfo, 'causes'>, at: string): Omit<ExceptionInfo, 'causes'> => {
    if (ex.value.length > MAX_MESSAGE) truncated.push(`${at}.value`)
    const out: Omit<ExceptionInfo, 'causes'> = { type: truncateString(ex.type, 200), value: scrubText(truncateString(ex.value, MAX_MESSAGE), fields) }
    if (ex.stacktrace) out.stacktrace = ex.stacktrace
    if (ex.mechanism) out.mechanism = { type: truncateString(String(ex.mechanism.type), 64), handled: Boolean(ex.mechanism.handled) }
    return out
  }
  const exception: ExceptionInfo = one(given, 'exception')
  if (withCauses && given.causes?.length) exception.causes = given.causes.slice(0, MAX_CAUSES).map((cause, i) => one(cause, `exception.causes.${i}`))
  return exception
}

function describeOne(thrown: ThrownDescription, options: FrameOptions, fields: string[], truncated: string[], at: string): Omit<ExceptionInfo, 'causes'> {
  if (thrown.value.length > MAX_MESSAGE) truncated.push(`${at}.value`)
  const out: Omit<ExceptionInfo, 'causes'> = {
    type: truncateString(thrown.type, 200),
    // messages often quote a URL they failed on ('fetch failed https://api/x?token=...')
    value: scrubText(truncateString(thrown.value, MAX_MESSAGE), fields),
  }
  if (thrown.stack !== undefined) {
    const parsed = framesOf(stackBody(thrown.stack, thrown.value), options)
    if (parsed.frames.length > 0) {
      const stacktrace: Stacktrace = { frames: parsed.frames }
      if (parsed.frames_omitted) {
        stacktrace.frames_omitted = parsed.frames_omitted
        truncated.push(`${at}.stacktrace.frames`)
      }
      out.stacktrace = stacktrace
    }
  }
  return out
}

/**
 * Parsed frames (with source context) by stack body, for each root and source-context setting:
 * one call site failing again and again parses once. Bodies longer than FRAME_CACHE_MAX_KEY are
 * keyed by the lines that are parsed (see framesOf).
 */
const frameCaches = new Map<string, StackCache<ParsedStack>>()
const FRAME_CACHE_ENTRIES = 256
const FRAME_CACHE_MAX_KEY = 32 * 1024

/** What reading a stack's frames depends on. */
type FrameOptions = Pick<BuildEventInput['options'], 'root' | 'sourceContext' | 'onInternalError'>

/**
 * The frames of a stack body, from the cache when this exact stack was seen: parsed, mapped
 * through the app's source maps (when Node's own are off), with source context. Capturing only
 * queues; this runs when the queue builds the event, before it is grouped, so grouping sees the
 * original files.
 */
function framesOf(body: string, { root, sourceContext, onInternalError }: FrameOptions): ParsedStack {
  const setting = `${sourceContext ? 1 : 0}${root}`
  let cache = frameCaches.get(setting)
  if (cache === undefined) frameCaches.set(setting, (cache = new StackCache(FRAME_CACHE_ENTRIES)))
  // A deep stack is cut first, so that it is never hashed or copied whole, nor kept alive by its
  // key; stacks that differ only in their dropped middle differ in its line count.
  const cut = body.length > FRAME_CACHE_MAX_KEY ? cutStack(body) : null
  const key = cut === null ? body : cut.head.length + cut.tail.length <= FRAME_CACHE_MAX_KEY ? `${cut.droppedLines}\0${cut.head}${cut.tail}` : null
  let parsed = key === null ? undefined : cache.get(key)
  if (parsed === undefined) {
    parsed = parseCutStack(cut ?? cutStack(body), root)
    const frames = mapServerFrames(parsed.frames, { root, sourceContext, report: onInternalError, gapAt: parsed.frames_omitted?.[0] })
    if (frames !== parsed.frames) parsed = { ...parsed, frames }
    if (sourceContext && parsed.frames.length > 0) addSourceContext(parsed.frames, root)
    // the oldest parsed goes first; a call site still failing is parsed again, once
    if (key !== null) cache.set(key, parsed)
    shareFrames(parsed.frames)
  }
  // the frames, and the array of them, are shared between events: nothing in faultline changes
  // them in place (fitToSize replaces them), and beforeSend gets copies (unshareCached)
  return parsed
}

/**
 * The frame lines of a stack, without the `Name: message` header: a message may itself hold
 * lines that look like frames, and a huge one need not be scanned.
 */
function stackBody(stack: string, message: string): string {
  if (!message) return stack
  // V8 writes `${name}: ${message}` (or the message alone when the name is empty), so the message
  // starts at 0 or right after a ': ' near the top. Only the message's head is compared and its
  // end located by length: reading a 10 MB message in full would cost tens of milliseconds.
  const head = message.slice(0, 200)
  for (let at = 0; at !== -1 && at <= 300; at = stack.indexOf(': ', at)) {
    if (at > 0) at += 2
    const end = at + message.length
    if (stack.startsWith(head, at) && (end === stack.length || stack.charCodeAt(end) === 10)) return stack.slice(end)
    if (at === 0) at = 1
  }
  return stack
}

/**
 * The own enumerable entries of an object from the host app. Unlike spreading, a getter that throws
 * becomes a placeholder instead of losing everything, and a Proxy that throws yields nothing.
 */
function entries(value: unknown): Array<[string, unknown]> {
  if (!isRecord(value)) return []
  let keys: string[]
  try {
    keys = Object.keys(value)
  } catch {
    return []
  }
  return keys.map((key) => {
    try {
      return [key, value[key]]
    } catch (err) {
      return [key, `[Getter threw: ${safeMessage(err)}]`]
    }
  })
}

/** The entries of each source in turn, later ones winning. */
function merge(...sources: unknown[]): Record<string, any> {
  const out: Record<string, unknown> = {}
  for (const source of sources) for (const [key, value] of entries(source)) out[key] = value
  return out
}

/** Tags as short strings; a URL in a value (a common tag) has its query secrets filtered. */
function buildTags(raw: Record<string, unknown>, fields: string[]): Record<string, string> {
  const tags: Record<string, string> = {}
  let n = 0
  for (const [key, value] of Object.entries(raw)) {
    if (n++ >= MAX_TAGS) break
    if (value === undefined || value === null) continue
    const text = tagText(value)
    tags[truncateString(key, TAG_KEY_MAX_LENGTH).slice(0, TAG_KEY_MAX_LENGTH)] = scrubText(text.length > TAG_VALUE_MAX_LENGTH ? text.slice(0, TAG_VALUE_MAX_LENGTH) : text, fields)
  }
  return tags
}

/**
 * The browser, OS and device of the request's user agent (see user-agent.ts), in the core of the
 * event, so an event counted from its facts under load has them too: the tag breakdown stays
 * exact. A tag the app set itself wins; an event without a request gets none.
 */
function addUserAgentTags(tags: Record<string, string>, request: unknown, fields: string[]): void {
  const userAgent = userAgentOf(request)
  if (userAgent === null) return
  const found = userAgentTags(userAgent)
  if (found === null) return
  let n = Object.keys(tags).length
  for (const [key, value] of Object.entries(found)) {
    if (Object.hasOwn(tags, key) || n >= MAX_TAGS) continue
    // bowser names an unknown client after the first word of its user agent: text from the client
    tags[key] = scrubText(truncateString(value, TAG_VALUE_MAX_LENGTH).slice(0, TAG_VALUE_MAX_LENGTH), fields)
    n++
  }
}

function buildBreadcrumbs(list: Breadcrumb[], max: number, fields: string[], truncated: string[]): Breadcrumb[] {
  if (!Array.isArray(list) || max <= 0) return []
  const newest = list.length > max ? list.slice(-max) : list
  if (list.length > max) truncated.push('breadcrumbs')
  return newest.map((crumb) => {
    const prepared = prepareBreadcrumb(crumb, fields)
    for (const path of prepared.cut) addTruncated(truncated, path)
    return prepared.crumb
  })
}

interface PreparedBreadcrumb {
  fields: string[]
  crumb: Breadcrumb
  /** what normalising it cut, for the `truncated` list of every event that carries it */
  cut: string[]
}

/**
 * Breadcrumbs as events carry them (normalised and scrubbed), made once per breadcrumb: one
 * breadcrumb rides along in up to maxBreadcrumbs events, and preparing it again for each was most
 * of the cost of an event with many. The results are shared between events, like frames: nothing
 * changes them in place (see unshareCached).
 */
const preparedBreadcrumbs = new WeakMap<object, PreparedBreadcrumb>()
/** values read from one breadcrumb at most */
const BREADCRUMB_NODES = 200
/** prepared breadcrumbs larger than this (as JSON) are not kept between events */
const MAX_KEPT_BREADCRUMB = 8 * 1024

/** For the code that completes a breadcrumb after it was added (an http request's status code). */
export function breadcrumbChanged(crumb: object): void {
  preparedBreadcrumbs.delete(crumb)
}

function prepareBreadcrumb(crumb: Breadcrumb, fields: string[]): PreparedBreadcrumb {
  const cacheable = typeof crumb === 'object' && crumb !== null
  const cached = cacheable ? preparedBreadcrumbs.get(crumb) : undefined
  // another tracker in the process may scrub other fields
  if (cached !== undefined && cached.fields === fields) return cached
  const cut: string[] = []
  // up to maxBreadcrumbs of them ride in one event: each is kept small
  let out = normalize(crumb, { depth: 4, maxString: 1024, maxNodes: BREADCRUMB_NODES, truncated: cut, path: 'breadcrumbs' }) as Record<string, unknown>
  if (typeof out !== 'object' || out === null) {
    out = { timestamp: new Date().toISOString(), message: String(out) }
  } else {
    if (typeof out.message === 'string') out.message = scrubText(out.message, fields)
    if (out.data !== undefined) out.data = scrub(out.data, fields)
    if (typeof out.timestamp !== 'string') out.timestamp = new Date().toISOString()
  }
  const prepared = { fields, crumb: out as unknown as Breadcrumb, cut }
  const json = JSON.stringify(out)
  // kept for as long as the breadcrumb is in a scope: only small ones are worth it, a big one is
  // prepared again for each event rather than held
  if (cacheable && json.length <= MAX_KEPT_BREADCRUMB) {
    shareBreadcrumb(out, json)
    preparedBreadcrumbs.set(crumb, prepared)
  }
  return prepared
}

function pickLevel(...candidates: Array<Level | null | undefined>): Level {
  for (const level of candidates) if (level && LEVELS.includes(level)) return level
  return 'error'
}

function pickFingerprint(...candidates: Array<string[] | null | undefined>): string[] {
  for (const fp of candidates) {
    if (Array.isArray(fp) && fp.length > 0) return fp.slice(0, MAX_FINGERPRINT_PARTS).map((p) => truncateString(String(p), 200))
  }
  return [DEFAULT_FINGERPRINT]
}

function isoTime(date: Date | undefined): string {
  const ms = date instanceof Date && !Number.isNaN(date.getTime()) ? date.getTime() : Date.now()
  // errors in a burst share their millisecond: the text is made once for it
  if (ms !== lastIso.ms) {
    lastIso.ms = ms
    lastIso.text = new Date(ms).toISOString()
  }
  return lastIso.text
}
const lastIso = { ms: Number.NaN, text: '' }

function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Ways to make an event smaller, least useful part first. Each returns false when it had nothing to cut. */
const SHRINK: Array<[string, (e: FaultlineEvent) => boolean]> = [
  // replaced, not changed: breadcrumbs are shared with other events
  ['breadcrumbs.data', (e) => e.breadcrumbs.some((b) => b.data !== undefined) && ((e.breadcrumbs = e.breadcrumbs.map(({ data: _data, ...rest }) => rest)), true)],
  ['extra', (e) => Object.keys(e.extra).length > 0 && ((e.extra = {}), true)],
  ['request.data', (e) => e.request?.data !== undefined && (delete e.request.data, true)],
  ['exception.source_context', dropSourceContext],
  ['exception.causes', (e) => e.exception?.causes !== undefined && (delete e.exception.causes, true)],
  ['exception.stacktrace.frames', (e) => shrinkFrames(e)],
  ['breadcrumbs', (e) => e.breadcrumbs.length > 0 && ((e.breadcrumbs = []), true)],
  ['request', (e) => e.request !== undefined && (delete e.request, true)],
  ['contexts', (e) => Object.keys(e.contexts).length > 2 && ((e.contexts = { runtime: e.contexts.runtime, os: e.contexts.os }), true)],
  ['tags', (e) => Object.keys(e.tags).length > 0 && ((e.tags = {}), true)],
  ['user', (e) => e.user !== undefined && ((e.user = userIdentity(e.user)), true)],
]

function fitToSize(event: FaultlineEvent): FaultlineEvent {
  if (measureJson(event) <= MAX_EVENT_BYTES) return event
  const cut = event.truncated ?? []
  for (const [name, shrink] of SHRINK) {
    if (!shrink(event)) continue
    if (!cut.includes(name)) cut.push(name)
    event.truncated = cut
    if (measureJson(event) <= MAX_EVENT_BYTES) return event
  }
  // Still too large (a huge fingerprint, type or function names): keep the essentials only.
  eventChanged(event)
  event.truncated = cut
  if (event.exception) event.exception.value = truncateString(event.exception.value, 1024)
  if (event.message) event.message = truncateString(event.message, 1024)
  return event
}

/** Drops the source lines of every frame; frames are replaced, not changed, as they may be shared with other events. */
function dropSourceContext(event: FaultlineEvent): boolean {
  let changed = false
  for (const ex of [event.exception, ...(event.exception?.causes ?? [])]) {
    const st = ex?.stacktrace
    if (!st) continue
    st.frames = st.frames.map((frame) => {
      if (frame.context_line === undefined && frame.pre_context === undefined) return frame
      changed = true
      const { pre_context: _pre, context_line: _line, post_context: _post, ...rest } = frame
      return rest
    })
  }
  return changed
}

/** Keeps the 10 innermost and 10 outermost frames: the throw site and the entry point. */
function shrinkFrames(event: FaultlineEvent): boolean {
  const st = event.exception?.stacktrace
  if (!st || st.frames.length <= 20) return false
  const total = st.frames_omitted ? st.frames.length + (st.frames_omitted[1] - st.frames_omitted[0]) : st.frames.length
  st.frames = [...st.frames.slice(0, 10), ...st.frames.slice(-10)]
  st.frames_omitted = [10, total - 10]
  return true
}

function userIdentity(user: User): User {
  const out: Record<string, string | number> = {}
  for (const key of ['id', 'email', 'username', 'ip_address'] as const) {
    const v = user[key]
    if (typeof v === 'string' || typeof v === 'number') out[key] = typeof v === 'string' ? v.slice(0, 256) : v
  }
  return out as User
}

function minimalEvent(input: BuildEventInput, err: unknown): FaultlineEvent {
  let type = 'Error'
  let value = ''
  try {
    const thrown = input?.exception ?? describeThrown(input?.error)
    type = truncateString(String(thrown.type), 200)
    value = truncateString(String(thrown.value), 1024)
  } catch {
    // keep the defaults
  }
  const event: FaultlineEvent = {
    event_id: String(input?.eventId ?? ''),
    timestamp: new Date().toISOString(),
    level: 'error',
    tags: {},
    extra: { faultline_error: `event could not be built in full: ${safeMessage(err)}` },
    contexts: { runtime: { ...RUNTIME } },
    breadcrumbs: [],
    environment: String(input?.environment ?? input?.options?.environment ?? 'development'),
    fingerprint: [DEFAULT_FINGERPRINT],
    truncated: ['event'],
  }
  if (input?.platform === 'javascript') {
    event.platform = 'javascript'
    delete event.contexts.runtime
  }
  if (input?.message !== undefined) {
    event.level = 'info'
    event.message = truncateString(String(input.message), 1024)
  } else {
    event.exception = { type, value }
  }
  return event
}
