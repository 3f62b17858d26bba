/**
 * The browser ingest: Sentry's store and envelope endpoints under `browser.path`, served by the
 * Express and Koa glue before the app's own middleware. Every request is anonymous input (the key
 * ships in page source): its body is read here with caps, parsed as bytes, answered with the
 * status a Sentry SDK understands, and only `event` items are kept. Nothing a client sends is
 * written to a log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BodyError, readBody } from './body.js'
import { EnvelopeError, parseEnvelope, parseJsonObject } from './envelope.js'
import { fromSentryEvent, type BrowserCapture } from './sentry-event.js'
import { RateLimits } from './limits.js'
import { clientScript } from './client-script.js'
import { mapBrowserFrames } from '../source-maps/browser.js'
import type { ResolvedBrowser } from '../options.js'
import type { ExceptionInfo } from '../types.js'

/** What the ingest needs from the tracker. */
export interface IngestHost {
  browser: ResolvedBrowser
  scrubFields: string[]
  maxBreadcrumbs: number
  root: string
  sourceContext: boolean
  report(err: Error): void
  /** says a mistake in how the app set faultline up (rate limited) */
  warn(err: Error): void
  /** the public key (generated and kept in the store when the options have none) */
  key(): Promise<string>
  /** the issue an event would open, as sent (before its frames are mapped) */
  groupOf(capture: BrowserCapture): string
  /**
   * Records the event through the tracker's queue, once `map` has mapped its frames (off the
   * request path); its event id, or null when the filters drop it.
   */
  record(capture: BrowserCapture, map: (exception: ExceptionInfo) => ExceptionInfo): string | null
}

/** Where the glue found the request: the part under `browser.path`, and the client's address. */
export interface IngestWhere {
  path: string
  search: string
  ip: string | undefined
}

/** Sentry refuses events over 200 KB compressed or 1 MB decompressed; so does this. */
export const MAX_BODY_BYTES = 200 * 1024
export const MAX_DECOMPRESSED_BYTES = 1024 * 1024
/** bodies read at once, across all clients: what a flood of slow uploads may hold */
const MAX_READING = 64
const ENDPOINT = /^\/api\/\d{1,16}\/(envelope|store)\/?$/
const CORS_HEADERS = 'Content-Type, X-Sentry-Auth, Content-Encoding, sentry-trace, baggage'

export class BrowserIngest {
  readonly #host: IngestHost
  readonly #limits: RateLimits
  #reading = 0

  constructor(host: IngestHost) {
    this.#host = host
    this.#limits = new RateLimits(host.browser)
  }

