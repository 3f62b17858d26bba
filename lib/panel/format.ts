/**
 * Small pure helpers the templates call to turn stored values into text. They return plain
 * strings; the templates escape them (`<%= %>`), so nothing here builds markup.
 */
import type { Activity, IgnoreUntil, Issue } from '../types.js'

/** '12s ago', '5 min ago', '3 h ago', '2 days ago', '4 mo ago', '2 y ago'; '' for a missing date. */
export function timeAgo(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return ''
  const then = Date.parse(iso)
  if (!Number.isFinite(then)) return ''
  const s = Math.round((now.getTime() - then) / 1000)
  if (s < 0) return 'in the future'
  if (s < 10) return 'just now'
  if (s < 60) return `${s}s ago`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.floor(h / 24)
  if (d < 45) return `${d} ${d === 1 ? 'day' : 'days'} ago`
  const mo = Math.floor(d / 30.4)
  if (mo < 12) return `${mo} mo ago`
  return `${Math.floor(d / 365)} y ago`
}

/** '2024-05-01 14:03:22 UTC', or the input unchanged when it is not a date. */
export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return ''
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return String(iso)
  const s = new Date(t).toISOString()
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`
}

/**
 * When an ignore ends, in the words of the ignore form: 'until 3 more events', 'until 1 more user',
 * 'until 2024-05-10 09:08:07 UTC', 'until you reopen it'. Stores keep absolute targets, so the
 * "more" is what is left from the issue's current counts.
 */
export function ignoreEnd(issue: Pick<Issue, 'count' | 'userCount' | 'ignoreUntil'>): string {
  const until = issue.ignoreUntil
  const ends: string[] = []
  if (until?.count !== undefined) ends.push(plural(Math.max(until.count - issue.count, 0), 'more event'))
  if (until?.userCount !== undefined) ends.push(plural(Math.max(until.userCount - issue.userCount, 0), 'more user'))
  if (until?.at !== undefined) ends.push(absoluteTime(until.at))
  return ends.length ? `until ${ends.join(' or ')}` : 'until you reopen it'
}

/**
 * The path and query of a request URL, as stored: scheme and host are the same for every event of
 * an app, so they only push the part that differs out of a narrow column. Cut by hand rather than
 * with `new URL`, which would percent-encode what the request sent.
 */
export function requestPath(url: string | null | undefined): string {
  if (!url) return ''
  const origin = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(url)
  if (!origin) return url
  const rest = url.slice(origin[0].length)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** '950', '1.2k', '34k', '1.5M': counts that fit a narrow column. */
export function shortCount(n: number): string {
  if (!Number.isFinite(n)) return '0'
  if (n < 1000) return String(n)
  if (n < 10_000) return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`
}

/** '3 events', '1 event'. */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${noun(n, word)}`
}

/** 'event' for 1, 'events' otherwise: the word alone, for a count printed apart from it. */
export function noun(n: number, word: string): string {
  return n === 1 ? word : `${word}s`
}

const PRETTY_LIMIT = 20_000

/**
 * Indented JSON for `<pre>` blocks. Never throws: cycles, BigInts and functions become markers,
 * and very long output is cut with a note (stores already cap events; this guards the page).
 */
export function pretty(value: unknown): string {
  if (typeof value === 'string') return value.length > PRETTY_LIMIT ? `${value.slice(0, PRETTY_LIMIT)}\n… (truncated)` : value
  const seen = new WeakSet<object>()
  let text: string
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`
      if (typeof v === 'function') return '[Function]'
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]'
        seen.add(v)
      }
      return v
    }, 2) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > PRETTY_LIMIT ? `${text.slice(0, PRETTY_LIMIT)}\n… (truncated)` : text
}

/** Query parameters shown, at most: a stored query is bounded already, this guards the page. */
const MAX_QUERY_ROWS = 200

/**
 * A request's query as name and value rows, in the order sent: from the parsed query
 * (`req.query`) or the raw string (`a=1&b=2`, decoded, as the app read it).
 */
