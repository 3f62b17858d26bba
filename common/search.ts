/**
 * The search syntax of the panel's search box and of `store.listIssues({ q })`.
 *
 *   database timeout            free text: every word must appear in the title, culprit, message or type
 *   "connection reset"          a quoted phrase is one word
 *   is:resolved                 status (resolved, unresolved, ignored), or is:regressed
 *   environment:production      release:1.4.2   level:warning
 *   browser:chrome              any other key is a tag; job:"nightly billing" quotes a value with spaces
 *   -is:ignored  -browser:ie    a leading '-' negates a term
 *
 * Matching is case-insensitive everywhere. Parsing never throws: input is cut to 500 characters,
 * an unclosed quote runs to the end, and an unknown `is:` value matches no issue.
 */
import type { Issue, IssueStatus } from '../lib/types.js'

export const MAX_QUERY_LENGTH = 500

export type SearchTerm =
  | { kind: 'text'; value: string; negate: boolean }
  | { kind: 'is'; value: string; negate: boolean }
  | { kind: 'environment' | 'release' | 'level'; value: string; negate: boolean }
  | { kind: 'tag'; key: string; value: string; negate: boolean }

export interface ParsedQuery {
  /** all must hold; values are lowercased */
  terms: SearchTerm[]
}

/** What a store knows about an issue beyond its fields, for `release:` and tag terms. */
export interface IssueFacets {
  /** has an event of the issue carried this tag? key and value arrive lowercased */
  hasTag(key: string, value: string): boolean
  /** has an event of the issue carried this release? the value arrives lowercased */
  hasRelease(release: string): boolean
}

const KEYED = /^(-?)([A-Za-z_][\w.-]*):(?:"([^"]*)"?|(\S+))/
const PHRASE = /^(-?)"([^"]*)"?/
const WORD = /^(-?)(\S+)/
const FIELD_KEYS = new Set(['environment', 'release', 'level'])

/** Splits a search string into terms; never throws. */
export function parseQuery(q: unknown): ParsedQuery {
  const terms: SearchTerm[] = []
  if (typeof q !== 'string') return { terms }
  let rest = q.slice(0, MAX_QUERY_LENGTH)
  while ((rest = rest.trimStart()).length > 0) {
    let match: RegExpExecArray | null
    if ((match = KEYED.exec(rest))) {
      const negate = match[1] === '-'
      const key = match[2].toLowerCase()
      const value = (match[3] ?? match[4]).toLowerCase()
      if (value !== '') {
        if (key === 'is') terms.push({ kind: 'is', value, negate })
        else if (FIELD_KEYS.has(key)) terms.push({ kind: key as 'environment', value, negate })
        else terms.push({ kind: 'tag', key, value, negate })
      }
    } else if ((match = PHRASE.exec(rest))) {
      if (match[2].trim() !== '') terms.push({ kind: 'text', value: match[2].toLowerCase(), negate: match[1] === '-' })
    } else {
      match = WORD.exec(rest)!
      // a lone '-' negates nothing: skip it rather than search for a dash
      if (match[2] !== '-') terms.push({ kind: 'text', value: match[2].toLowerCase(), negate: match[1] === '-' })
    }
    rest = rest.slice(match[0].length)
  }
  return { terms }
}

/** True when the query names a status (`is:resolved`), so the list should not add its default status filter. */
export function mentionsStatus(query: ParsedQuery): boolean {
  return query.terms.some((t) => t.kind === 'is' && !t.negate && isStatus(t.value))
}

function isStatus(value: string): value is IssueStatus {
  return value === 'unresolved' || value === 'resolved' || value === 'ignored'
}

const NO_FACETS: IssueFacets = { hasTag: () => false, hasRelease: () => false }

/** Does the issue match every term? `facets` answers tag and release terms (without it they match nothing). */
export function matchesIssue(query: ParsedQuery, issue: Issue, facets: IssueFacets = NO_FACETS): boolean {
  for (const term of query.terms) {
    if (matchesTerm(term, issue, facets) === term.negate) return false
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
  }
}
