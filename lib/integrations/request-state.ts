import type { Scope } from '../scope.js'
import type { Glue } from '../tracker.js'

/** What the framework glue keeps on a request it opened a scope for. */
export interface RequestState {
  glue: Glue
  scope: Scope
  /** the last thrown value that is not an object (a string), which no WeakSet can remember; NOTHING_YET at first */
  primitive: unknown
}

/** what `primitive` holds before anything is thrown (`undefined` can be thrown) */
export const NOTHING_YET = Symbol('nothing thrown yet')

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
