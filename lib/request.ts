import type { IncomingMessage } from 'node:http'
import type { RequestInfo } from './types.js'

const MAX_HEADER_VALUE = 2048

/** What the framework glue knows beyond Node's own request. */
export interface RequestExtras {
  /** the path and query as the client sent them (Express: req.originalUrl, Koa: ctx.originalUrl) */
  originalUrl?: string
  protocol?: string
  query?: unknown
  body?: unknown
  ip?: string
}

/** Request context for an event, in Sentry's shape. Scrubbing happens later, when the event is built. */
export function requestInfo(req: IncomingMessage, extras: RequestExtras = {}): RequestInfo {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    const text = Array.isArray(value) ? value.join(', ') : String(value)
    headers[name] = text.length > MAX_HEADER_VALUE ? text.slice(0, MAX_HEADER_VALUE) + '...[truncated]' : text
  }
  const path = extras.originalUrl ?? req.url ?? '/'
  const protocol = extras.protocol ?? ((req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http')
  const host = headers.host ?? 'localhost'
  const queryIndex = path.indexOf('?')
  const info: RequestInfo = {
    method: req.method,
    url: `${protocol}://${host}${path}`,
    headers,
    query_string: isNonEmptyObject(extras.query) ? (extras.query as Record<string, unknown>) : queryIndex >= 0 ? path.slice(queryIndex + 1) : '',
  }
  if (extras.body !== undefined && !isEmptyObject(extras.body)) info.data = extras.body
  const ip = extras.ip ?? req.socket?.remoteAddress
  if (ip) info.env = { REMOTE_ADDR: ip }
  return info
}

function isNonEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && Object.keys(value).length === 0
}
