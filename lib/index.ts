/** faultline: an embedded error tracker for Express and Koa. */
export { createTracker, Tracker } from './tracker.js'
export { Scope } from './scope.js'
export { foldedEventId } from './event-id.js'
export { OptionError, DEFAULT_SCRUB_FIELDS } from './options.js'
export { consoleTransport } from './alerts/console-transport.js'
export type { ConsoleTransport, TextOutput } from './alerts/console-transport.js'
export type {
  TrackerOptions, ResolvedOptions, Rule, RuleWhen, RuleFilter, MailOptions, PanelAuth, EventHint,
} from './options.js'
export type { CaptureContext, ScopeData } from './event.js'
export type * from './types.js'
export type { ExpressRequest } from './integrations/express.js'
export type { KoaContext } from './integrations/koa.js'
