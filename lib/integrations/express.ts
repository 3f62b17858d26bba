import type { IncomingMessage, ServerResponse } from 'node:http'
import { requestInfo, requestUser } from '../request.js'
import type { Scope } from '../scope.js'
import type { Glue } from '../tracker.js'
import { matchPanel } from './panel-path.js'
import { captureOnce, type RequestState as BaseState } from './request-state.js'

/** The bits of an Express request faultline reads; typed loosely so Express 4 and 5 both fit. */
export interface ExpressRequest extends IncomingMessage {
  app?: { _router?: { stack?: object[] }; router?: { stack?: object[] } }
  baseUrl?: string
  originalUrl?: string
  protocol?: string
  query?: unknown
  body?: unknown
  ip?: string
  /** the signed-in user, as Passport sets it */
  user?: unknown
  route?: { path?: unknown }
  [kCapture]?: RequestState
}

interface RequestState extends BaseState {
  /**
   * A route that passed the request on with next(): Express leaves it in req.route, so an error
   * in a later middleware must not be named after it.
   */
  passedRoute?: unknown
}

type Next = (err?: unknown) => void
type LayerMethod = (this: unknown, a: unknown, b: unknown, c: unknown, d?: unknown) => unknown

const kCapture = Symbol('faultline.express')
const kPatched = Symbol.for('faultline.express.patched')

/** What Express itself treats as an error: anything truthy but its 'route' and 'router' signals. */
function isError(err: unknown): boolean {
  return Boolean(err) && err !== 'route' && err !== 'router'
}

/**
 * The `next` a layer hands its handler: it captures what is passed to it, then goes on as Express
 * would. For a route's layer, going on without an error means the route is done.
 */
function capturingNext(state: RequestState, next: Next, route: unknown): Next {
  return function faultlineNext(this: unknown, err?: unknown) {
    if (isError(err)) captureOnce(state, err, 'express')
    else if (route !== undefined) state.passedRoute = route
    return next.apply(this, arguments as unknown as [unknown])
  }
}

/**
 * Whether a layer must be run in the request's scope again. It is current already unless a
 * middleware called next from an event emitter's callback (a body or multipart parser, a session
 * store), which loses it; then a tag set by the route would land on the global scope, in every
 * later event.
 */
function lostScope(state: RequestState): boolean {
  return !state.glue.isCurrent(state.scope)
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
      const state = req?.[kCapture]
      if (!state) return handleRequest.call(this, req, res, next)
      const wrapped = capturingNext(state, next, (this as { route?: unknown }).route)
      if (lostScope(state)) return state.glue.runInScope(state.scope, () => handleRequest.call(this, req, res, wrapped))
      return handleRequest.call(this, req, res, wrapped)
    }
  }
  if (typeof handleError === 'function') {
    proto[errorName] = function faultlineHandleError(this: unknown, error: unknown, req: ExpressRequest, res: unknown, next: Next) {
      const state = req?.[kCapture]
      if (!state) return handleError.call(this, error, req, res, next)
      // an error can reach an error handler without passing a wrapped next (one thrown in app.param)
      if (isError(error)) captureOnce(state, error, 'express')
      const wrapped = capturingNext(state, next, undefined)
      if (lostScope(state)) return state.glue.runInScope(state.scope, () => handleError.call(this, error, req, res, wrapped))
      return handleError.call(this, error, req, res, wrapped)
    }
  }
}

function layerPrototype(req: ExpressRequest): Record<string | symbol, unknown> | null {
  const stack = req.app?._router?.stack ?? req.app?.router?.stack
  const layer = stack?.[0]
  return layer ? (Object.getPrototypeOf(layer) as Record<string | symbol, unknown>) : null
}

function transaction(req: ExpressRequest): string {
  const route = req.route !== req[kCapture]?.passedRoute ? req.route : undefined
  const routePath = route && typeof route.path === 'string' ? route.path : null
  const path = routePath !== null ? `${req.baseUrl ?? ''}${routePath}` : (req.originalUrl ?? req.url ?? '/').split('?')[0]
  return `${req.method} ${path}`
}

/** A request scope whose request context is read from `req` only if something is captured. */
function openScope(glue: Glue, req: ExpressRequest): Scope {
  return glue.openRequestScope(
    () => requestInfo(req, { originalUrl: req.originalUrl, protocol: req.protocol, query: req.query, body: req.body, ip: req.ip }),
    () => transaction(req),
    () => requestUser(req.user),
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
    // a second faultline middleware of the same tracker (a sub-app's) keeps the request's scope
    if (req[kCapture]?.glue.owner === glue.owner) return next()
    const scope = openScope(glue, req)
    req[kCapture] = { glue, scope }
    glue.runInScope(scope, next)
  }
}

/**
 * For apps with the error handler alone: each request gets its scope where it arrives (see
 * request-arrival.ts), since no middleware of faultline's runs before the routes. Without it, what a
 * route sets (setUser in an auth middleware) would land on the global scope, in every later
 * event, other users' included.
 */
export function enterRequestScope(glue: Glue, req: ExpressRequest): void {
  if (req[kCapture]) return
  const scope = openScope(glue, req)
  req[kCapture] = { glue, scope }
  glue.enterScope(scope)
}

/** For apps that place capture explicitly: `app.use(tracker.expressErrorHandler())` after the routes. */
export function expressErrorHandler(glue: Glue) {
  return function faultlineExpressErrorHandler(err: unknown, req: ExpressRequest, _res: ServerResponse, next: Next): void {
    const state = req[kCapture]
    const scope = state?.glue.owner === glue.owner ? state.scope : openScope(glue, req)
    if (isError(err)) glue.captureRequestError(err, scope, 'express')
    next(err)
  }
}
