/**
 * Reads a panel request body: a form or JSON, at most 64 KB. Works on Node's own request, and
 * reuses what the host app's body parser already read when it got there first.
 */
import type { IncomingMessage } from 'node:http'

/** The largest body the panel reads; forms and PATCH bodies are tiny. */
export const BODY_LIMIT = 64 * 1024

/** A body the panel refuses; `status` is the HTTP status to answer with. */
export class BodyError extends Error {
  constructor(readonly status: 400 | 413 | 415, message: string) {
    super(message)
  }
}

export type Fields = Record<string, string | string[]>

/** The media type of the request without parameters, lowercased ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
}

function readStream(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyError(413, `The request body is larger than ${limit} bytes.`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        // Stop buffering, but drain the rest so the connection can answer the 413.
        req.resume()
        reject(new BodyError(413, `The request body is larger than ${limit} bytes.`))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(new BodyError(400, `The request body could not be read: ${err.message}`))
    }
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

function formFields(text: string): Fields {
  const fields: Fields = Object.create(null)
  for (const [key, value] of new URLSearchParams(text)) {
    const prev = fields[key]
    fields[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return fields
}

/** Copies a host-parsed form into plain string fields, dropping anything that is not text. */
function fromParsed(body: Record<string, unknown>): Fields {
  const fields: Fields = Object.create(null)
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') fields[key] = value
    else if (Array.isArray(value)) fields[key] = value.filter((v): v is string => typeof v === 'string')
  }
  return fields
}

function hostParsed(req: IncomingMessage): unknown {
  const body = (req as { body?: unknown }).body
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body) ? body : undefined
}

/**
 * Reads an HTML form post (urlencoded). When the stream was already consumed by the host's body
 * parser, its parsed `req.body` is used; an unparsed, unread stream is read here.
 */
export async function readForm(req: IncomingMessage, limit = BODY_LIMIT): Promise<Fields> {
  if (req.readableEnded) {
    const parsed = hostParsed(req)
    return parsed ? fromParsed(parsed as Record<string, unknown>) : Object.create(null)
  }
  const type = mediaType(req)
  if (type !== 'application/x-www-form-urlencoded') throw new BodyError(415, 'Forms must be sent as application/x-www-form-urlencoded.')
  return formFields(await readStream(req, limit))
}

/** Reads a JSON body; the caller has already checked the content type. */
export async function readJson(req: IncomingMessage, limit = BODY_LIMIT): Promise<unknown> {
  if (req.readableEnded) return hostParsed(req) ?? null
  const text = await readStream(req, limit)
  if (!text.trim()) return null
  try {
    return JSON.parse(text)
  } catch {
    throw new BodyError(400, 'The request body is not valid JSON.')
  }
}

/** One field as a string: the first when it was sent several times, '' when missing. */
export function field(fields: Fields, name: string): string {
  const value = fields[name]
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '')
}

/** One field as a list, however many times it was sent. */
export function fieldList(fields: Fields, name: string): string[] {
  const value = fields[name] ?? fields[`${name}[]`]
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}
