import type { Store } from '../types.js'
import { withTimeout } from '../timeout.js'

/** How long a panel page waits for the store before it says the store is unavailable. */
export const STORE_WAIT_MS = 8000

/** The store failed or did not answer in time; the panel shows a "store unavailable" page for it. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
}

/**
 * The store as the panel uses it: each call bounded in time, and each failure marked as the
 * store's, so a database that is down or stalled gives the admin a clear 503 page at once
 * instead of a hanging request or a generic error.
 */
export function guardStore(store: Store, waitMs = STORE_WAIT_MS): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function' || name === 'close' || name === 'flushSync' || name === 'recordSync') return value
      return (...args: unknown[]) => bounded(name as string, () => value.apply(target, args), waitMs)
    },
  })
}

function bounded<T>(method: string, call: () => Promise<T>, waitMs: number): Promise<T> {
  let attempt: Promise<T>
  try {
    attempt = Promise.resolve(call())
  } catch (err) {
    attempt = Promise.reject(err)
  }
  const marked = attempt.catch((err: unknown) => {
    // the store's own TypeErrors (a bad cursor, a bad update) are the request's fault, not an outage
    if (err instanceof TypeError) throw err
    throw new StoreUnavailableError(`the store failed on ${method}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  })
  return withTimeout(marked, waitMs, () => new StoreUnavailableError(`the store did not answer ${method} within ${waitMs} ms`))
}
