import { types } from 'node:util'

/** Bounds for normalize, and where to report what it cut. */
export interface NormalizeOptions {
  /** nesting kept; deeper objects become '[Object]' / '[Array]' (default 5) */
  depth?: number
  /** longer strings are cut and marked (default 8192) */
  maxString?: number
  /** keys or items kept per object, array, Map or Set (default 100) */
  maxBreadth?: number
  /** values visited in all; past it containers are cut, so one capture stays cheap and small (default 5000) */
  maxNodes?: number
  /** where to record what was cut, as dotted paths under `path` */
  truncated?: string[]
  /** the name of the value in `truncated` (e.g. 'extra') */
  path?: string
}

/** Paths listed in `truncated` at most: one entry per cut would itself be unbounded. */
const MAX_TRUNCATED_PATHS = 20

interface State {
  depth: number
  maxString: number
  maxBreadth: number
  nodes: number
  truncated: string[] | undefined
  /** the objects on the way from the root to the current value: a repeat is a cycle */
  ancestors: Set<object>
}

/**
 * Turns any value into JSON-safe data (cycles, throwing getters, Proxies, BigInt, Symbols,
 * functions, Dates, Errors, Map/Set, binary data, huge strings, deep or wide objects) within the
 * given bounds. Never throws.
 */
export function normalize(value: unknown, options: NormalizeOptions = {}): unknown {
  const state: State = {
    depth: options.depth ?? 5,
    maxString: options.maxString ?? 8192,
    maxBreadth: options.maxBreadth ?? 100,
    nodes: options.maxNodes ?? 5000,
    truncated: options.truncated,
    ancestors: new Set(),
  }
  try {
    return visit(value, 0, options.path ?? '', state)
  } catch (err) {
    return `[Unserializable: ${safeMessage(err)}]`
  }
}

/** Cuts `text` to `max` characters, marking how much was cut. */
export function truncateString(text: string, max: number): string {
  if (text.length <= max) return text
  return `${text.slice(0, max)}...[truncated ${text.length - max} chars]`
}

function mark(state: State, at: string): void {
  if (state.truncated) addTruncated(state.truncated, at)
}

/** Lists a path as cut, once, while the list is under its bound. */
export function addTruncated(list: string[], at: string): void {
  if (list.length >= MAX_TRUNCATED_PATHS || list.includes(at)) return
  list.push(at || '(value)')
}

function join(at: string, key: string): string {
  return at ? `${at}.${key}` : key
}

function visit(value: unknown, level: number, at: string, state: State): unknown {
  state.nodes--
  switch (typeof value) {
    case 'string':
      if (value.length > state.maxString) mark(state, at)
      return truncateString(value, state.maxString)
    case 'number':
      return Number.isFinite(value) ? value : `[${String(value)}]`
    case 'boolean':
      return value
    case 'undefined':
      return '[undefined]'
    case 'bigint':
      return `${value.toString()}n`
    case 'symbol':
      return truncateString(value.toString(), state.maxString)
    case 'function':
      return `[Function: ${functionName(value)}]`
  }
  if (value === null) return null
  const obj = value as object
  if (state.ancestors.has(obj)) return '[Circular]'
  if (state.nodes < 0) {
    mark(state, at)
    return Array.isArray(obj) ? '[Array]' : '[Object]'
  }
  try {
    const simple = describeSpecial(obj, state)
    if (simple !== undefined) return simple
  } catch (err) {
    return `[Unserializable: ${safeMessage(err)}]`
  }
  if (level >= state.depth) {
    mark(state, at)
    return isArrayLike(obj) ? '[Array]' : '[Object]'
  }
  state.ancestors.add(obj)
  try {
    return visitContainer(obj, level, at, state)
  } catch (err) {
    // A Proxy whose traps throw, or an object that changes under us.
    return `[Unserializable: ${safeMessage(err)}]`
  } finally {
    state.ancestors.delete(obj)
  }
}

