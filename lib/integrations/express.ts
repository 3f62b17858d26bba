import type { IncomingMessage, ServerResponse } from 'node:http'
import { requestInfo, requestLine, requestUser } from '../request.js'
import type { Glue } from '../tracker.js'
import { matchPanel } from './panel-path.js'
import { captureOnce, RequestState } from './request-state.js'

/** An Express router as faultline reads it (Express 4's and 5's have these alike). */
interface ExpressRouter {
  stack?: object[]
  use?: (fn: ErrorHandler) => unknown
  strict?: boolean
  caseSensitive?: boolean
}

type ErrorHandler = (err: unknown, req: ExpressRequest, res: ServerResponse, next: Next) => void

/** The bits of an Express request faultline reads; typed loosely so Express 4 and 5 both fit. */
export interface ExpressRequest extends IncomingMessage {
  app?: { _router?: ExpressRouter; router?: ExpressRouter; enabled?: (setting: string) => boolean; settings?: object }
  baseUrl?: string
  originalUrl?: string
  protocol?: string
  query?: unknown
  body?: unknown
  ip?: string
  /** the signed-in user, as Passport sets it */
  user?: unknown
  route?: { path?: unknown }
  [kCapture]?: ExpressRequestState
}

class ExpressRequestState extends RequestState {
  /**
   * A route that passed the request on with next(): Express leaves it in req.route, so an error
   * in a later middleware must not be named after it.
   */
  passedRoute: unknown = undefined
  /**
   * The route last entered and the mount path it was entered under: an error is seen after the
   * router it came from has put req.baseUrl back, and the name keeps the path it happened under.
   */
  enteredRoute: unknown = undefined
  enteredBase = ''
  readonly #req: ExpressRequest

  constructor(glue: Glue, req: ExpressRequest) {
    super(glue)
    this.#req = req
  }

  request() {
    const req = this.#req
    return requestInfo(req, { originalUrl: req.originalUrl, protocol: req.protocol, query: req.query, body: req.body, ip: req.ip })
  }

  requestLine() {
    const req = this.#req
    return requestLine(req, { originalUrl: req.originalUrl, protocol: req.protocol })
  }

  transaction(): string {
    const req = this.#req
    const route = req.route !== this.passedRoute ? req.route : undefined
    const routePath = route && typeof route.path === 'string' ? route.path : null
    const base = this.enteredRoute !== undefined && this.enteredRoute === route ? this.enteredBase : req.baseUrl ?? ''
    const path = routePath !== null ? `${base}${routePath}` : (req.originalUrl ?? req.url ?? '/').split('?')[0]
    return `${req.method} ${path}`
  }

