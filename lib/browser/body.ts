/**
 * Reads an ingest request's body itself, before and without the app's body parsers: at most
 * `maxBytes` as sent, and at most `maxDecompressed` once gzip, deflate or br is undone, the
 * second cap enforced while decompressing, so a small bomb never grows past it in memory.
 */
import type { IncomingMessage } from 'node:http'
import zlib from 'node:zlib'

export class BodyError extends Error {
  constructor(readonly status: 400 | 408 | 413 | 415, message: string) {
    super(message)
  }
}

export interface BodyLimits {
  /** bytes as sent (Sentry refuses events over 200 KB compressed) */
  maxBytes: number
  /** bytes once decompressed (Sentry: 1 MB) */
  maxDecompressed: number
}

/** The body, decompressed; rejects with a BodyError (400, 413 or 415). */
export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (!['identity', 'gzip', 'x-gzip', 'deflate', 'br'].includes(encoding)) throw new BodyError(415, 'unsupported content-encoding')
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limits.maxBytes) throw new BodyError(413, 'body too large')
  const raw = await readRaw(req, limits.maxBytes)
  if (encoding === 'identity') {
    if (raw.length > limits.maxDecompressed) throw new BodyError(413, 'body too large')
    return raw
  }
  return decompress(raw, encoding, limits.maxDecompressed)
}

/**
 * How long a body may take to arrive. Reads are few at once (ingest.ts), so a client sending its
 * bodies a byte at a time must not hold a slot for the minutes Node allows a request.
 */
const READ_DEADLINE_MS = 10_000

function readRaw(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const deadline = setTimeout(() => {
      req.pause()
      done(new BodyError(408, 'body took too long'))
    }, READ_DEADLINE_MS)
    const done = (err: Error | null) => {
      clearTimeout(deadline)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
      if (err) reject(err)
      else resolve(Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > max) {
        // what is left is not read: the answer closes the connection (see ingest.ts)
        req.pause()
        done(new BodyError(413, 'body too large'))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => done(null)
    const onError = (err: Error) => done(new BodyError(400, `body could not be read: ${err.message}`))
    const onAborted = () => done(new BodyError(400, 'request aborted'))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}

function decompress(raw: Buffer, encoding: string, max: number): Promise<Buffer> {
  const options = { maxOutputLength: max }
  return new Promise((resolve, reject) => {
    const callback = (err: Error | null, out: Buffer) => {
      if (!err) return resolve(out)
      reject(isTooLarge(err) ? new BodyError(413, 'body too large once decompressed') : new BodyError(400, `body could not be decompressed (${encoding})`))
    }
    if (encoding === 'br') zlib.brotliDecompress(raw, options, callback)
    // deflate is zlib-wrapped by the standard; some clients send the raw stream
    else if (encoding === 'deflate') zlib.inflate(raw, options, (err, out) => (err && !isTooLarge(err) ? zlib.inflateRaw(raw, options, callback) : callback(err, out)))
    else zlib.gunzip(raw, options, callback)
  })
}

function isTooLarge(err: Error): boolean {
  return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError
}
