import type { IncomingMessage, ServerResponse } from 'node:http'
import { requestInfo } from '../request.js'
import type { Scope } from '../scope.js'
import type { Glue } from '../tracker.js'
import { matchPanel } from './panel-path.js'

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
  respond?: boolean
  mountPath?: string
  _matchedRoute?: unknown
  onerror(err: unknown): void
  [kCapture]?: { glue: Glue; scope: Scope }
}

const kCapture = Symbol('faultline.koa')
const kPatched = Symbol.for('faultline.koa.onerror')

/**
 * Some errors never pass the middleware chain: a response body stream that fails, a body that
 * cannot be serialised. Koa hands them to `ctx.onerror`, so that is wrapped once per app (on its
 * context prototype) to capture them too; Koa's own handling and `app.on('error')` stay as they were.
 */
function patchOnerror(ctx: KoaContext): void {
  const proto = Object.getPrototypeOf(ctx) as Record<string | symbol, unknown>
  if (!proto || proto[kPatched] || typeof proto.onerror !== 'function') return
  const onerror = proto.onerror as (this: KoaContext, err: unknown) => void
  proto[kPatched] = true
  proto.onerror = function faultlineOnerror(this: KoaContext, err: unknown) {
    const state = this[kCapture]
    // thrown values that are not objects were captured by the middleware already, and have no identity to tell
    if (state && typeof err === 'object' && err !== null) state.glue.captureRequestError(err, state.scope, 'koa')
    return onerror.call(this, err)
  }
}

function transaction(ctx: KoaContext): string {
  const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : ctx.originalUrl.split('?')[0]
  return `${ctx.method} ${route}`
}

/**
 * `app.use(tracker.koa())` as the first middleware: serves the panel, opens a request scope, and
 * captures what the rest of the app throws, then rethrows it unchanged so Koa (status, `app.on('error')`)
 * behaves exactly as before.
 */
export function koaMiddleware(glue: Glue) {
  return function faultlineKoa(ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> {
    if (glue.panelPath) {
      const panel = matchPanel(ctx.url, glue.panelPath)
      if (panel) {
        ctx.respond = false
        glue.servePanel(ctx.req, ctx.res, { basePath: (ctx.mountPath ?? '') + glue.panelPath, ...panel, authSubject: ctx })
        return Promise.resolve()
      }
    }
    const scope = glue.openRequestScope(
      () => requestInfo(ctx.req, { originalUrl: ctx.originalUrl, protocol: ctx.protocol, query: ctx.query, body: ctx.request.body, ip: ctx.ip }),
      () => transaction(ctx),
    )
    patchOnerror(ctx)
    ctx[kCapture] = { glue, scope }
    return glue.runInScope(scope, () =>
      next().catch((err: unknown) => {
        glue.captureRequestError(err, scope, 'koa')
        throw err
      }),
    )
  }
}
