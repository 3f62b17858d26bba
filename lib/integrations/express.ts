import type { IncomingMessage, ServerResponse } from 'node:http'
import { requestInfo } from '../request.js'
import type { Scope } from '../scope.js'
import type { Glue } from '../tracker.js'
import { matchPanel } from './panel-path.js'

/** The bits of an Express request faultline reads; typed loosely so Express 4 and 5 both fit. */
export interface ExpressRequest extends IncomingMessage {
  app?: { _router?: { stack?: object[] }; router?: { stack?: object[] } }
  baseUrl?: string
  originalUrl?: string
  protocol?: string
  query?: unknown
  body?: unknown
  ip?: string
  route?: { path?: unknown }
  [kCapture]?: { glue: Glue; scope: Scope }
}

type Next = (err?: unknown) => void
type LayerMethod = (this: unknown, a: unknown, b: unknown, c: unknown, d?: unknown) => unknown

const kCapture = Symbol('faultline.express')
const kPatched = Symbol.for('faultline.express.patched')

function isError(err: unknown): boolean {
  return err !== undefined && err !== null && err !== 'route' && err !== 'router'
}

/** Hands an error seen in a layer to the tracker of the request it belongs to. */
function capture(req: ExpressRequest | undefined, err: unknown): void {
  const state = req?.[kCapture]
  if (state && isError(err)) state.glue.captureRequestError(err, state.scope, 'express')
}

/**
 * Express routes every error through the `next` its Layer passes to a handler (thrown errors and
 * rejected promises are caught by the Layer and passed to that same `next`). Wrapping that `next`
 * on the Layer prototype lets one middleware placed before the routes see every error from the
 * layers after it, even when the app's own error handler answers the request, without changing
 * what Express does with the error. Requests faultline did not open are passed through untouched.
 */
function patchLayer(proto: Record<string | symbol, unknown>): void {
  if (proto[kPatched]) return
  proto[kPatched] = true
  const requestName = typeof proto.handleRequest === 'function' ? 'handleRequest' : 'handle_request'
  const errorName = typeof proto.handleError === 'function' ? 'handleError' : 'handle_error'
  const handleRequest = proto[requestName] as LayerMethod
  const handleError = proto[errorName] as LayerMethod
  if (typeof handleRequest === 'function') {
    proto[requestName] = function faultlineHandleRequest(this: unknown, req: ExpressRequest, res: unknown, next: Next) {
      if (!req?.[kCapture]) return handleRequest.call(this, req, res, next)
      return handleRequest.call(this, req, res, function faultlineNext(this: unknown, err?: unknown) {
        capture(req, err)
        return next.apply(this, arguments as unknown as [unknown])
      })
    }
  }
  if (typeof handleError === 'function') {
    proto[errorName] = function faultlineHandleError(this: unknown, error: unknown, req: ExpressRequest, res: unknown, next: Next) {
      if (!req?.[kCapture]) return handleError.call(this, error, req, res, next)
      return handleError.call(this, error, req, res, function faultlineNext(this: unknown, err?: unknown) {
        capture(req, err)
        return next.apply(this, arguments as unknown as [unknown])
      })
    }
  }
}

function layerPrototype(req: ExpressRequest): Record<string | symbol, unknown> | null {
  const stack = req.app?._router?.stack ?? req.app?.router?.stack
  const layer = stack?.[0]
  return layer ? (Object.getPrototypeOf(layer) as Record<string | symbol, unknown>) : null
}

function transaction(req: ExpressRequest): string {
  const routePath = req.route && typeof req.route.path === 'string' ? req.route.path : null
  const path = routePath !== null ? `${req.baseUrl ?? ''}${routePath}` : (req.originalUrl ?? req.url ?? '/').split('?')[0]
  return `${req.method} ${path}`
}

/** A request scope whose request context is read from `req` only if something is captured. */
function openScope(glue: Glue, req: ExpressRequest): Scope {
  return glue.openRequestScope(
    () => requestInfo(req, { originalUrl: req.originalUrl, protocol: req.protocol, query: req.query, body: req.body, ip: req.ip }),
    () => transaction(req),
  )
}

/** `app.use(tracker.express())`: serves the panel, opens a request scope, captures errors from later layers. */
export function expressMiddleware(glue: Glue) {
  let patched = false
  return function faultlineExpress(req: ExpressRequest, res: ServerResponse, next: Next): void {
    if (glue.panelPath) {
      const panel = matchPanel(req.url ?? '/', glue.panelPath)
      if (panel) {
        glue.servePanel(req, res, { basePath: (req.baseUrl ?? '') + glue.panelPath, ...panel })
        return
      }
    }
    if (!patched) {
      const proto = layerPrototype(req)
      if (proto) patchLayer(proto)
      patched = true
    }
    const scope = openScope(glue, req)
    req[kCapture] = { glue, scope }
    glue.runInScope(scope, next)
  }
}

/** For apps that place capture explicitly: `app.use(tracker.expressErrorHandler())` after the routes. */
export function expressErrorHandler(glue: Glue) {
  return function faultlineExpressErrorHandler(err: unknown, req: ExpressRequest, _res: ServerResponse, next: Next): void {
    const scope = req[kCapture]?.scope ?? openScope(glue, req)
    if (isError(err)) glue.captureRequestError(err, scope, 'express')
    next(err)
  }
}
