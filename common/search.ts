/**
 * The search syntax of the panel's search box and of `store.listIssues({ q })`.
 *
 *   database timeout            free text: every word must appear in the title, culprit, message or type
 *   "connection reset"          a quoted phrase is one word
 *   is:resolved                 status (resolved, unresolved, ignored), or is:regressed
 *   environment:production      release:1.4.2   level:warning   platform:javascript
 *   user.id:42  user.email:a@b.example  user.username:ann   user:ann (any of the three)
 *   browser:chrome              any other key is a tag; job:"nightly billing" quotes a value with spaces
 *   -is:ignored  -browser:ie    a leading '-' negates a term
 *
 * Matching is case-insensitive everywhere (user values match whole, not in part). Parsing never
 * throws: input is cut to 500 characters and an unclosed quote runs to the end. A term it cannot
 * use (a bad `is:`, `level:` or `platform:` value, an unknown `user.` field, a key with no value)
 * matches no issue, even negated, and comes back in `problems` as a sentence to show the user.
 */
import { LEVELS, STATUSES, type Issue, type IssueStatus } from '../lib/types.js'

export const MAX_QUERY_LENGTH = 500

export type SearchTerm =
  | { kind: 'text'; value: string; negate: boolean }
  | { kind: 'is'; value: string; negate: boolean }
  | { kind: 'environment' | 'release' | 'level' | 'platform'; value: string; negate: boolean }
  | { kind: 'tag'; key: string; value: string; negate: boolean }
  /** a user the issue affected; `field` null means any of id, email and username */
  | { kind: 'user'; field: UserSearchField | null; value: string; negate: boolean }
  /** a term with a problem (see ParsedQuery.problems): it matches no issue, negated or not */
  | { kind: 'invalid'; value: string; negate: boolean }

export type UserSearchField = 'id' | 'email' | 'username'
export const USER_SEARCH_FIELDS: readonly UserSearchField[] = ['id', 'email', 'username']
export const IS_VALUES: readonly string[] = [...STATUSES, 'regressed']
export const PLATFORMS: readonly string[] = ['node', 'javascript']
/** the keys that are not tags; every other key names a tag */
export const SEARCH_KEYS: readonly string[] = ['is', 'environment', 'release', 'level', 'platform', 'user', 'user.id', 'user.email', 'user.username']

export interface ParsedQuery {
  /** all must hold; values are lowercased */
  terms: SearchTerm[]
  /** what could not be used, as plain sentences to show above the results (at most 10) */
  problems: string[]
}

/** What a store knows about an issue beyond its fields, for `release:` and tag terms. */
export interface IssueFacets {
  /** has an event of the issue carried this tag? key and value arrive lowercased */
  hasTag(key: string, value: string): boolean
  /** has an event of the issue carried this release? the value arrives lowercased */
  hasRelease(release: string): boolean
  /** did the issue affect a user whose field (any of id, email, username when null) is this value? lowercased */
  hasUser?(field: UserSearchField | null, value: string): boolean
}

const KEYED = /^(-?)([A-Za-z_][\w.-]*):(?:"([^"]*)"?|(\S*))/
const PHRASE = /^(-?)"([^"]*)"?/
const WORD = /^(-?)(\S+)/
const MAX_PROBLEMS = 10

/** Splits a search string into terms, and says what it could not use; never throws. */
export function parseQuery(q: unknown): ParsedQuery {
  const terms: SearchTerm[] = []
  const problems: string[] = []
  if (typeof q !== 'string') return { terms, problems }
  let rest = q.slice(0, MAX_QUERY_LENGTH)
  while ((rest = rest.trimStart()).length > 0) {
    let match: RegExpExecArray | null
    if ((match = KEYED.exec(rest))) {
      const negate = match[1] === '-'
      const key = match[2].toLowerCase()
      const value = (match[3] ?? match[4]).toLowerCase()
      // 'TypeError:' pasted from a title is a word, not a tag without a value
      if (value === '' && match[3] === undefined && !isSearchKey(key)) {
        terms.push({ kind: 'text', value: match[0].slice(match[1].length).toLowerCase(), negate })
        rest = rest.slice(match[0].length)
        continue
      }
      const term = keyedTerm(key, value, negate)
      if (typeof term === 'string') {
        terms.push({ kind: 'invalid', value: `${key}:${value}`, negate })
        if (problems.length < MAX_PROBLEMS && !problems.includes(term)) problems.push(term)
      } else terms.push(term)
    } else if ((match = PHRASE.exec(rest))) {
      if (match[2].trim() !== '') terms.push({ kind: 'text', value: match[2].toLowerCase(), negate: match[1] === '-' })
    } else {
      match = WORD.exec(rest)!
      // a lone '-' negates nothing: skip it rather than search for a dash
      if (match[2] !== '-') terms.push({ kind: 'text', value: match[2].toLowerCase(), negate: match[1] === '-' })
    }
    rest = rest.slice(match[0].length)
  }
  return { terms, problems }
}

