/**
 * Shared pieces for the panel tests: a memory store filled with realistic events built by the real
 * event builder and grouping, and a plain Node server that hands /errors requests to the panel.
 */
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { memoryStore } from '../../adapters/memory.js'
import { buildEvent } from '../../lib/event.js'
import { groupEvent, userKey } from '../../common/fingerprint.js'
import { resolveOptions } from '../../lib/options.js'
import { createPanel } from '../../lib/panel/index.js'
import type { FaultlineEvent, RecordResult, Store } from '../../lib/types.js'
import type { CaptureContext, ScopeData, TrackerOptions } from '../../lib/types.js'

export const ROOT = process.cwd()

function emptyScope(): ScopeData {
  return { tags: {}, extra: {}, user: null, contexts: {}, level: null, fingerprint: null, breadcrumbs: [], request: null, transaction: null }
}

export interface Capture extends CaptureContext {
  error?: unknown
  message?: string
  at?: Date
  breadcrumbs?: ScopeData['breadcrumbs']
  transaction?: string
  release?: string
  environment?: string
}

/** Records one event the way the tracker would: build, group, store. */
export async function capture(store: Store, c: Capture): Promise<RecordResult> {
  const scope = emptyScope()
  if (c.breadcrumbs) scope.breadcrumbs = c.breadcrumbs
  if (c.transaction) scope.transaction = c.transaction
  const event = buildEvent({
    eventId: randomBytes(16).toString('hex'),
    timestamp: c.at ?? new Date(),
    error: c.message === undefined ? c.error : undefined,
    message: c.message,
    scope,
    ctx: c,
    options: {
      root: ROOT,
      environment: c.environment ?? 'development',
      release: c.release ?? '1.0.0',
      serverName: 'web-1',
      scrubFields: ['password', 'token', 'cookie', 'authorization'],
      sourceContext: true,
      maxBreadcrumbs: 100,
    },
  })
  return store.record({ event, grouping: groupEvent(event), userKey: userKey(event.user) })
}

/** Records the issue's latest event once more (a new id, now, and any `changes`): another occurrence of the same issue. */
export async function repeat(store: Store, issueId: string, changes: Partial<FaultlineEvent> = {}): Promise<RecordResult> {
  const [latest] = (await store.listEvents(issueId, { limit: 1 })).events
  const event = { ...latest, event_id: randomBytes(16).toString('hex'), timestamp: new Date().toISOString(), ...changes }
  return store.record({ event, grouping: groupEvent(event), userKey: userKey(event.user) })
}

/** An error thrown from a named function in this file, so its frames are in-app with source context. */
export function failingLookup(id: number): Error {
  try {
    return lookupUser(id)
  } catch (err) {
    return err as Error
  }
}
function lookupUser(id: number): never {
  throw new TypeError(`Cannot read properties of undefined (reading 'name') for user ${id}`)
}

export function paymentError(): Error {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  return chargeCard(cause)
}
function chargeCard(cause: Error): Error {
  return new Error('Payment failed', { cause })
}

/** A panel over `store` served by a plain Node server at /errors, like the glue would mount it. */
export function panelServer(store: Store, options: TrackerOptions = {}, basePath = '/errors'): http.Server {
  const resolved = resolveOptions({ store, appName: 'shop', environment: 'development', ...options })
  const panel = createPanel({ store, options: resolved })
  return http.createServer((req, res) => {
    const url = req.url ?? '/'
    if (url === basePath || url.startsWith(`${basePath}/`) || url.startsWith(`${basePath}?`)) {
      const rest = url.slice(basePath.length)
      const q = rest.indexOf('?')
      void panel.handle(req, res, { basePath, path: (q >= 0 ? rest.slice(0, q) : rest) || '/', search: q >= 0 ? rest.slice(q) : '' })
      return
    }
    res.statusCode = 404
    res.end('app 404')
  })
}

/** A store with a few issues of different kinds, and their ids. */
export async function seededStore(): Promise<{ store: Store; ids: { lookup: string; payment: string; message: string } }> {
  const store = memoryStore()
  const hour = 3_600_000
  const now = Date.now()
  let lookup = ''
  for (let i = 0; i < 6; i++) {
    const r = await capture(store, {
      error: failingLookup(i),
      at: new Date(now - i * hour),
      tags: { browser: i % 3 === 0 ? 'Firefox' : 'Chrome', route: '/users/:id' },
      user: { id: `u${i % 4}`, email: `user${i % 4}@example.com` },
      request: { method: 'GET', url: `https://shop.example.com/users/${i}?ref=mail`, headers: { 'user-agent': 'Mozilla/5.0', accept: 'text/html' } },
      breadcrumbs: [
        { timestamp: new Date(now - i * hour - 2000).toISOString(), category: 'http', message: 'GET /users', level: 'info' },
        { timestamp: new Date(now - i * hour - 1000).toISOString(), category: 'db', message: 'select * from users', level: 'warning', data: { ms: 12 } },
      ],
      extra: { attempt: i, payload: { nested: { deep: true } } },
      contexts: { app: { region: 'eu-west-1' } },
      transaction: 'GET /users/:id',
    })
    lookup = r.issue.id
  }
  const payment = (await capture(store, { error: paymentError(), tags: { browser: 'Safari' }, user: { id: 'buyer-1' }, release: '1.1.0' })).issue.id
  const message = (await capture(store, { message: 'Queue depth above 1000', level: 'warning', tags: { job: 'nightly billing' } })).issue.id
  return { store, ids: { lookup, payment, message } }
}

/** Pulls the CSRF cookie and the form token out of a page response. */
export function csrfFrom(res: { headers: Record<string, unknown>; text: string }): { cookie: string; token: string } {
  const setCookie = ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? [])
  const cookie = setCookie.find((c) => c.startsWith('faultline_csrf='))?.split(';')[0] ?? ''
  const token = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1] ?? ''
  return { cookie, token }
}

/** The text content of the page, tags removed and entities decoded, for "the user sees X" checks. */
export function visibleText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
}
