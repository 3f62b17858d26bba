/**
 * Opaque keyset cursors shared by every store: base64url of a small JSON array naming the
 * list it belongs to, the last row's sort value and its id. A cursor that did not come from
 * this code is refused with a TypeError, never half-understood.
 */

/** the largest time a Date holds, in ms */
const MAX_TIME_MS = 8.64e15

export interface CursorPosition {
  /** the sort value of the last row returned (milliseconds for times, else the count) */
  value: number
  id: string
}

/** Encodes the position after the last row of a page of list `kind` (e.g. 'lastSeen', 'events'). */
export function encodeCursor(kind: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify([kind, position.value, position.id])).toString('base64url')
}

/** Decodes a cursor issued for list `kind`; null/undefined/'' mean the first page. */
export function decodeCursor(kind: string, cursor: unknown): CursorPosition | null {
  if (cursor === undefined || cursor === null || cursor === '') return null
  if (typeof cursor !== 'string' || cursor.length > 1000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor()
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw badCursor()
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw badCursor()
  const [k, value, id] = parsed
  if (k !== kind) throw new TypeError(`cursor belongs to another list (sorted by ${String(k).slice(0, 20)}); drop it to start from the first page`)
  // times (ms) and counts are whole numbers, and times fit a Date: anything else was made up
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || Math.abs(value) > MAX_TIME_MS || typeof id !== 'string') throw badCursor()
  return { value, id }
}

function badCursor(): TypeError {
  return new TypeError('cursor is not one this store issued; pass the nextCursor of the previous page, or none for the first page')
}

/** Does (value, id) come after the cursor position in a descending (value, id) order? */
export function isAfter(position: CursorPosition, value: number, id: string): boolean {
  return value < position.value || (value === position.value && id < position.id)
}
