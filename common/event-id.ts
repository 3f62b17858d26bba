import { randomFillSync } from 'node:crypto'

const ID_BYTES = 16
const POOL_IDS = 256
const pool = Buffer.alloc(ID_BYTES * POOL_IDS)
let next = POOL_IDS

/**
 * A new event id: 32 random hex characters, as Sentry's. Taken from a pool of random bytes filled
 * 256 ids at a time, since a failing route makes one per request (a UUID with its dashes removed
 * costs ten times as much).
 */
export function newEventId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool)
    next = 0
  }
  const start = ID_BYTES * next++
  return pool.toString('hex', start, start + ID_BYTES)
}

/**
 * The id of the n-th (from 0) of several errors folded into one record (RecordInput.times): the
 * first one's, with its last 8 hex digits standing for n.
 */
export function foldedEventId(first: string, n: number): string {
  return n === 0 ? first : `${first.slice(0, 24)}${(n >>> 0).toString(16).padStart(8, '0')}`
}
