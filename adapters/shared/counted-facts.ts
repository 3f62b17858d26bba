/**
 * What an event is counted under, the one rule every store follows: its tags (its own, strings,
 * numbers and booleans cut to the lengths events carry, then the implicit ones it does not name
 * itself) and its distinct user (the record's userKey, hashed).
 */
import { createHash } from 'node:crypto'
import type { RecordInput, User } from '../../lib/types.js'
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

/** a user block larger than this as JSON keeps only its four standard fields */
const USER_DETAILS_MAX_BYTES = 2000
const STANDARD_USER_FIELDS = ['id', 'email', 'username', 'ip_address'] as const

/**
 * The record's user as an affected-user list shows it: its key and every field the app set (the
 * event's user block, scrubbed already), or null without a user. A block too large to keep for
 * each user keeps its standard fields alone.
 */
export function userDetails(input: RecordInput): { key: string; user: User } | null {
  const key = input.userKey
  if (key === null || key === undefined || key === '') return null
  const block = input.event.user
  let user: User = {}
  if (typeof block === 'object' && block !== null) {
    try {
      const json = JSON.stringify(block)
      user = json.length <= USER_DETAILS_MAX_BYTES ? (JSON.parse(json) as User) : standardFields(block)
    } catch {
      user = standardFields(block)
    }
  }
  return { key: String(key).slice(0, 300), user }
}

function standardFields(block: User): User {
  const user: User = {}
  for (const field of STANDARD_USER_FIELDS) {
    const value = block[field]
    if (typeof value === 'string' || typeof value === 'number') (user as Record<string, unknown>)[field] = typeof value === 'string' ? value.slice(0, 256) : value
  }
  return user
}
