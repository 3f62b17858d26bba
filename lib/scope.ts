import { safeText, tagText } from './normalize.js'
import type { Breadcrumb, Level, RequestInfo, User } from './types.js'
import type { ScopeData } from './types.js'

/**
 * Where a request scope reads its request from, only when an event is captured: the framework
 * glue's per-request state, so a request that captures nothing allocates nothing more.
 */
export interface RequestSource {
  request(): RequestInfo | null
  /** the request's method and URL alone: what counting an event needs of it */
  requestLine(): RequestInfo | null
  transaction(): string | null
  /** the signed-in user as the request carries it; stands in when no scope set a user */
  user(): User | null
}

/**
 * Data attached to captured events: tags, extra, user, contexts, level, fingerprint, breadcrumbs.
 * A child scope reads through to its parent and keeps its own changes, so opening one per
 * request costs one small object; the merge happens only when an event is captured.
 *
 * The app calls these setters on its request path with whatever it has: none of them throws.
 * A value that cannot be read at all (a Proxy that throws) is left out.
 */
export class Scope {
  #parent: Scope | null
  #maxBreadcrumbs: number
  #tags: Record<string, string> | null = null
  #extra: Record<string, unknown> | null = null
  #contexts: Record<string, Record<string, unknown>> | null = null
  #user: User | null | undefined = undefined
  #level: Level | null = null
  #fingerprint: string[] | null = null
  #breadcrumbs: Breadcrumb[] | null = null
  /** how many breadcrumbs were ever added to this scope itself */
  #added = 0
  /** the parent's breadcrumbs added after this one (its `#added` when this scope opened) belong to other requests */
  #forkedAt: number
  #requestSource: RequestSource | null = null

  constructor(parent: Scope | null, maxBreadcrumbs: number) {
    this.#parent = parent
    this.#maxBreadcrumbs = maxBreadcrumbs
    this.#forkedAt = parent === null ? 0 : parent.#added
  }

  /** `undefined` or `null` removes the tag. */
  setTag(key: string, value: unknown): this {
    this.#tags ??= {}
    if (value === undefined || value === null) delete this.#tags[safeText(key)]
    else this.#tags[safeText(key)] = tagText(value)
    return this
  }

  setTags(tags: Record<string, unknown>): this {
    for (const [key, value] of readEntries(tags)) this.setTag(key, value)
    return this
  }

  setExtra(key: string, value: unknown): this {
    this.#extra ??= {}
    this.#extra[safeText(key)] = value
    return this
  }

  setExtras(extras: Record<string, unknown>): this {
    for (const [key, value] of readEntries(extras)) this.setExtra(key, value)
    return this
  }

  /** `null` clears the user for this scope (and hides the parent's). */
  setUser(user: User | null): this {
    if (!user) this.#user = null
    else if (typeof user === 'object') this.#user = Object.fromEntries(readEntries(user)) as User
    return this
  }

  setContext(name: string, context: Record<string, unknown> | null): this {
    this.#contexts ??= {}
    if (context === null || context === undefined) delete this.#contexts[safeText(name)]
    else this.#contexts[safeText(name)] = context
    return this
  }

  setLevel(level: Level): this {
    this.#level = level
    return this
  }

  setFingerprint(fingerprint: string[]): this {
    this.#fingerprint = Array.isArray(fingerprint) ? fingerprint.map(safeText) : null
    return this
  }

  addBreadcrumb(crumb: Partial<Breadcrumb> & { message?: string }): this {
    if (this.#maxBreadcrumbs === 0 || typeof crumb !== 'object' || crumb === null) return this
    let entry: Breadcrumb
    try {
      // kept as the same object: an http breadcrumb gets its status code when the response arrives
      entry = crumb.timestamp ? (crumb as Breadcrumb) : { timestamp: new Date().toISOString(), ...crumb }
    } catch {
      return this
    }
    this.#breadcrumbs ??= []
    this.#breadcrumbs.push(entry)
    this.#added++
    if (this.#breadcrumbs.length > this.#maxBreadcrumbs) this.#breadcrumbs.shift()
    return this
  }

  /** Forgets everything set on this scope (the parent's data shows through again). */
  clear(): this {
    this.#tags = this.#extra = this.#contexts = null
    this.#user = undefined
    this.#level = null
    this.#fingerprint = null
    this.#breadcrumbs = null
    return this
  }

  /** Request context is built lazily: only a request that captures something pays for it. */
  setRequest(source: RequestSource): this {
    this.#requestSource = source
    return this
  }

  /** A copy of everything visible from this scope, for one event. */
  snapshot(): ScopeData {
    return this.#collect(false)
  }

  /**
   * What counting an event reads of this scope (tags, user, level, fingerprint, transaction, the
   * request's method and URL), for an error whose details are shed under load: no breadcrumbs,
   * extra or contexts, and no headers or body read from the request.
   */
  snapshotFacts(): ScopeData {
    return this.#collect(true)
  }

  #collect(factsOnly: boolean): ScopeData {
    const base: ScopeData = this.#parent
      ? this.#parent.#collect(factsOnly)
      : { tags: {}, extra: {}, user: null, contexts: {}, level: null, fingerprint: null, breadcrumbs: [], request: null, transaction: null }
    if (this.#tags) Object.assign(base.tags, this.#tags)
    if (this.#user !== undefined) base.user = this.#user
    if (this.#level) base.level = this.#level
    if (this.#fingerprint) base.fingerprint = this.#fingerprint
    const source = this.#requestSource
    if (source) {
      // read from the app's request objects, whose getters may throw: the event goes on without
      base.request = readSafely(() => (factsOnly ? source.requestLine() : source.request()))
      base.transaction = readSafely(() => source.transaction()) ?? base.transaction
      if (!this.#userSet()) base.user = readSafely(() => source.user())
    }
    if (factsOnly) return base
    if (this.#parent) {
      // the parent's own breadcrumbs come last in its list; those added since this scope opened go
      const later = Math.min(this.#parent.#added - this.#forkedAt, this.#parent.#breadcrumbs?.length ?? 0)
      if (later > 0) base.breadcrumbs = base.breadcrumbs.slice(0, Math.max(0, base.breadcrumbs.length - later))
    }
    if (this.#extra) Object.assign(base.extra, this.#extra)
    if (this.#contexts) Object.assign(base.contexts, this.#contexts)
    if (this.#breadcrumbs) base.breadcrumbs = [...base.breadcrumbs, ...this.#breadcrumbs].slice(-this.#maxBreadcrumbs)
    return base
  }

  /** Whether this scope or a parent set a user, even `null` (which hides the request's). */
  #userSet(): boolean {
    return this.#user !== undefined || (this.#parent !== null && this.#parent.#userSet())
  }
}

/** The own enumerable entries of an app's object; what cannot be read is left out. */
function readEntries(value: unknown): Array<[string, unknown]> {
  if (typeof value !== 'object' || value === null) return []
  try {
    return Object.entries(value)
  } catch {
    return []
  }
}

function readSafely<T>(read: () => T | null): T | null {
  try {
    return read()
  } catch {
    return null
  }
}
