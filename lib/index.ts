/** faultline: an embedded error tracker for Express and Koa. */
import { fileStore } from '../adapters/file.js'
import { memoryStore } from '../adapters/memory.js'
import { Tracker } from './tracker.js'
import type { TrackerOptions } from './types.js'

/**
 * Creates a tracker; options are validated here, once. A `store` given as a path or ':memory:'
 * opens the embedded stores, wired here at the package's entry (the file store loads lowdb only
 * once it reads or writes).
 */
export function createTracker(options?: TrackerOptions): Tracker {
  return new Tracker(options, { file: fileStore, memory: memoryStore })
}

export { Tracker }
export { Scope } from './scope.js'
export { foldedEventId } from '../common/event-id.js'
// the search language of listIssues({ q }), for a store of an app's own to parse q as the others do
export { parseQuery, matchesIssue, mentionsStatus } from '../common/search.js'
export type { ParsedQuery, SearchTerm, IssueFacets } from '../common/search.js'
export { OptionError, DEFAULT_SCRUB_FIELDS } from './options.js'
export { consoleTransport } from './alerts/console-transport.js'
export type { ConsoleTransport, TextOutput } from './alerts/console-transport.js'
export type { ResolvedOptions } from './options.js'
export type * from './types.js'
export type { ExpressRequest } from './integrations/express.js'
export type { KoaContext } from './integrations/koa.js'