export function queryRows(query: unknown): Array<[string, string]> {
  if (typeof query === 'string') {
    const rows: Array<[string, string]> = []
    for (const [name, value] of new URLSearchParams(query.replace(/^\?/, ''))) {
      if (rows.length === MAX_QUERY_ROWS) break
      rows.push([name, value])
    }
    return rows
  }
  if (typeof query !== 'object' || query === null) return []
  // a parameter sent more than once (`tag=a&tag=b`) is parsed into a list: a row each, as in the raw string
  const rows = Object.entries(query).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v): [string, string] => [name, inline(v)]))
  return rows.slice(0, MAX_QUERY_ROWS)
}

/**
 * A request body for a `<pre>` block: parsed (what the body parser made of it, or a JSON text)
 * and indented; other text as it came.
 */
export function prettyBody(data: unknown): string {
  if (typeof data === 'string' && /^\s*[[{]/.test(data)) {
    try {
      return pretty(JSON.parse(data))
    } catch {
      // cut short when stored, or not JSON after all: shown as text
    }
  }
  return pretty(data)
}

/** A scalar shown inline; objects fall back to compact JSON. */
export function inline(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  const text = pretty(value).replace(/\s*\n\s*/g, ' ')
  return text.length > 500 ? `${text.slice(0, 500)}…` : text
}

/**
 * `key:value` for the search box, quoting values with spaces. The syntax has no escapes, so a
 * value holding both a space and a double quote cannot be written: that gives null.
 */
export function searchTerm(key: string, value: string): string | null {
  if (value !== '' && !/\s/.test(value) && !value.startsWith('"')) return `${key}:${value}`
  if (!value.includes('"')) return `${key}:"${value}"`
  return null
}

/** A path plus a query string built from the given parameters, skipping empty ones. */
export function withQuery(path: string, params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') search.set(k, String(v))
  const qs = search.toString()
  return qs ? `${path}?${qs}` : path
}

/**
 * An email address with its local part hidden but the first letter: 'a•••@example.com'. Enough to
 * tell which team or person gets the alerts without handing out addresses; a display name
 * ('Ann <ann@example.com>') is dropped with the rest.
 */
export function maskAddress(address: string): string {
  const bare = /<\s*([^<>\s]+)\s*>/.exec(address)?.[1] ?? address.trim()
  const at = bare.lastIndexOf('@')
  if (at < 1) return '•••'
  return `${bare[0]}•••${bare.slice(at)}`
}

/** The host a webhook posts to, without its path or query (which often carry its secret). */
export function urlHost(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return '(not a URL)'
  }
}

/** How an ignore's absolute end reads in the log: 'until 120 events in total', 'until 2024-05-10 09:08:07 UTC'. */
export function ignoreTarget(until: IgnoreUntil | null | undefined): string {
  const ends: string[] = []
  if (until?.count !== undefined) ends.push(`${plural(until.count, 'event')} in total`)
  if (until?.userCount !== undefined) ends.push(`${plural(until.userCount, 'user')} in total`)
  if (until?.at !== undefined) ends.push(absoluteTime(until.at))
  return ends.length ? `until ${ends.join(' or ')}` : 'until someone reopens it'
}

/** One line of the activity log in words, without who and when: 'Resolved in the next release (after 1.4.2)'. */
export function describeActivity(entry: Activity): string {
  switch (entry.kind) {
    case 'first_seen':
      return entry.release ? `First seen, in release ${entry.release}` : 'First seen'
    case 'resolved':
      return entry.release ? `Resolved in the next release (after ${entry.release})` : 'Resolved'
    case 'unresolved':
      return 'Reopened'
    case 'ignored':
      return `Ignored ${ignoreTarget(entry.until)}`
    case 'unignored':
      return 'The ignore ended: unresolved again'
    case 'regressed': {
      const release = entry.release ? ` in release ${entry.release}` : ''
      const resolved = entry.resolvedAt ? `, after being resolved ${absoluteTime(entry.resolvedAt)}` : ''
      return `Regressed: came back${release}${resolved}`
    }
    case 'auto_resolved':
      return 'Resolved automatically: not seen for the autoResolve period'
    case 'events_pruned':
      return `${plural(entry.count ?? 0, 'stored event')} deleted by the retention settings (counts stay exact)`
    case 'note':
      return 'Note'
    default:
      return String((entry as { kind: unknown }).kind)
  }
}