  user() {
    return requestUser(this.#req.user)
  }
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
 * Whether a layer must be run in the request's scope again. It is current already unless a
 * middleware called next from an event emitter's callback (a body or multipart parser, a session
 * store), which loses it; then a tag set by the route would land on the global scope, in every
 * later event.
 */
function lostScope(state: RequestState): boolean {
  return !state.glue.isCurrent(state.scope)
}

/**
 * Express hands an error (passed to `next` or `req.next`, thrown, rejected, from `res.render`,
 * `res.sendFile` or `app.param`) to the next layer that matches, through that layer's error path
 * (handleError, or handle_error in Express 4), whether or not the layer is an error handler. Seeing
 * it there, on the Layer prototype, lets one middleware placed before the routes capture every
 * error from the layers after it, even when the app's own error handler answers the request, while
 * every handler gets the very `next` Express gives it (`next === req.next`). A catch-all layer of
 * faultline's, kept last on the app's router, gives an error with no layer after it such a layer.
 * Requests faultline did not open are passed through untouched.
 */
function patchLayer(proto: Record<string | symbol, unknown>): void {
  if (proto[kPatched]) return
  proto[kPatched] = true
  const requestName = typeof proto.handleRequest === 'function' ? 'handleRequest' : 'handle_request'
  const errorName = typeof proto.handleError === 'function' ? 'handleError' : 'handle_error'
  const handleRequest = proto[requestName] as LayerMethod
  const handleError = proto[errorName] as LayerMethod
  if (typeof handleRequest === 'function') {
    proto[requestName] = function faultlineHandleRequest(this: LayerLike, req: ExpressRequest, res: unknown, next: Next) {
      const state = req?.[kCapture]
      if (!state) return handleRequest.call(this, req, res, next)
      if (this.route !== undefined) {
        state.enteredRoute = this.route
        state.enteredBase = req.baseUrl ?? ''
      }
      // a router-level layer entered while req.route is set: that route passed the request on with next()
      else if (this.method === undefined && req.route !== undefined) state.passedRoute = req.route
      if (lostScope(state)) return state.glue.runInScope(state.scope, () => handleRequest.call(this, req, res, next))
      return handleRequest.call(this, req, res, next)
    }
  }
  if (typeof handleError === 'function') {
    proto[errorName] = function faultlineHandleError(this: LayerLike, error: unknown, req: ExpressRequest, res: unknown, next: Next) {
      const state = req?.[kCapture]
      if (!state) return handleError.call(this, error, req, res, next)
      if (isError(error)) captureOnce(state, error, 'express')
      if (lostScope(state)) return state.glue.runInScope(state.scope, () => handleError.call(this, error, req, res, next))
      return handleError.call(this, error, req, res, next)
    }
  }
}

/** A Layer as faultline reads it: a route's own layer has `route`, a layer inside a route has `method`. */
interface LayerLike {
  route?: unknown
  method?: unknown
}

/** faultline's catch-all on each app's router, and the router's layer for it. */
const catchAlls = new WeakMap<ExpressRouter, object>()

/**
 * faultline's catch-all. The error passes on as it came: the error path of its layer captured it
 * (see patchLayer), unless faultline's layer never saw the request. Then the error came from before
 * that layer (a middleware or a sub-app mounted first) and is not recorded: said once, with the fix.
 */
function catchAllFor(glue: Glue): ErrorHandler {
  return function faultlineCatchAll(err: unknown, req: ExpressRequest, _res: ServerResponse, next: Next): void {
    if (!req[kCapture] && isError(err) && glue.wouldCapture(err)) {
      glue.warn(new Error("an error reached Express's error handling without passing app.use(tracker.express()), so it was not recorded: " +
        'it came from a middleware, route or sub-app mounted before it. Call app.use(tracker.express()) before them, right after const app = express().'))
    }
    next(err)
  }
}

/**
 * Keeps faultline's catch-all the last layer of the app's router: added on the first request (the
 * routes are there by then), moved back to the end when the app adds layers later.
 */
function keepCatchAllLast(router: ExpressRouter, catchAll: ErrorHandler): void {
  const stack = router.stack
  if (!Array.isArray(stack) || typeof router.use !== 'function') return
  let layer = catchAlls.get(router)
  if (layer === undefined) {
    router.use(catchAll)
    layer = stack[stack.length - 1]
    catchAlls.set(router, layer)
    return
  }
  if (stack[stack.length - 1] === layer) return
  const at = stack.indexOf(layer)
  if (at !== -1) stack.splice(at, 1)
  stack.push(layer)
}

/**
 * Express builds an app's router on its first use, with the routing settings of that moment: a
 * `strict routing` or `case sensitive routing` set after `app.use(...)` is ignored, silently. When
 * that happened, it is said once, with the fix.
 */
function checkRoutingSettings(req: ExpressRequest, router: ExpressRouter, warn: (err: Error) => void): void {
  const enabled = req.app?.enabled
  const settings = req.app?.settings
  if (typeof enabled !== 'function' || typeof settings !== 'object' || settings === null) return
  for (const [setting, built] of [['strict routing', router.strict], ['case sensitive routing', router.caseSensitive]] as const) {
    // a mounted sub-app inherits its parent's settings, which Express never meant for its router
    if (typeof built !== 'boolean' || !Object.hasOwn(settings, setting)) continue
    if (enabled.call(req.app, setting) === built) continue
    warn(new Error(`app.set('${setting}', ${!built}) came after the app's router was built, so Express ignores it ` +
      `(Express builds the router on the first app.use, such as app.use(tracker.express())). Call app.set('${setting}', ...) before the first app.use.`))
  }
}

/** The handlers expressErrorHandler() made. */
const errorHandlers = new WeakSet<object>()

/** How many requests are watched, at most, for an app whose faultline layer no request has passed yet. */
const MOUNT_CHECK_REQUESTS = 100

/**
 * `app.use(tracker.express())` after the routes: the routes' errors never pass faultline's layer,
 * so nothing is recorded and nothing would say why. When the app's router holds faultline's layer
 * after routes (or routers), that is said once, with the fix. Returns whether the layer was found.
 */
function checkMountOrder(router: ExpressRouter, middleware: unknown, warn: (err: Error) => void): boolean {
  const stack = router.stack
  if (!Array.isArray(stack)) return false
  const handles = stack.map((layer) => (layer as { handle?: unknown }).handle)
  const at = handles.indexOf(middleware)
  if (at === -1) return false
  // an app that places capture itself with expressErrorHandler() may mount express() anywhere (for the panel)
  if (handles.some((handle) => errorHandlers.has(handle as object))) return true
  const before = stack.slice(0, at).map(describeRoute).filter((route) => route !== null)
  if (before.length > 0) {
    const named = before.length > 3 ? `${before.slice(0, 3).join(', ')} and ${before.length - 3} more` : before.join(', ')
    warn(new Error(`app.use(tracker.express()) comes after ${before.length === 1 ? 'a route' : `${before.length} routes`} (${named}), ` +
      'so errors from them pass faultline by and are not recorded. Call app.use(tracker.express()) before the routes, right after const app = express().'))
  }
  return true
}

/** A layer that answers requests itself, as it reads in a warning ('/orders/:id', 'a router'), or null for a middleware. */
function describeRoute(layer: object): string | null {
  const { route, handle } = layer as { route?: { path?: unknown }; handle?: { stack?: unknown } }
  if (route) return String(route.path)
  return Array.isArray(handle?.stack) ? 'a router' : null
}

/**
 * Until a request passes faultline's layer (when it checks the order itself), each request that
 * ends is looked at: the app it went through may hold the layer after its routes, which no request
 * would ever reach. A check costs a look at the router's layers, for a bounded number of requests.
 */
function watchMountOrder(glue: Glue, middleware: unknown, isChecked: () => boolean, onChecked: () => void): () => void {
  let seen = 0
  const stop = glue.watchRequests((req, res) => {
    if (++seen > MOUNT_CHECK_REQUESTS) return stop()
    res.once('close', () => {
      try {
        if (isChecked()) return
        const router = (req as ExpressRequest).app ? appRouter(req as ExpressRequest) : undefined
        if (router && checkMountOrder(router, middleware, glue.warn)) onChecked()
      } catch {
        // an app that is not what it looked like: a throw here would be the host app's uncaught exception
      }
    })
  })
  return stop
}

function appRouter(req: ExpressRequest): ExpressRouter | undefined {
  return req.app?._router ?? req.app?.router
}

function layerPrototype(router: ExpressRouter | undefined): Record<string | symbol, unknown> | null {
  const layer = router?.stack?.[0]
  return layer ? (Object.getPrototypeOf(layer) as Record<string | symbol, unknown>) : null
}

/** `app.use(tracker.express())`: serves the panel, opens a request scope, captures errors from later layers. */
export function expressMiddleware(glue: Glue) {
  let patched = false
  const catchAll = catchAllFor(glue)
  /** the order of faultline's layer and the routes was checked, here or by watchMountOrder */
  let orderChecked = false
  const orderSeen = () => {
    orderChecked = true
    stopWatching()
  }
  const faultlineExpress = function faultlineExpress(req: ExpressRequest, res: ServerResponse, next: Next): void {
    // before the app's body parsers: the ingest reads its bodies itself, with caps
    if (glue.browserPath) {
      const browser = matchPanel(req.url ?? '/', glue.browserPath)
      if (browser) {
        glue.serveBrowser(req, res, { ...browser, ip: req.ip ?? req.socket?.remoteAddress })
        return
      }
    }
    if (glue.panelPath) {
      const panel = matchPanel(req.url ?? '/', glue.panelPath)
      if (panel) {
        glue.servePanel(req, res, { basePath: (req.baseUrl ?? '') + glue.panelPath, ...panel })
        return
      }
    }
    const router = appRouter(req)
    if (!patched) {
      const proto = layerPrototype(router)
      if (proto) patchLayer(proto)
      if (router) {
        checkRoutingSettings(req, router, glue.warn)
        if (!orderChecked) checkMountOrder(router, faultlineExpress, glue.warn)
      }
      patched = true
      orderSeen()
    }
    if (router) keepCatchAllLast(router, catchAll)
    // a second faultline middleware of the same tracker (a sub-app's) keeps the request's scope
    if (req[kCapture]?.glue.owner === glue.owner) return next()
    const state = new ExpressRequestState(glue, req)
    req[kCapture] = state
    glue.runInScope(state.scope, next)
  }
  const stopWatching = watchMountOrder(glue, faultlineExpress, () => orderChecked, orderSeen)
  return faultlineExpress
}

/**
 * For apps with the error handler alone: each request gets its scope where it arrives (see
 * request-arrival.ts), since no middleware of faultline's runs before the routes. Without it, what a
 * route sets (setUser in an auth middleware) would land on the global scope, in every later
 * event, other users' included.
 */
export function enterRequestScope(glue: Glue, req: ExpressRequest): void {
  if (req[kCapture]) return
  const state = new ExpressRequestState(glue, req)
  req[kCapture] = state
  glue.enterScope(state.scope)
}

/** For apps that place capture explicitly: `app.use(tracker.expressErrorHandler())` after the routes. */
export function expressErrorHandler(glue: Glue) {
  const handler = function faultlineExpressErrorHandler(err: unknown, req: ExpressRequest, _res: ServerResponse, next: Next): void {
    let state = req[kCapture]
    if (state?.glue.owner !== glue.owner) {
      state = new ExpressRequestState(glue, req)
      // seen by faultline after all: its catch-all has nothing to say about this request
      req[kCapture] ??= state
    }
    if (isError(err)) glue.captureRequestError(err, state.scope, 'express')
    next(err)
  }
  errorHandlers.add(handler)
  return handler
}