/** The term for `key:value`, or the sentence that says why there is none. */
function keyedTerm(key: string, value: string, negate: boolean): SearchTerm | string {
  const shown = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text)
  if (value === '') return `${shown(key)}: has no value, so it matches nothing: write one after the colon, as in ${key === 'is' ? 'is:resolved' : `${shown(key)}:value`}.`
  const bad = `${shown(key)}:${shown(value)}`
  switch (key) {
    case 'is':
      return IS_VALUES.includes(value) ? { kind: 'is', value, negate } : `${bad} matches nothing: is: takes ${listOf(IS_VALUES)}.`
    case 'level':
      return (LEVELS as readonly string[]).includes(value) ? { kind: 'level', value, negate } : `${bad} matches nothing: level: takes ${listOf(LEVELS)}.`
    case 'platform':
      return PLATFORMS.includes(value) ? { kind: 'platform', value, negate } : `${bad} matches nothing: platform: takes ${listOf(PLATFORMS)}.`
    case 'environment':
    case 'release':
      return { kind: key, value, negate }
    case 'user':
      return { kind: 'user', field: null, value, negate }
  }
  if (key.startsWith('user.')) {
    const field = key.slice('user.'.length)
    if ((USER_SEARCH_FIELDS as readonly string[]).includes(field)) return { kind: 'user', field: field as UserSearchField, value, negate }
    return `${bad} matches nothing: search users with user.id:, user.email:, user.username:, or user: for any of them.`
  }
  return { kind: 'tag', key, value, negate }
}

function isSearchKey(key: string): boolean {
  return SEARCH_KEYS.includes(key) || key.startsWith('user.')
}

function listOf(values: readonly string[]): string {
  return `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`
}

/** True when the query names a status (`is:resolved`), so the list should not add its default status filter. */
export function mentionsStatus(query: ParsedQuery): boolean {
  return query.terms.some((t) => t.kind === 'is' && !t.negate && isStatus(t.value))
}

function isStatus(value: string): value is IssueStatus {
  return (STATUSES as readonly string[]).includes(value)
}

const NO_FACETS: IssueFacets = { hasTag: () => false, hasRelease: () => false }

/** Does the issue match every term? `facets` answers tag and release terms (without it they match nothing). */
export function matchesIssue(query: ParsedQuery, issue: Issue, facets: IssueFacets = NO_FACETS): boolean {
  for (const term of query.terms) {
    if (term.kind === 'invalid' || matchesTerm(term, issue, facets) === term.negate) return false
  }
  return true
}

function matchesTerm(term: SearchTerm, issue: Issue, facets: IssueFacets): boolean {
  switch (term.kind) {
    case 'text':
      return [issue.title, issue.culprit, issue.message, issue.type].some((field) => typeof field === 'string' && field.toLowerCase().includes(term.value))
    case 'is':
      if (term.value === 'regressed') return issue.regressed
      return isStatus(term.value) && issue.status === term.value
    case 'environment':
      return issue.environments.some((env) => env.toLowerCase() === term.value)
    case 'release':
      return facets.hasRelease(term.value) || [issue.firstRelease, issue.lastRelease].some((r) => r !== null && r.toLowerCase() === term.value)
    case 'level':
      return issue.level === term.value
    case 'tag':
      return facets.hasTag(term.key, term.value)
    case 'platform':
      // issues recorded before platforms were kept came from the server
      return (issue.platforms ?? ['node']).includes(term.value as 'node')
    case 'user':
      return facets.hasUser?.(term.field, term.value) ?? false
    case 'invalid':
      return false
  }
}
