/**
 * The capture filters. Every capture passes ignoreErrors and sampleRate. shouldCapture judges what
 * faultline catches on its own: request errors, and crashes when it is the app's own function (the
 * default's "below 500" never hides a crash). An error already captured is not again, except by a
 * crash, whose own capture may still be waiting in the queue of a dying process.
 */
import { describeThrown } from './normalize.js'
import { defaultShouldCapture, type ResolvedOptions } from './options.js'

export type CaptureOrigin = 'explicit' | 'request' | 'crash'

export class CaptureFilters {
  readonly #options: ResolvedOptions
  readonly #report: (err: unknown) => void
  /** errors that passed the filters (or were sampled out): each is judged once */
  #seen = new WeakSet<object>()

  constructor(options: ResolvedOptions, report: (err: unknown) => void) {
    this.#options = options
    this.#report = report
  }

  /** Whether to record a thrown value captured from `origin`. */
  wants(error: unknown, origin: CaptureOrigin): boolean {
    const isObject = typeof error === 'object' && error !== null
    if (origin !== 'crash' && isObject && this.#seen.has(error)) return false
    if (!this.#should(error, origin) || this.#ignored(error)) return false
    // sampled once per error: one that was sampled out and then takes another path (ctx.onerror,
    // the app's error event, a second captureException) stays out
    if (isObject) this.#seen.add(error)
    return this.#sampledIn()
  }

  /** Whether to record a captureMessage text: ignoreErrors' strings and RegExps match it too, as in Sentry. */
  wantsMessage(message: string): boolean {
    return !(this.#options.ignoreErrors.length > 0 && this.#matches(message, null, undefined)) && this.#sampledIn()
  }

  /** Whether to record an exception a browser described: ignoreErrors' strings and RegExps (no classes: nothing was thrown here) and sampleRate. */
  wantsDescribed(type: string, value: string): boolean {
    return !(this.#options.ignoreErrors.length > 0 && this.#matches(value, type, undefined)) && this.#sampledIn()
  }

  /** Whether an error the app's request produced would be recorded, sampling aside (for the setup warnings). */
  wouldCapture(error: unknown): boolean {
    try {
      return this.#options.shouldCapture(error) !== false && !this.#ignored(error)
    } catch {
      return false
    }
  }

  #should(error: unknown, origin: CaptureOrigin): boolean {
    const { shouldCapture } = this.#options
    if (origin === 'explicit' || (origin === 'crash' && shouldCapture === defaultShouldCapture)) return true
    try {
      return shouldCapture(error) !== false
    } catch (err) {
      this.#report(err)
      return true
    }
  }

  #sampledIn(): boolean {
    const rate = this.#options.sampleRate
    return !(rate < 1 && Math.random() >= rate)
  }

  #ignored(error: unknown): boolean {
    if (this.#options.ignoreErrors.length === 0) return false
    // as the event will show it: `class NotFound extends Error {}` is type NotFound here too
    const { type, value } = describeThrown(error, false)
    return this.#matches(value, type, error)
  }

  #matches(message: string, type: string | null, error: unknown): boolean {
    return this.#options.ignoreErrors.some((rule) => {
      try {
        if (typeof rule === 'string') return type === rule || message.includes(rule)
        if (rule instanceof RegExp) return rule.test(message) || (type !== null && rule.test(`${type}: ${message}`))
        return type !== null && error instanceof rule
      } catch {
        return false
      }
    })
  }
}
