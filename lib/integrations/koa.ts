import type { IncomingMessage, ServerResponse } from 'node:http'
import { requestInfo, requestLine, requestUser } from '../request.js'
import type { Glue } from '../tracker.js'
import { matchPanel } from './panel-path.js'
import { captureOnce, RequestState } from './request-state.js'

/** The bits of a Koa context faultline reads; typed loosely so Koa 2 and 3 both fit. */
export interface KoaContext {
  req: IncomingMessage
  res: ServerResponse
  url: string
  originalUrl: string
  path: string
  method: string
  protocol: string
  query: unknown
  ip: string
  request: { body?: unknown }
  /** koa-passport and koa-jwt put the signed-in user in `state.user` */
  state?: { user?: unknown }
  respond?: boolean
  mountPath?: string
  _matchedRoute?: unknown
  onerror(err: unknown): void
  app?: { on?(event: 'error', listener: (err: unknown, ctx?: KoaContext) => void): unknown; middleware?: unknown[] }
  [kCapture]?: KoaRequestState
}

class KoaRequestState extends RequestState {
  /** Koa's own onerror is running: the 'error' event it emits was captured already */
  inOnerror = false
  readonly #ctx: KoaContext

  constructor(glue: Glue, ctx: KoaContext) {
    super(glue)
    this.#ctx = ctx
  }

  request() {
    const ctx = this.#ctx
    return requestInfo(ctx.req, { originalUrl: ctx.originalUrl, protocol: ctx.protocol, query: ctx.query, body: ctx.request.body, ip: ctx.ip })
  }

  requestLine() {
    const ctx = this.#ctx
    return requestLine(ctx.req, { originalUrl: ctx.originalUrl, protocol: ctx.protocol })
  }

  transaction(): string {
    const ctx = this.#ctx
    const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : ctx.originalUrl.split('?')[0]
    return `${ctx.method} ${route}`
  }

  user() {
    return requestUser(this.#ctx.state?.user)
  }
}

const kCapture = Symbol('faultline.koa')
const kPatched = Symbol.for('faultline.koa.onerror')
const kListening = Symbol.for('faultline.koa.app-error')

/**
 * Some errors never pass the middleware chain: a response body stream that fails, a body that
 * cannot be serialised. Koa hands them to `ctx.onerror`, so that is wrapped once per app (on its
 * context prototype) to capture them too; Koa's own handling and `app.on('error')` stay as they were.
 */
function patchOnerror(ctx: KoaContext, glue: Glue): void {
  const proto = Object.getPrototypeOf(ctx) as Record<string | symbol, unknown>
  if (!proto || proto[kPatched] || typeof proto.onerror !== 'function') return
  const onerror = proto.onerror as (this: KoaContext, err: unknown) => void
  proto[kPatched] = true
  proto.onerror = function faultlineOnerror(this: KoaContext, err: unknown) {
    const state = this[kCapture]
    if (!state) {
      // an error of a request faultline's middleware never saw came from before it: say so, with the fix
      if (err !== null && err !== undefined && glue.wouldCapture(err)) glue.warn(new Error(NOT_PASSED))
      return onerror.call(this, err)
    }
    if ((err === null || err === undefined) && !thrownNothing(this)) return onerror.call(this, err)
    captureOnce(state, err, 'koa')
    state.inOnerror = true
    try {
      // Koa calls this after the middleware chain, outside the request's scope: what the app logs
      // here (an app.on('error') listener) belongs to this request, not to every later event
      return state.glue.runInScope(state.scope, () => onerror.call(this, err))
    } finally {
      state.inOnerror = false
    }
  }
}

/**
 * Koa calls ctx.onerror with null when a response has ended (or its connection closed), and with
 * what the middleware threw, which may be null or undefined: that one leaves the request
 * unanswered, so it is worth an issue. Told apart by the response: not begun, on a live connection.
 */
function thrownNothing(ctx: KoaContext): boolean {
  return !ctx.res.headersSent && ctx.req.socket?.destroyed === false
}

/**
 * An app's own error middleware may answer an error instead of rethrowing it; Koa's guide then
 * has it emit the error on the app (`ctx.app.emit('error', err, ctx)`). Listening there captures
 * those too, once per app. Koa adds its default logger when the server is made, before any
 * request, so this listener does not turn that logger off.
 */
function listenForAppErrors(ctx: KoaContext): void {
  const app = ctx.app as (KoaContext['app'] & { [kListening]?: boolean }) | undefined
  if (!app || app[kListening] || typeof app.on !== 'function') return
  app[kListening] = true
  app.on('error', (err, errCtx) => {
    const state = errCtx?.[kCapture]
    if (state && !state.inOnerror) captureOnce(state, err, 'koa')
  })
}

const NOT_PASSED = "an error reached Koa's error handling without passing app.use(tracker.koa()), so it was not recorded: " +
  'it came from a middleware or router mounted before it. Call app.use(tracker.koa()) first, right after const app = new Koa().'

/**
 * A router mounted before faultline answers its routes without calling on, so their errors never
 * pass faultline (Koa's own order, unlike errors of later middleware, which pass it on their way
 * out). Checked on the first request that reaches faultline; routers are told by the `router`
 * that @koa/router and koa-router put on what `router.routes()` returns.
 */
function checkMountOrder(ctx: KoaContext, middleware: unknown, warn: (err: Error) => void): void {
  const stack = ctx.app?.middleware
  if (!Array.isArray(stack)) return
  const at = stack.indexOf(middleware)
  if (at <= 0) return
  if (!stack.slice(0, at).some((fn) => typeof fn === 'function' && (fn as { router?: unknown }).router !== undefined)) return
  warn(new Error("app.use(tracker.koa()) comes after a router's routes (app.use(router.routes())), so errors from them pass faultline by " +
    'and are not recorded. Call app.use(tracker.koa()) first, right after const app = new Koa().'))
}

/**
 * `app.use(tracker.koa())` as the first middleware: serves the panel, opens a request scope, and
 * captures what the rest of the app throws, then rethrows it unchanged so Koa (status, `app.on('error')`)
 * behaves exactly as before.
 */
export function koaMiddleware(glue: Glue) {
  let orderChecked = false
  return function faultlineKoa(ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> {
    // before the panel: a panel visit may be the only request that reaches faultline
    patchOnerror(ctx, glue)
    if (!orderChecked) {
      orderChecked = true
      checkMountOrder(ctx, faultlineKoa, glue.warn)
    }
    if (glue.browserPath) {
      const browser = matchPanel(ctx.url, glue.browserPath)
      if (browser) {
        ctx.respond = false
        glue.serveBrowser(ctx.req, ctx.res, { ...browser, ip: ctx.ip })
        return Promise.resolve()
      }
    }
    if (glue.panelPath) {
      const panel = matchPanel(ctx.url, glue.panelPath)
      if (panel) {
        ctx.respond = false
        glue.servePanel(ctx.req, ctx.res, { basePath: (ctx.mountPath ?? '') + glue.panelPath, ...panel, authSubject: ctx })
        return Promise.resolve()
      }
    }
    listenForAppErrors(ctx)
    const state = new KoaRequestState(glue, ctx)
    ctx[kCapture] = state
    // first in the app: what leaves this middleware goes straight to Koa's ctx.onerror, which
    // captures it (patchOnerror), so the request needs no promise of its own to catch it on
    if (ctx.app?.middleware?.[0] === faultlineKoa) return glue.runInScope(state.scope, next)
    return glue.runInScope(state.scope, next).catch((err: unknown) => {
      // a middleware before this one may answer the error itself
      captureOnce(state, err, 'koa')
      throw err
    })
  }
}
