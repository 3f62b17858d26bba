/**
 * What one panel request carries through the routes, and the checks every route shares.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedOptions } from '../options.js'
import { ISSUE_ID, type Store } from '../types.js'
import type { Views } from './render.js'
import type { TrackerStats } from '../types.js'

export interface PanelContext {
  req: IncomingMessage
  res: ServerResponse
  store: Store
  options: ResolvedOptions
  views: Views
  /** the panel root as the browser sees it, without a trailing slash: '/errors', '/admin/errors' */
  base: string
  /** decoded path segments below the root: [] for the list, ['issues', id] for an issue */
  segments: string[]
  query: URLSearchParams
  method: string
  nonce: string
  now: Date
  /** the counts of the tracker serving the panel, when there is one */
  stats: (() => TrackerStats) | null
}

/**
 * True for a string that can name an issue or an event. Names that exist on Object.prototype
 * (`__proto__`, `constructor`, ...) are refused so no store lookup can ever reach an inherited field.
 */
export function isValidId(id: string | undefined): id is string {
  return typeof id === 'string' && ISSUE_ID.test(id) && !(id in Object.prototype)
}

/** Splits the path below the panel root into decoded segments; null when it cannot be decoded. */
export function splitPath(path: string): string[] | null {
  const parts = path.split('/').filter((p) => p !== '')
  try {
    return parts.map((p) => decodeURIComponent(p))
  } catch {
    return null
  }
}

/**
 * True when the store has this method. The type requires it, but a store written in plain
 * JavaScript before the method existed may lack it: the pages then leave out what it would show.
 */
export function storeHas(store: Store, method: keyof Store): boolean {
  return typeof store[method] === 'function'
}

/** True when the store refused the arguments (stores throw TypeError for bad input, like an unknown cursor). */
export function isBadInput(err: unknown): err is TypeError {
  return err instanceof TypeError
}
