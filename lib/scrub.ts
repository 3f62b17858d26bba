import type { RequestInfo } from './types.js'

export const FILTERED = '[Filtered]'
// Scrubbing walks normalised data, which is already bounded; these only stop hostile raw input.
const MAX_DEPTH = 20
const MAX_QUERY = 64 * 1024

/** True when the key names a secret: its name contains one of `fields`, in any letter case. */
export function isSensitiveKey(key: string, fields: string[]): boolean {
  return sensitivePattern(fields).test(key)
}

/**
 * `fields` as one case-insensitive pattern, made once per list: every key and string of an event
 * is tested, and one pass of a pattern costs a fifth of an includes() a field.
 */
const patterns = new WeakMap<string[], RegExp>()
function sensitivePattern(fields: string[]): RegExp {
  let pattern = patterns.get(fields)
  if (pattern === undefined) {
    // no fields: a pattern that never matches (an empty one would match everything)
    pattern = fields.length === 0 ? /(?!)/ : new RegExp(fields.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i')
    patterns.set(fields, pattern)
  }
  return pattern
}

/**
 * Returns a copy of `value` in which every value under a sensitive key is '[Filtered]', at any
 * depth, and secrets in URL query strings inside strings (`?token=abc`) are filtered too.
 * `fields` are lowercased substrings. Never throws: what cannot be read is filtered.
 */
export function scrub<T>(value: T, fields: string[]): T {
  try {
    return walk(value, fields, 0, new Set()) as T
  } catch {
    return FILTERED as T
  }
}

function walk(value: unknown, fields: string[], depth: number, seen: Set<object>): unknown {
  if (typeof value === 'string') return scrubText(value, fields)
  if (value === null || typeof value !== 'object') return value
  if (seen.has(value) || depth >= MAX_DEPTH) return '[Circular]'
  seen.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, fields, depth + 1, seen))
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      let v: unknown
      try {
        v = (value as Record<string, unknown>)[key]
      } catch {
        v = FILTERED
      }
      out[key] = isSensitiveKey(key, fields) && v !== null && v !== undefined && v !== '' ? FILTERED : walk(v, fields, depth + 1, seen)
    }
    return out
  } finally {
    seen.delete(value)
  }
}

// `password=x`, `"token": "x"`, `{ secret: 'x' }`: a key, then `=` or `:`, then a value. A value
// cut short by truncation (no closing quote) still counts, up to the end of the text.
const KEY_VALUE = /(["']?)([A-Za-z_][\w.-]*)\1(\s*)([=:])(\s*)("(?:[^"\\\n]|\\.)*(?:"|$)|'(?:[^'\\\n]|\\.)*(?:'|$)|[^\s"'&,;)}\]]+)/g
// the password in `postgres://app:hunter2@db`
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi
const BEARER_TOKEN = /\b(bearer\s+)[\w.~+/-]+=*/gi
/** text longer than this is not searched for secrets but filtered whole (callers cut text long before) */
const MAX_TEXT = 1024 * 1024

/**
 * Filters secrets written into free text: an error message, a log line, a tag, a body that is not
 * valid JSON. Covers query parameters (`?token=abc`), a URL's password, bearer tokens, and pairs
 * whose key names a secret: `key=value` always, `key: value` only with a quoted key or value (as
 * JSON and Node's inspect write them), so prose like 'Invalid session: expired' stays readable.
 */
export function scrubText(text: string, fields: string[]): string {
  if (text.length > MAX_TEXT) return FILTERED
  let out = scrubQueryInText(text, fields)
  // most text names no secret at all: one test spares it the patterns below
  if (sensitivePattern(fields).test(text)) {
    out = out.replace(KEY_VALUE, (pair, quote: string, key: string, before: string, sep: string, after: string, value: string) => {
      const q = value[0] === '"' || value[0] === "'" ? value[0] : ''
      if (sep === ':' && quote === '' && q === '') return pair
      // filtered already (a query parameter, above)
      if (value.startsWith('[Filtered', q.length) || !isSensitiveKey(key, fields)) return pair
      return `${quote}${key}${quote}${before}${sep}${after}${q}${FILTERED}${q}`
    })
    out = out.replace(BEARER_TOKEN, `$1${FILTERED}`)
  }
  if (text.includes('://') && text.includes('@')) out = out.replace(URL_PASSWORD, `$1${FILTERED}@`)
  return out
}

/**
 * Filters sensitive parameters of the query string in a URL or any text holding one:
 * 'https://x/cb?code=1&token=abc' becomes 'https://x/cb?code=1&token=[Filtered]'.
 */
export function scrubQueryInText(text: string, fields: string[]): string {
  const q = text.indexOf('?')
  if (q === -1 || text.indexOf('=', q) === -1 || text.length > MAX_QUERY) return text
  const hash = text.indexOf('#', q)
  const end = hash === -1 ? text.length : hash
  return text.slice(0, q + 1) + scrubQueryString(text.slice(q + 1, end), fields) + text.slice(end)
}

/** Filters sensitive parameters of a bare query string: 'a=1&token=abc' becomes 'a=1&token=[Filtered]'. */
export function scrubQueryString(query: string, fields: string[]): string {
  if (query.length > MAX_QUERY) return FILTERED
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      if (eq === -1) return pair
      return isSensitiveKey(decode(pair.slice(0, eq)), fields) ? `${pair.slice(0, eq + 1)}${FILTERED}` : pair
    })
    .join('&')
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}

/**
 * Scrubs a request: sensitive headers (Authorization, Cookie, Set-Cookie, API keys), cookies,
 * query parameters in `url` and `query_string`, and body fields, also when the body is a JSON or
 * form-encoded string. Never throws.
 */
export function scrubRequest(request: RequestInfo, fields: string[]): RequestInfo {
  try {
    const out = scrub(request, fields)
    if (typeof request.query_string === 'string') out.query_string = scrubQueryString(request.query_string.replace(/^\?/, ''), fields)
    if (typeof request.data === 'string') out.data = scrubBodyText(request.data, fields)
    return out
  } catch {
    // Reading the request failed once already: keep nothing that could leak.
    return { url: FILTERED }
  }
}

function scrubBodyText(body: string, fields: string[]): string {
  const trimmed = body.trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.stringify(scrub(JSON.parse(body), fields))
    } catch {
      // JSON cut short by truncation, or malformed: filter what looks like secrets in the text
      return scrubText(body, fields)
    }
  }
  if (body.includes('=') && !/\s/.test(body.slice(0, 200))) return scrubQueryString(body, fields)
  return scrubText(body, fields)
}
