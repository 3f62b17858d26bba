/**
 * What an event is counted under, the one rule every store follows: its tags (its own, strings,
 * numbers and booleans cut to the lengths events carry, then the implicit ones it does not name
 * itself) and its distinct user (the record's userKey, hashed).
 */
import { createHash } from 'node:crypto'
import type { RecordInput } from '../../lib/types.js'
import { TAG_KEY_MAX_LENGTH, TAG_VALUE_MAX_LENGTH } from '../../lib/types.js'

/** tags every event carries implicitly, unless its own tags already name them */
const IMPLICIT_TAGS = ['environment', 'release', 'server_name', 'level'] as const

export type ImplicitTagValues = Partial<Record<(typeof IMPLICIT_TAGS)[number], string>>

/** An event's own tags as [key, value] strings, cut to length; the first of two keys that cut alike wins. */
export function ownTags(tags: unknown): Array<[string, string]> {
  const list: Array<[string, string]> = []
  if (typeof tags !== 'object' || tags === null) return list
  const seen = new Set<string>()
  for (const [key, value] of Object.entries(tags)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue
    const cut = key.slice(0, TAG_KEY_MAX_LENGTH)
    if (seen.has(cut)) continue
    seen.add(cut)
    list.push([cut, String(value).slice(0, TAG_VALUE_MAX_LENGTH)])
  }
  return list
}

/** The own tags, then each implicit one (environment, release, server_name, level) they do not name. */
export function withImplicitTags(own: Array<[string, string]>, implicit: ImplicitTagValues): Array<[string, string]> {
  const list = [...own]
  for (const key of IMPLICIT_TAGS) {
    const value = implicit[key]
    if (typeof value === 'string' && value !== '' && !own.some(([k]) => k === key)) list.push([key, value.slice(0, TAG_VALUE_MAX_LENGTH)])
  }
  return list
}

/** The record's distinct user as a short hash (exact in practice; no emails or ips in the counters), or null. */
export function countedUser(input: RecordInput): string | null {
  const key = input.userKey
  return key === null || key === undefined || key === '' ? null : createHash('sha256').update(String(key)).digest('base64url').slice(0, 16)
}
