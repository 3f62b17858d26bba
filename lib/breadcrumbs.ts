import diagnostics from 'node:diagnostics_channel'
import { format } from 'node:util'
import { breadcrumbChanged } from './event.js'
import type { Breadcrumb, Level } from './types.js'

/** Receives automatic breadcrumbs; each tracker adds them to the scope that is current where they happened. */
export type BreadcrumbSink = (crumb: Breadcrumb) => void

const MAX_MESSAGE = 1000
const CONSOLE_LEVELS: Record<string, Level> = { log: 'log', info: 'info', warn: 'warning', error: 'error', debug: 'debug' }

const sinks = new Set<BreadcrumbSink>()
const originalConsole = new Map<string, (...args: unknown[]) => void>()
/** http/fetch requests in flight, so the response can complete the breadcrumb made at the start */
const pending = new WeakMap<object, Breadcrumb>()

function emit(crumb: Breadcrumb): void {
  for (const sink of sinks) {
    try {
      sink(crumb)
    } catch {
      // a breadcrumb is never worth breaking the caller's console.log or request
    }
  }
}

function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/)
  return cut >= 0 ? url.slice(0, cut) : url
}

function onHttpStart(message: unknown): void {
  const request = (message as { request: { method?: string; protocol?: string; host?: string; path?: string; getHeader(name: string): unknown } }).request
  // the Host header carries the port; request.host does not
  const host = String(request.getHeader('host') ?? request.host ?? '')
  const crumb: Breadcrumb = {
    timestamp: new Date().toISOString(),
    type: 'http',
    category: 'http',
    data: { method: request.method, url: withoutQuery(`${request.protocol ?? 'http:'}//${host}${request.path ?? ''}`) },
  }
  pending.set(request, crumb)
  emit(crumb)
}

/** http's response.finish and fetch's request.headers: the status code completes the breadcrumb. */
function onResponse(message: unknown): void {
  const { request, response } = message as { request: object; response: { statusCode?: number } }
  const crumb = pending.get(request)
  if (crumb?.data) {
    crumb.data.status_code = response.statusCode
    breadcrumbChanged(crumb)
  }
}

function onFetchCreate(message: unknown): void {
  const request = (message as { request: { method?: string; origin?: string; path?: string } }).request
  const crumb: Breadcrumb = {
    timestamp: new Date().toISOString(),
    type: 'http',
    category: 'fetch',
    data: { method: request.method, url: withoutQuery(`${request.origin ?? ''}${request.path ?? ''}`) },
  }
  pending.set(request, crumb)
  emit(crumb)
}

function onFetchError(message: unknown): void {
  const { request, error } = message as { request: object; error?: { message?: string } }
  const crumb = pending.get(request)
  if (crumb?.data) {
    crumb.level = 'error'
    crumb.data.error = String(error?.message ?? error)
    breadcrumbChanged(crumb)
  }
}

const channels: Array<[string, (message: unknown) => void]> = [
  ['http.client.request.start', onHttpStart],
  ['http.client.response.finish', onResponse],
  ['undici:request:create', onFetchCreate],
  ['undici:request:headers', onResponse],
  ['undici:request:error', onFetchError],
]

function install(): void {
  for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
    const original = (console as unknown as Record<string, (...args: unknown[]) => void>)[method]
    originalConsole.set(method, original)
    ;(console as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      original.apply(this, args)
      if (sinks.size === 0) return
      let text: string
      try {
        text = format(...args)
      } catch {
        text = '[unprintable]'
      }
      emit({ timestamp: new Date().toISOString(), category: 'console', level, message: text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + '...' : text })
    }
  }
  for (const [name, handler] of channels) diagnostics.subscribe(name, handler)
}

function uninstall(): void {
  for (const [method, original] of originalConsole) (console as unknown as Record<string, unknown>)[method] = original
  originalConsole.clear()
  for (const [name, handler] of channels) diagnostics.unsubscribe(name, handler)
}

/** Starts automatic breadcrumbs (console.*, outgoing http/https/fetch) for one sink; returns the unsubscribe. */
export function subscribeBreadcrumbs(sink: BreadcrumbSink): () => void {
  if (sinks.size === 0) install()
  sinks.add(sink)
  return () => {
    if (sinks.delete(sink) && sinks.size === 0) uninstall()
  }
}