  handle(req: IncomingMessage, res: ServerResponse, where: IngestWhere): void {
    this.#handle(req, res, where).catch((err: unknown) => {
      // a failure of faultline's own: the client is told, the app is not troubled
      this.#host.report(err instanceof Error ? err : new Error(String(err)))
      if (!res.headersSent) reply(res, 500, { detail: 'internal error' }, req)
    })
  }

  async #handle(req: IncomingMessage, res: ServerResponse, where: IngestWhere): Promise<void> {
    if (where.path === '/client.js') return this.#serveClient(req, res)
    const endpoint = ENDPOINT.exec(where.path)?.[1]
    if (!endpoint) return reply(res, 404, { detail: 'not found' }, req)

    const origin = header(req, 'origin')
    const cors = this.#cors(req, origin)
    if (cors === 'refused') return reply(res, 403, { detail: 'origin not allowed' }, req)
    if (cors === 'allowed') {
      res.setHeader('Access-Control-Allow-Origin', origin!)
      res.setHeader('Vary', 'Origin')
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS')
      res.setHeader('Access-Control-Allow-Headers', CORS_HEADERS)
      res.setHeader('Access-Control-Max-Age', '86400')
      res.statusCode = 204
      res.end()
      return
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS')
      return reply(res, 405, { detail: 'method not allowed' }, req)
    }

    const client = where.ip ?? 'unknown'
    if (!this.#limits.takeRequest(client)) return this.#tooMany(req, res)
    const given = keyOf(req, where.search)
    const key = await this.#host.key()
    if (given !== null && given !== key) return reply(res, 403, { detail: 'wrong key' }, req)
    // the store endpoint has no envelope header to carry a DSN
    if (given === null && endpoint === 'store') return reply(res, 403, { detail: 'missing key' }, req)
    if (this.#reading >= MAX_READING) return this.#tooMany(req, res, 1)
    if (req.readableEnded) {
      this.#host.warn(new Error(`a body parser read a browser event's body before faultline could (it was mounted before tracker.express() or tracker.koa()), so the event was refused. Mount faultline's middleware first.`))
      return reply(res, 400, { detail: 'body already read' })
    }

    let body: Buffer
    this.#reading += 1
    try {
      body = await readBody(req, { maxBytes: MAX_BODY_BYTES, maxDecompressed: MAX_DECOMPRESSED_BYTES })
    } catch (err) {
      const status = err instanceof BodyError ? err.status : 400
      return reply(res, status, { detail: status === 413 ? 'too large' : 'bad body' }, req)
    } finally {
      this.#reading -= 1
    }

    let event: Record<string, unknown> | null
    try {
      if (endpoint === 'store') {
        event = parseJsonObject(body)
      } else {
        const envelope = parseEnvelope(body)
        // the tunnel form: the request carries no key, the envelope's header holds the DSN
        const sent = given ?? dsnKey(envelope.header.dsn)
        if (sent !== key) return reply(res, 403, { detail: sent === null ? 'missing key' : 'wrong key' })
        const item = envelope.items.find((one) => one.type === 'event')
        // sessions, client reports, transactions, replays: answered, not kept
        event = item ? parseJsonObject(item.payload) : null
      }
    } catch (err) {
      if (err instanceof EnvelopeError) return reply(res, 400, { detail: 'malformed' })
      throw err
    }
    if (event === null) return reply(res, 200, {})
    if (!this.#limits.takeEvent(client)) return this.#tooMany(req, res)
    const appOrigins = [...this.#appOrigins(req), ...this.#host.browser.origins]
    const capture = fromSentryEvent(event, {
      ip: where.ip,
      userAgent: header(req, 'user-agent'),
      appOrigins,
      clientPath: this.#host.browser.path,
      maxBreadcrumbs: this.#host.maxBreadcrumbs,
      scrubFields: this.#host.scrubFields,
    })
    if (!this.#limits.admitGroup(this.#host.groupOf(capture))) return this.#tooMany(req, res)
    const id = this.#host.record(capture, (exception) => this.#mapped(exception, appOrigins))
    reply(res, 200, id === null ? {} : { id })
  }

  /** The exception with the frames of the app's own scripts mapped through its source maps. */
  #mapped(exception: ExceptionInfo, origins: string[]): ExceptionInfo {
    const { sourceMaps } = this.#host.browser
    if (sourceMaps.length === 0) return exception
    const options = { sourceMaps, origins, root: this.#host.root, sourceContext: this.#host.sourceContext, report: this.#host.report }
    const one = <T extends Omit<ExceptionInfo, 'causes'>>(ex: T): T => {
      const frames = ex.stacktrace?.frames
      if (!frames) return ex
      const mapped = mapBrowserFrames(frames, { ...options, gapAt: ex.stacktrace?.frames_omitted?.[0] })
      return mapped === frames ? ex : { ...ex, stacktrace: { ...ex.stacktrace, frames: mapped } }
    }
    const outer = one(exception)
    return exception.causes ? { ...outer, causes: exception.causes.map(one) } : outer
  }

  /**
   * A request with no Origin is not a browser's cross-origin one; the app's own origin needs no
   * CORS; a configured one gets it; any other is refused, since a browser would send the event
   * even though it could not read the answer.
   */
  #cors(req: IncomingMessage, origin: string | undefined): 'none' | 'allowed' | 'refused' {
    if (origin === undefined) return 'none'
    if (this.#host.browser.origins.includes(origin)) return 'allowed'
    return this.#appOrigins(req).includes(origin) ? 'none' : 'refused'
  }

  /** The origins the request itself was sent to (the Host header, over http or https). */
  #appOrigins(req: IncomingMessage): string[] {
    const host = header(req, 'host')
    return host ? [`http://${host}`, `https://${host}`] : []
  }

  #tooMany(req: IncomingMessage, res: ServerResponse, seconds = this.#limits.retryAfter()): void {
    res.setHeader('Retry-After', String(seconds))
    // what the Sentry SDKs read: every category, for this long
    res.setHeader('X-Sentry-Rate-Limits', `${seconds}::organization`)
    reply(res, 429, { detail: 'rate limited' }, req)
  }

  #serveClient(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return reply(res, 405, { detail: 'method not allowed' })
    }
    let script
    try {
      script = clientScript()
    } catch (err) {
      this.#host.report(err as Error)
      return reply(res, 404, { detail: 'not found' })
    }
    res.setHeader('Content-Type', script.type)
    // an hour: a new faultline's client reaches pages within it, and its ETag revalidates cheaply
    res.setHeader('Cache-Control', 'public, max-age=3600')
    res.setHeader('ETag', script.etag)
    res.setHeader('Vary', 'Accept-Encoding')
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Cross-Origin-Resource-Policy', this.#host.browser.origins.length > 0 ? 'cross-origin' : 'same-origin')
    if (header(req, 'if-none-match') === script.etag) {
      res.statusCode = 304
      res.end()
      return
    }
    const gzip = /\bgzip\b/.test(header(req, 'accept-encoding') ?? '')
    const body = gzip ? script.gzip : script.body
    if (gzip) res.setHeader('Content-Encoding', 'gzip')
    res.setHeader('Content-Length', String(body.length))
    res.statusCode = 200
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

/**
 * A JSON answer. `unread` is the request when its body may not have been read: a small one is
 * read and thrown away, so the connection can serve the client's next request; a large one (or
 * one of unknown size) is not, and the connection closes after the answer.
 */
function reply(res: ServerResponse, status: number, body: object, unread?: IncomingMessage): void {
  if (res.headersSent) return
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  if (unread && !unread.readableEnded) {
    const declared = Number(unread.headers['content-length'])
    if (Number.isFinite(declared) && declared <= MAX_BODY_BYTES && !unread.readableFlowing) unread.resume()
    else res.setHeader('Connection', 'close')
  }
  res.end(JSON.stringify(body))
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return typeof value === 'string' ? value : undefined
}

/** The key from the `sentry_key` query parameter or the X-Sentry-Auth header, else null. */
function keyOf(req: IncomingMessage, search: string): string | null {
  const fromQuery = new URLSearchParams(search.slice(0, 4096)).get('sentry_key')
  if (fromQuery) return fromQuery
  const auth = header(req, 'x-sentry-auth')
  const match = auth ? /(?:^|[\s,])sentry_key=([^,\s]{1,128})/.exec(auth.slice(0, 4096)) : null
  return match ? match[1] : null
}

/** The key (user part) of a DSN, else null. */
function dsnKey(dsn: unknown): string | null {
  if (typeof dsn !== 'string' || dsn.length > 2048) return null
  try {
    return decodeURIComponent(new URL(dsn).username) || null
  } catch {
    return null
  }
}
