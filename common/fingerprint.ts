import { createHash } from 'node:crypto'
import type { FaultlineEvent, Grouping, StackFrame, User } from '../lib/types.js'

/** The fingerprint entry that stands for the default grouping. */
export const DEFAULT_FINGERPRINT = '{{ default }}'
const MAX_TITLE = 200
// Only the start of a message takes part in grouping: enough to tell issues apart, and it keeps
// the placeholder regexes linear in practice on hostile multi-megabyte messages.
const MAX_GROUPING_MESSAGE = 1024

/**
 * Derives the issue an event belongs to. The default fingerprint is the error type plus, for each
 * in-app frame (else every frame), its file and function, never line numbers, so edits above the
 * throw keep the issue; without frames, the type plus the message with variable parts replaced.
 * A configured `event.fingerprint` replaces it, with '{{ default }}' standing for the default parts.
 */
export function groupEvent(event: FaultlineEvent): Grouping {
  const exception = event.exception
  const type = exception ? exception.type || 'Error' : 'Message'
  const message = exception ? exception.value ?? '' : event.message ?? ''
  const frames = exception?.stacktrace?.frames ?? []
  // a message groups by its text alone, as in Sentry: the same message at another level is the same issue
  const defaults = exception ? exceptionComponents(type, message, frames) : ['message', normalizeMessage(message)]
  const fingerprint = expand(event.fingerprint, defaults)
  return {
    hash: fingerprint === defaults && exception && frames.length > 0 ? hashOfFrames(type, frames, defaults) : hashComponents(fingerprint),
    fingerprint,
    title: exception ? titleFor(type, message) : firstLine(message) || '(empty message)',
    culprit: culpritFor(frames, event.transaction),
    type,
    message: message.length > 8192 ? message.slice(0, 8192) : message,
    level: event.level,
  }
}

function exceptionComponents(type: string, message: string, frames: StackFrame[]): string[] {
  if (frames.length === 0) return [type, normalizeMessage(message)]
  return [type, ...described(frames).parts]
}

/**
 * What grouping reads of a list of frames, kept by its first frame: the frames of a call site that
 * fails again and again are the same objects every time (the event builder parses a stack once),
 * so they are described, and their hash computed, once.
 */
interface DescribedFrames {
  frames: StackFrame[]
  parts: string[]
  /** the default fingerprint's hash, by error type */
  hashes: Map<string, string>
}
const describedFrames = new WeakMap<StackFrame, DescribedFrames>()

function described(frames: StackFrame[]): DescribedFrames {
  const known = describedFrames.get(frames[0])
  if (known !== undefined && known.frames.length === frames.length && known.frames.every((f, i) => f === frames[i])) return known
  const inApp = frames.filter((f) => f.in_app)
  const chosen = inApp.length > 0 ? inApp : frames
  const made: DescribedFrames = { frames: [...frames], parts: chosen.map((f) => `${frameFile(f)} ${frameName(f)}`), hashes: new Map() }
  describedFrames.set(frames[0], made)
  return made
}

function hashOfFrames(type: string, frames: StackFrame[], components: string[]): string {
  const { hashes } = described(frames)
  let hash = hashes.get(type)
  if (hash === undefined) {
    hash = hashComponents(components)
    if (hashes.size < 16) hashes.set(type, hash)
  }
  return hash
}

/**
 * The function's name; for an anonymous function (every inline route handler), the text of the
 * line it threw from instead, as Sentry does: two handlers in one file stay two issues, and lines
 * added above still change nothing.
 */
function frameName(frame: StackFrame): string {
  // V8 writes a receiver before anonymous functions called as methods: 'Array.<anonymous>'
  if (frame.function && !frame.function.endsWith('<anonymous>')) return frame.function
  const line = frame.context_line?.trim().replace(/\s+/g, ' ')
  return line ? `{${line}}` : '?'
}

/**
 * The frame's file as it should group: relative for app files; for dependencies, the part after the
 * last node_modules/, so two machines with the app installed in different places agree.
 */
