import type { IncomingMessage } from 'node:http'
import type { RequestInfo, User } from './types.js'

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
    const text = headerText(value)
    if (text !== undefined) headers[name] = text
  }
  const path = extras.originalUrl ?? req.url ?? '/'
  const queryIndex = path.indexOf('?')
  const info: RequestInfo = {
    method: req.method,
    url: requestUrl(req, extras),
    headers,
    query_string: isNonEmptyObject(extras.query) ? (extras.query as Record<string, unknown>) : queryIndex >= 0 ? path.slice(queryIndex + 1) : '',
  }
  if (extras.body !== undefined && !isEmptyObject(extras.body)) info.data = extras.body
  const ip = extras.ip ?? req.socket?.remoteAddress
  if (ip) info.env = { REMOTE_ADDR: ip }
  return info
}

/**
 * The method and URL as requestInfo gives them, and the User-Agent header alone: what counting an
 * event reads of its request (the user agent gives its browser and OS tags).
 */
export function requestLine(req: IncomingMessage, extras: Pick<RequestExtras, 'originalUrl' | 'protocol'>): RequestInfo {
  const line: RequestInfo = { method: req.method, url: requestUrl(req, extras) }
  const userAgent = headerText(req.headers['user-agent'])
  if (userAgent !== undefined) line.headers = { 'user-agent': userAgent }
  return line
}

function requestUrl(req: IncomingMessage, extras: Pick<RequestExtras, 'originalUrl' | 'protocol'>): string {
  const protocol = extras.protocol ?? ((req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http')
  return `${protocol}://${headerText(req.headers.host) ?? 'localhost'}${extras.originalUrl ?? req.url ?? '/'}`
}

function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(', ') : String(value)
  return text.length > MAX_HEADER_VALUE ? text.slice(0, MAX_HEADER_VALUE) + '...[truncated]' : text
}

function isNonEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && Object.keys(value).length === 0
}

/**
 * The signed-in user as the request carries it (Passport's `req.user`, koa-passport's and
 * koa-jwt's `ctx.state.user`), reduced to what identifies them: id (a JWT's `sub` when there is
 * no id), username and email, the fields Sentry reads. Nothing else of such an object (a
 * password hash, tokens) is ever read.
 */
export function requestUser(value: unknown): User | null {
  if (typeof value !== 'object' || value === null) return null
  const user: User = {}
  const id = identifier(readField(value, 'id')) ?? identifier(readField(value, 'sub'))
  if (id !== undefined) user.id = id
  for (const key of ['username', 'email'] as const) {
    const field = identifier(readField(value, key))
    if (field !== undefined) user[key] = String(field)
  }
  return Object.keys(user).length > 0 ? user : null
}

function readField(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

function identifier(field: unknown): string | number | undefined {
  if (typeof field === 'string' && field !== '') return field.slice(0, 256)
  if (typeof field === 'number' && Number.isFinite(field)) return field
  return undefined
}
