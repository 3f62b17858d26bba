/**
 * Who may open the panel, and the headers every panel response carries.
 * Kept apart from the routes so the rules can be read (and reviewed) in one place.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PanelAuth } from '../types.js'

export type AccessResult =
  | { ok: true }
  | { ok: false; status: 401 | 403; reason: 'credentials' | 'denied' | 'production' | 'remote' | 'forwarded' | 'host' }

/** Headers that mean a proxy stands between the browser and us, so the socket address says nothing. */
const FORWARDING_HEADERS = [
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-client-ip',
  'x-cluster-client-ip', 'cf-connecting-ip', 'true-client-ip', 'fastly-client-ip', 'x-original-forwarded-for', 'via',
]

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true
  return address === '::1' || address === '0:0:0:0:0:0:0:1'
}

/**
 * True when the request carries any header a proxy adds (any `X-Forwarded-*` too, with dashes or
 * underscores), or speaks HTTP/1.0: nginx's bare `proxy_pass` adds no header and sets Host to the
 * upstream's address, but talks HTTP/1.0 to it, which no browser does today.
 */
export function isForwarded(req: IncomingMessage): boolean {
  if (req.httpVersion === '1.0') return true
  return FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined) || Object.keys(req.headers).some((h) => /^x[-_]forwarded/.test(h))
}

/**
 * True when a Host header (or an Origin's host) can only name this machine: `localhost` and its
 * subdomains (browsers resolve those themselves), 127.x.x.x and [::1]. Any other name could be a
 * web page's own domain pointed at 127.0.0.1 (DNS rebinding), which the socket address cannot tell.
 */
export function isLocalHostName(host: string | undefined): boolean {
  if (!host) return false
  let name = host.trim().toLowerCase()
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']') === -1 ? undefined : name.indexOf(']'))
  else if (/:\d*$/.test(name)) name = name.slice(0, name.lastIndexOf(':'))
  if (name.endsWith('.')) name = name.slice(0, -1)
  return name === 'localhost' || name.endsWith('.localhost') || isLoopback(name)
}


function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** Parses `Authorization: Basic ...` into its two halves, or null. */
export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  if (!header) return null
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!match) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * Compares credentials in constant time: both sides are hashed first so their lengths match and
 * the comparison time says nothing about how much of a guess was right; both halves are always compared.
 */
export function credentialsMatch(given: { username: string; password: string }, expected: { username: string; password: string }): boolean {
  const userOk = timingSafeEqual(digest(given.username), digest(expected.username))
  const passOk = timingSafeEqual(digest(given.password), digest(expected.password))
  return userOk && passOk
}

/** True when faultline or the process says this is production (in any letter case). */
export function isProduction(environment: string): boolean {
  return environment.toLowerCase() === 'production' || process.env.NODE_ENV?.trim().toLowerCase() === 'production'
}

/**
 * Decides whether this request may see the panel. With `auth`, only the credentials or the function
 * decide (a throwing function denies). Without it, only local development is served.
 */
export async function checkAccess(
  req: IncomingMessage,
  auth: PanelAuth | null,
  environment: string,
  onError: (err: Error) => void,
  authSubject: unknown = req,
): Promise<AccessResult> {
  if (typeof auth === 'function') {
    try {
      return (await auth(authSubject as IncomingMessage)) === true ? { ok: true } : { ok: false, status: 403, reason: 'denied' }
    } catch (err) {
      onError(new Error(`panel.auth threw, so the request was denied: ${(err as Error)?.message ?? String(err)}`))
      return { ok: false, status: 403, reason: 'denied' }
    }
  }
  if (auth) {
    const given = parseBasic(req.headers.authorization)
    return given && credentialsMatch(given, auth) ? { ok: true } : { ok: false, status: 401, reason: 'credentials' }
  }
  if (isProduction(environment)) return { ok: false, status: 403, reason: 'production' }
  if (!isLoopback(req.socket?.remoteAddress)) return { ok: false, status: 403, reason: 'remote' }
  if (isForwarded(req)) return { ok: false, status: 403, reason: 'forwarded' }
  // (a foreign Origin on a write is the CSRF check's to refuse; a foreign Host is a rebound name)
  if (!isLocalHostName(req.headers.host)) return { ok: false, status: 403, reason: 'host' }
  return { ok: true }
}

/** A fresh CSP nonce for one response. */
export function newNonce(): string {
  return randomBytes(16).toString('base64')
}

/**
 * Sets the headers every panel response carries. Styles and scripts load only with the response's
 * nonce, so injected markup can neither run script nor restyle the page.
 */
export function setSecurityHeaders(res: ServerResponse, nonce: string): void {
  res.setHeader('Content-Security-Policy', [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '))
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  res.setHeader('Cache-Control', 'no-store')
}

/**
 * True unless the browser says the request came from another site. `Sec-Fetch-Site` is trusted first
 * (modern browsers always send it); else `Origin` must name the host the request was sent to.
 * Requests without either (curl, scripts) are not browser CSRF and pass to the next checks.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site']
  if (typeof site === 'string') return site === 'same-origin' || site === 'none'
  const origin = req.headers.origin
  if (origin === undefined) return true
  let host: string
  try {
    host = new URL(origin).host
  } catch {
    return false
  }
  const hosts = [req.headers.host, req.headers['x-forwarded-host']]
    .flatMap((h) => (typeof h === 'string' ? h.split(',') : []))
    .map((h) => h.trim().toLowerCase())
  return hosts.includes(host.toLowerCase())
}

/** The double-submit cookie; its name holds 'csrf', so hosts that record cookies scrub it. */
export const CSRF_COOKIE = 'faultline_csrf'

/** Reads one cookie from the request, or null. */
export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie
  if (!header) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

/**
 * The CSRF token for this browser: a double-submit cookie scoped to the panel path. It needs no
 * session middleware and no server-side state, so it keeps working across restarts and across
 * several instances behind one load balancer (a per-process HMAC secret would not). The cookie is
 * HttpOnly and SameSite=Strict; the same-origin check above covers what double-submit alone does not.
 */
export function csrfToken(req: IncomingMessage, res: ServerResponse, basePath: string): string {
  const existing = readCookie(req, CSRF_COOKIE)
  if (existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing
  const token = randomBytes(24).toString('base64url')
  const secure = (req.socket as { encrypted?: boolean }).encrypted || req.headers['x-forwarded-proto'] === 'https'
  res.appendHeader('Set-Cookie', `${CSRF_COOKIE}=${token}; Path=${basePath || '/'}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`)
  return token
}

/** True when the submitted token equals the cookie, compared in constant time. */
export function csrfValid(req: IncomingMessage, submitted: unknown): boolean {
  const cookie = readCookie(req, CSRF_COOKIE)
  if (!cookie || typeof submitted !== 'string' || !submitted) return false
  return timingSafeEqual(digest(cookie), digest(submitted))
}
