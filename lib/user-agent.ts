/**
 * The browser, OS and device an event's request came from, read from its User-Agent header with
 * bowser (MIT licensed), as tags:
 *
 *   browser          'Chrome'       the name alone, so `browser:chrome` finds every version
 *   browser.version  'Chrome 131'   name and major version, for "only since Chrome 131"
 *   os               'iOS'          the name alone, as `browser`
 *   device           'mobile'       desktop, mobile, tablet, tv or bot
 *
 * A part the parser does not recognise (curl, a script's client) gives no tag, rather than a
 * guess. The parser is loaded on first use (an app that serves no HTTP never loads it) and runs
 * where the event is built, off the request path; each user agent is parsed once while it stays
 * in a small cache.
 */
import type BowserType from 'bowser'
import { ownCopy } from './own-copy.js'

type Parse = (typeof BowserType)['parse']

/** Tags by user agent; the oldest goes first past this many. Real traffic has a few dozen distinct ones. */
const CACHE_ENTRIES = 500
/**
 * Real user agents are 100 to 300 characters. Only this much of one is read: a 10 KB header would
 * cost a parse of milliseconds, and a cache key of 10 KB.
 */
export const MAX_USER_AGENT = 512

let parse: Parse | null = null
let loading: Promise<void> | null = null
const cache = new Map<string, Readonly<Record<string, string>>>()

/** Starts loading the parser, once; resolves when it can be used, rejects when it cannot be loaded. */
export function loadUserAgentParser(): Promise<void> {
  loading ??= import('bowser').then((bowser) => {
    parse = bowser.parse
  })
  return loading
}

/** Whether userAgentTags can answer now. */
export function userAgentParserLoaded(): boolean {
  return parse !== null
}

/**
 * The tags for a user agent, {} when it names nothing the parser knows, or null while the parser
 * is not loaded yet (this starts loading it, for the events after). Never throws.
 */
export function userAgentTags(userAgent: string): Readonly<Record<string, string>> | null {
  if (parse === null) {
    loadUserAgentParser().catch(() => {})
    return null
  }
  const key = userAgent.length > MAX_USER_AGENT ? userAgent.slice(0, MAX_USER_AGENT) : userAgent
  let tags = cache.get(key)
  if (tags === undefined) {
    tags = Object.freeze(readTags(parse, key))
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!)
    // a key of its own, not a slice that keeps the whole header alive
    cache.set(ownCopy(key), tags)
  }
  return tags
}

function readTags(parse: Parse, userAgent: string): Record<string, string> {
  const tags: Record<string, string> = {}
  let parsed
  try {
    parsed = parse(userAgent)
  } catch {
    return tags
  }
  const browser = parsed.browser?.name
  if (browser) {
    tags.browser = browser
    const major = parsed.browser.version?.split('.')[0]
    if (major && /^\d+$/.test(major)) tags['browser.version'] = `${browser} ${major}`
  }
  if (parsed.os?.name) tags.os = parsed.os.name
  if (parsed.platform?.type) tags.device = parsed.platform.type
  return tags
}

/**
 * The User-Agent header of a request as an event carries it: read without trusting the object
 * (the app may pass its own `request` to captureException), in any letter case (Node lowercases
 * header names, a Sentry SDK writes `User-Agent`).
 */
export function userAgentOf(request: unknown): string | null {
  try {
    if (typeof request !== 'object' || request === null) return null
    const headers = (request as { headers?: unknown }).headers
    if (typeof headers !== 'object' || headers === null) return null
    const exact = (headers as Record<string, unknown>)['user-agent']
    if (typeof exact === 'string') return exact || null
    // Node keeps at most 2000 headers of a request; an app's own object is read as far
    for (const name of Object.keys(headers).slice(0, 2000)) {
      if (name.length !== 10 || name.toLowerCase() !== 'user-agent') continue
      const value = (headers as Record<string, unknown>)[name]
      return typeof value === 'string' && value !== '' ? value : null
    }
  } catch {
    // a getter or a Proxy that throws: no tags
  }
  return null
}
