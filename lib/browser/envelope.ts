/**
 * Sentry's envelope format, parsed as bytes: a JSON header line, then items, each a JSON header
 * line and a payload of exactly `length` bytes when the header says so, else up to the next
 * newline. https://develop.sentry.dev/sdk/data-model/envelopes/
 */

export class EnvelopeError extends Error {}

export interface EnvelopeItem {
  type: string
  payload: Buffer
}

export interface Envelope {
  header: Record<string, unknown>
  items: EnvelopeItem[]
}

/** Sentry's own limit on an envelope header and on an item header */
const MAX_HEADER_BYTES = 8 * 1024
/** an envelope from a browser holds a handful; more is not a browser */
const MAX_ITEMS = 100
const NEWLINE = 0x0a

/** Parses an envelope; throws EnvelopeError when it is malformed (an item whose `length` lies is). */
export function parseEnvelope(body: Buffer): Envelope {
  let at = 0
  const line = (): Buffer => {
    let end = body.indexOf(NEWLINE, at)
    if (end === -1) end = body.length
    const out = body.subarray(at, end)
    at = end + 1
    return out
  }
  const header = jsonObject(line(), 'envelope header')
  const items: EnvelopeItem[] = []
  while (at < body.length) {
    const headerLine = line()
    // a trailing newline, or blank lines between items
    if (headerLine.length === 0 || (headerLine.length === 1 && headerLine[0] === 0x0d)) continue
    if (items.length >= MAX_ITEMS) throw new EnvelopeError('too many items')
    const itemHeader = jsonObject(headerLine, 'item header')
    if (typeof itemHeader.type !== 'string') throw new EnvelopeError('an item header without a type')
    const length = itemHeader.length
    let payload: Buffer
    if (length === undefined || length === null) {
      payload = line()
    } else {
      if (!Number.isSafeInteger(length) || (length as number) < 0) throw new EnvelopeError('an item length that is not a whole number')
      const end = at + (length as number)
      if (end > body.length) throw new EnvelopeError('an item length past the end of the envelope')
      payload = body.subarray(at, end)
      // the payload is followed by a newline or the end: anything else means the length lied
      if (end < body.length && body[end] !== NEWLINE) throw new EnvelopeError('an item length that does not match its payload')
      at = end + 1
    }
    items.push({ type: itemHeader.type, payload })
  }
  return { header, items }
}

function jsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  if (bytes.length > MAX_HEADER_BYTES) throw new EnvelopeError(`${what} too large`)
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new EnvelopeError(`${what} is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EnvelopeError(`${what} is not an object`)
  return value as Record<string, unknown>
}

/** A JSON payload (an event) as an object; throws EnvelopeError when it is not one. */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new EnvelopeError('the event is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EnvelopeError('the event is not an object')
  return value as Record<string, unknown>
}