/** Values with a fixed short form; undefined for containers that need walking. */
function describeSpecial(obj: object, state: State): unknown {
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? '[Invalid Date]' : obj.toISOString()
  if (obj instanceof RegExp) return truncateString(obj.toString(), state.maxString)
  if (Buffer.isBuffer(obj)) return `[Buffer: ${obj.length} bytes]`
  if (ArrayBuffer.isView(obj)) {
    const length = (obj as { length?: unknown }).length
    return typeof length === 'number' ? `[${tagOf(obj)}: ${length} items]` : `[${tagOf(obj)}: ${obj.byteLength} bytes]`
  }
  if (obj instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer)) {
    return `[${tagOf(obj)}: ${obj.byteLength} bytes]`
  }
  if (obj instanceof WeakMap || obj instanceof WeakSet) return `[${tagOf(obj)}]`
  if (types.isPromise(obj)) return '[Promise]'
  return undefined
}

function visitContainer(obj: object, level: number, at: string, state: State): unknown {
  if (Array.isArray(obj)) {
    const out: unknown[] = []
    const n = Math.min(obj.length, state.maxBreadth)
    let i = 0
    for (; i < n && state.nodes > 0; i++) out.push(visit(read(obj, i), level + 1, join(at, String(i)), state))
    if (obj.length > i) {
      out.push(`[${obj.length - i} more items]`)
      mark(state, at)
    }
    return out
  }
  if (obj instanceof Map) {
    const out: unknown[] = []
    let i = 0
    for (const [k, v] of obj) {
      if (i >= state.maxBreadth || state.nodes <= 0) break
      out.push([visit(k, level + 1, join(at, String(i)), state), visit(v, level + 1, join(at, String(i)), state)])
      i++
    }
    if (obj.size > i) {
      out.push(`[${obj.size - i} more entries]`)
      mark(state, at)
    }
    return out
  }
  if (obj instanceof Set) {
    const out: unknown[] = []
    for (const v of obj) {
      if (out.length >= state.maxBreadth || state.nodes <= 0) break
      out.push(visit(v, level + 1, join(at, String(out.length)), state))
    }
    if (obj.size > out.length) {
      const kept = out.length
      out.push(`[${obj.size - kept} more items]`)
      mark(state, at)
    }
    return out
  }
  if (obj instanceof Error) return visitError(obj, level, at, state)
  const toJSON = read(obj, 'toJSON')
  if (typeof toJSON === 'function' && !isPlain(obj)) {
    // Decimal, ObjectId, URL, ORM records: their JSON form is what their authors meant to show.
    const json = toJSON.call(obj)
    return json === obj ? visitObject(obj, level, at, state) : visit(json, level, at, state)
  }
  return visitObject(obj, level, at, state)
}

function visitObject(obj: object, level: number, at: string, state: State): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const keys = Object.keys(obj)
  const n = Math.min(keys.length, state.maxBreadth)
  let i = 0
  for (; i < n && state.nodes > 0; i++) {
    const key = keys[i]
    out[key] = visit(read(obj, key), level + 1, join(at, key), state)
  }
  if (keys.length > i) {
    out['[truncated]'] = `${keys.length - i} more keys`
    mark(state, at)
  }
  return out
}

function visitError(err: Error, level: number, at: string, state: State): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: visit(read(err, 'name'), level + 1, join(at, 'name'), state),
    message: visit(read(err, 'message'), level + 1, join(at, 'message'), state),
    stack: visit(read(err, 'stack'), level + 1, join(at, 'stack'), state),
  }
  const rest = visitObject(err, level, at, state)
  for (const key of Object.keys(rest)) if (!(key in out)) out[key] = rest[key]
  const cause = read(err, 'cause')
  if (cause !== undefined && !('cause' in out)) out.cause = visit(cause, level + 1, join(at, 'cause'), state)
  return out
}

/** Reads one property; a getter that throws becomes a placeholder naming the failure. */
function read(obj: object, key: string | number): unknown {
  try {
    return (obj as Record<string | number, unknown>)[key]
  } catch (err) {
    return `[Getter threw: ${safeMessage(err)}]`
  }
}

function isPlain(obj: object): boolean {
  const proto = Object.getPrototypeOf(obj)
  return proto === null || proto === Object.prototype
}

function isArrayLike(obj: object): boolean {
  return Array.isArray(obj) || obj instanceof Set || obj instanceof Map
}

function tagOf(obj: object): string {
  try {
    return Object.prototype.toString.call(obj).slice(8, -1)
  } catch {
    return 'Object'
  }
}

function functionName(fn: Function): string {
  try {
    const name = fn.name
    return typeof name === 'string' && name ? truncateString(name, 200) : '<anonymous>'
  } catch {
    return '<anonymous>'
  }
}