function frameFile(frame: StackFrame): string {
  const file = (frame.filename ?? frame.abs_path ?? '?').replace(/\\/g, '/')
  const at = file.lastIndexOf('node_modules/')
  return at === -1 ? file : file.slice(at)
}

function expand(configured: string[] | undefined, defaults: string[]): string[] {
  if (!Array.isArray(configured) || configured.length === 0) return defaults
  // every event carries the default unless the app set one: its hash is the one kept per call site
  if (configured.length === 1 && isDefaultMarker(configured[0])) return defaults
  const out: string[] = []
  for (const part of configured) {
    if (isDefaultMarker(part)) out.push(...defaults)
    else out.push(String(part))
  }
  return out
}

function isDefaultMarker(part: unknown): boolean {
  return typeof part === 'string' && (part === DEFAULT_FINGERPRINT || part.replace(/\s+/g, '') === '{{default}}')
}

/** First 16 hex characters of sha256 over the components. */
export function hashComponents(components: string[]): string {
  // JSON keeps ['a b', 'c'] and ['a', 'b c'] apart, which joining with a space would not.
  const text = JSON.stringify(components)
  let hash = recentHashes.get(text)
  if (hash === undefined) {
    hash = createHash('sha256').update(text).digest('hex').slice(0, 16)
    if (recentHashes.size >= RECENT_HASHES) recentHashes.delete(recentHashes.keys().next().value!)
    recentHashes.set(text, hash)
  }
  return hash
}

/** An error storm repeats a few fingerprints many times; their hashes are kept rather than recomputed. */
const recentHashes = new Map<string, string>()
const RECENT_HASHES = 512

const PLACEHOLDERS: Array<[RegExp, string | ((m: string) => string)]> = [
  [/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/'[^'\n]*'|"[^"\n]*"|`[^`\n]*`/g, '<quoted>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  // Long hex runs (ids, hashes, Mongo ObjectIds) when they hold at least one digit: 'deadbeef' alone is a word.
  [/\b[0-9a-f]{8,}\b/gi, (m) => (/\d/.test(m) ? '<hex>' : m)],
  [/\d+(?:\.\d+)?/g, '<num>'],
]

/** The message with numbers, uuids, hex, emails and quoted values replaced, so ids do not split issues. */
export function normalizeMessage(message: string): string {
  let text = message.length > MAX_GROUPING_MESSAGE ? message.slice(0, MAX_GROUPING_MESSAGE) : message
  for (const [pattern, replacement] of PLACEHOLDERS) text = text.replace(pattern, replacement as string)
  return text
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n')
  const line = (nl === -1 ? text.slice(0, MAX_TITLE + 1) : text.slice(0, Math.min(nl, MAX_TITLE + 1))).trim()
  return line.length > MAX_TITLE ? `${line.slice(0, MAX_TITLE - 3)}...` : line
}

function titleFor(type: string, message: string): string {
  const line = firstLine(message)
  const title = line ? `${type}: ${line}` : type
  return title.length > MAX_TITLE ? `${title.slice(0, MAX_TITLE - 3)}...` : title
}

function culpritFor(frames: StackFrame[], transaction: string | undefined): string {
  // Frames are oldest first: the innermost is the last.
  let frame: StackFrame | undefined
  for (let i = frames.length - 1; i >= 0 && !frame; i--) if (frames[i].in_app) frame = frames[i]
  frame ??= frames[frames.length - 1]
  if (!frame) return transaction ?? ''
  const file = frame.filename ?? frame.abs_path ?? '?'
  // an inline route handler has no name: the route says more than the file alone
  const name = frame.function ?? transaction
  return name ? `${name} (${file})` : file
}

/**
 * The key that counts distinct users: id, else email, else username, else ip_address, prefixed so
 * that an id and an email never collide. Null for anonymous events.
 */
export function userKey(user: User | null | undefined): string | null {
  if (!user || typeof user !== 'object') return null
  for (const [field, prefix] of [['id', 'id'], ['email', 'email'], ['username', 'username'], ['ip_address', 'ip']] as const) {
    const value = user[field]
    if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value))) {
      return `${prefix}:${String(value).slice(0, 256)}`
    }
  }
  return null
}
