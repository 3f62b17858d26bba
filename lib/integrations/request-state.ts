import type { RequestSource, Scope } from '../scope.js'
import type { Glue } from '../tracker.js'
import type { RequestInfo, User } from '../types.js'

/** what `primitive` holds before anything is thrown (`undefined` can be thrown) */
const NOTHING_YET = Symbol('nothing thrown yet')

/**
 * What the framework glue keeps on a request it opened a scope for. The scope reads the request
 * through it, and only when something is captured: one object a request, no closures.
 */
export abstract class RequestState implements RequestSource {
  readonly glue: Glue
  readonly scope: Scope
  /** the last thrown value that is not an object (a string), which no WeakSet can remember */
  primitive: unknown = NOTHING_YET

  constructor(glue: Glue) {
    this.glue = glue
    this.scope = glue.openRequestScope(this)
  }

  abstract request(): RequestInfo | null
  abstract requestLine(): RequestInfo | null
  abstract transaction(): string | null
  abstract user(): User | null
}

/**
 * Hands an error of the request to its tracker, once: an object may reach several of the glue's
 * hooks (the tracker remembers it), and so may a thrown string, remembered here as the last one seen.
 */
export function captureOnce(state: RequestState, err: unknown, mechanism: 'express' | 'koa'): void {
  if (typeof err !== 'object' || err === null) {
    if (Object.is(state.primitive, err)) return
    state.primitive = err
  }
  state.glue.captureRequestError(err, state.scope, mechanism)
}