/** The message of a thrown value, even when reading it throws too. */
export function safeMessage(err: unknown): string {
  try {
    if (err instanceof Error) return truncateString(String(err.message), 500)
    return truncateString(String(err), 500)
  } catch {
    return 'unknown error'
  }
}

/** Any value as text, without throwing (an object without a prototype, a throwing toString). */
export function safeText(value: unknown): string {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** A tag's value as text: objects as their JSON, without throwing. */
export function tagText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value !== 'object' || value === null) return safeText(normalize(value))
  try {
    return JSON.stringify(normalize(value, { depth: 2 })) ?? ''
  } catch {
    return ''
  }
}

/** A thrown value in the terms of an event's exception. */
export interface ThrownDescription {
  type: string
  value: string
  stack?: string
  cause?: unknown
  /** for non-Error objects: the thrown value itself, normalised, so it can be shown beside the event */
  data?: unknown
}

/**
 * Describes any thrown value the way Sentry does: Errors (and error-like objects) by name and
 * message; strings become the message of an 'Error'; other objects are named by their keys.
 * Never throws, even for Proxies or objects whose `name`/`message`/`stack` getters throw. The one
 * description of a thrown value: the event shows it, and the capture filters (ignoreErrors) match
 * it. Without `details`, only the type and message are read: an Error's stack is not formatted
 * for an error the filters may drop.
 */
export function describeThrown(value: unknown, details = true): ThrownDescription {
  try {
    if (typeof value === 'string') return { type: 'Error', value }
    if (value === null || typeof value !== 'object') {
      if (typeof value === 'function') return { type: 'Error', value: `Non-Error exception captured: [Function: ${functionName(value)}]` }
      return { type: 'Error', value: `Non-Error exception captured: ${primitiveText(value)}` }
    }
    const obj = value as Record<string, unknown>
    const isError = safe(() => value instanceof Error || types.isNativeError(value), false)
    const name = readString(obj, 'name')
    const message = readString(obj, 'message', true)
    if (isError || (message !== undefined && readString(obj, 'stack') !== undefined)) {
      const ctor = constructorName(obj)
      // `class NotFound extends Error {}` inherits name 'Error'; its class says more.
      const type = name && name !== 'Error' ? name : ctor && ctor !== 'Object' ? ctor : name || 'Error'
      const described: ThrownDescription = { type: truncateString(type, 200), value: message ?? '' }
      if (!details) return described
      const stack = readString(obj, 'stack')
      if (stack !== undefined) described.stack = stack
      const cause = read(obj, 'cause')
      if (cause !== undefined) described.cause = cause
      return described
    }
    if (message !== undefined) {
      // Error-like objects from other realms or libraries ({ name, message } without a stack).
      const described: ThrownDescription = { type: truncateString(name || 'Error', 200), value: message }
      if (details) described.data = normalize(value, { depth: 3 })
      return described
    }
    const keys = safe(() => Object.keys(obj), [] as string[])
    const ctor = constructorName(obj)
    const what = ctor && ctor !== 'Object' ? `'${ctor}' object` : 'Non-Error exception'
    const listed = keys.length === 0 ? '[object has no keys]' : keys.slice(0, 20).map((k) => truncateString(k, 40)).join(', ') + (keys.length > 20 ? ', ...' : '')
    const described: ThrownDescription = { type: 'Error', value: `${what} captured with keys: ${listed}` }
    if (details) described.data = normalize(value, { depth: 3 })
    return described
  } catch (err) {
    return { type: 'Error', value: `Non-Error exception captured (unreadable: ${safeMessage(err)})` }
  }
}

function primitiveText(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'symbol') return truncateString(value.toString(), 200)
  return String(value)
}

/**
 * A string property, or undefined when it is missing or not a string. When its getter throws:
 * undefined, or with `sayWhy` a placeholder naming the failure (a message worth showing).
 */
function readString(obj: object, key: string, sayWhy = false): string | undefined {
  try {
    const v = (obj as Record<string, unknown>)[key]
    return typeof v === 'string' ? v : undefined
  } catch (err) {
    return sayWhy ? `[${key} getter threw: ${safeMessage(err)}]` : undefined
  }
}

function constructorName(obj: object): string | undefined {
  try {
    const name = Object.getPrototypeOf(obj)?.constructor?.name
    return typeof name === 'string' && name ? truncateString(name, 200) : undefined
  } catch {
    return undefined
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn()
  } catch {
    return fallback
  }
}
