/**
 * What the tracker does when the process is about to end: a crash recorded before Node exits
 * (synchronously into a store that can, else within the time the process hooks allow), and what
 * is still queued at exit recorded synchronously, or counted and reported as lost.
 */
import type { CaptureFilters } from './capture-filters.js'
import { groupEvent } from '../common/fingerprint.js'
import type { ResolvedOptions } from './options.js'
import type { FatalRecorder, Mechanism } from './process-hooks.js'
import { countRecorded, recordInput, type CaptureCounts, type PendingCapture, type QueuedEvent } from './queued-capture.js'
import type { FaultlineEvent, Store } from './types.js'

/** a crashing process with an asynchronous store waits this long for its alert, within the hooks' 2 s */
const FATAL_ALERT_WAIT_MS = 1500

/** What the crash path needs of its tracker. */
export interface CrashHost {
  readonly store: Store
  readonly options: ResolvedOptions
  readonly filters: CaptureFilters
  /** the tracker's counts, shared */
  readonly counts: CaptureCounts
  /** a crash's capture, in the current scope, before it is built */
  fatalCapture(error: unknown, mechanism: Mechanism): PendingCapture
  /** builds a capture into its event, as the queue does */
  build(item: PendingCapture): QueuedEvent
  /** beforeSend without waiting: an async one's event stays as built */
  beforeSendNow(item: QueuedEvent, event: FaultlineEvent): FaultlineEvent | null
  /** records a built capture the way the queue does: the store, then the alert rules */
  recordQueued(item: QueuedEvent): Promise<void>
  /** waits until the queue is empty, at most `ms` */
  drain(ms: number): Promise<boolean>
  /** what waits in the queue and in what the full queue counted, taken out of them */
  takeWaiting(): Array<QueuedEvent | PendingCapture>
  /** captures not yet recorded, given up or discarded; and of those, how many the store holds already */
  waiting(): number
  atStore(): number
  /** alerts decided or about to be, not yet handed over; and a wait for them */
  unsentAlerts(): number
  flushAlerts(ms: number): Promise<void>
  report(err: unknown): void
}

export class CrashPath implements FatalRecorder {
  readonly captureUncaught: boolean
  readonly captureUnhandledRejections: boolean
  readonly canRecordSync: boolean
  readonly #host: CrashHost
  /** errors the crash path recorded, so the exit drain does not record them again */
  #crashed = new WeakSet<object>()

  constructor(host: CrashHost) {
    this.#host = host
    this.captureUncaught = host.options.captureUncaught
    this.captureUnhandledRejections = host.options.captureUnhandledRejections
    this.canRecordSync = typeof host.store.recordSync === 'function'
  }

  /** For stores that can record synchronously: the event is on disk when this returns. */
  recordFatalSync(error: unknown, mechanism: Mechanism): void {
    const host = this.#host
    try {
      if (!host.filters.wants(error, 'crash')) return
      if (typeof error === 'object' && error !== null) this.#crashed.add(error)
      host.counts.captured += 1
      this.#recordNowSync(host.build(host.fatalCapture(error, mechanism)))
      host.store.flushSync?.()
    } catch (err) {
      host.report(err)
    }
  }

  /** For asynchronous stores: the process hooks keep the process alive until this resolves. */
  async recordFatal(error: unknown, mechanism: Mechanism): Promise<void> {
    const host = this.#host
    try {
      if (!host.filters.wants(error, 'crash')) return
      host.counts.captured += 1
      await host.recordQueued(host.build(host.fatalCapture(error, mechanism)))
      await host.drain(500)
      if (host.store.flushSync) host.store.flushSync()
      else await host.store.flush?.()
      // the alert for the crash itself, within the time the process hooks allow
      await host.flushAlerts(FATAL_ALERT_WAIT_MS)
    } catch (err) {
      host.report(err)
    }
  }

  /**
   * At exit, what is still queued is recorded synchronously (a store that can): an event
   * captured just before process.exit() or a crash is kept. Events caught mid-way through an
   * asynchronous step (an async beforeSend) cannot finish; they are counted and reported.
   */
  drainOnExit(): void {
    const host = this.#host
    // a mail or webhook under way cannot finish now; its claim stands, so no later start sends it
    const unsent = host.unsentAlerts()
    if (unsent > 0) host.report(new Error(`${unsent} alerts were still being decided or sent when the process exited and are lost; call tracker.close() before exiting`))
    try {
      if (!host.store.recordSync) {
        const lost = host.waiting()
        host.counts.dropped += lost
        if (lost > 0) host.report(new Error(`${lost} captured events were still queued when the process exited and are lost; call tracker.close() before exiting`))
        return
      }
      const waiting = host.takeWaiting()
      for (const item of waiting) {
        // the crash itself was recorded already, by the crash path
        const thrown = 'final' in item ? item.thrown?.deref() : item.error
        if (typeof thrown === 'object' && thrown !== null && this.#crashed.has(thrown)) continue
        try {
          this.#recordNowSync('final' in item ? item : host.build(item))
        } catch (err) {
          host.report(err)
        }
      }
      if (waiting.length > 0) host.store.flushSync?.()
      // records handed to the store are its own: its exit hook writes them
      const lost = host.waiting() - host.atStore()
      host.counts.dropped += lost
      if (lost > 0) host.report(new Error(`${lost} captured events were being stored when the process exited and are lost`))
    } catch (err) {
      host.report(err)
    }
  }

  /**
   * Records one built capture synchronously, for a process that is about to exit. An async
   * beforeSend cannot be awaited then: the event stays as built (and scrubbed). The rules run on
   * the next start (deferAlertSync), as no mail can go out now.
   */
  #recordNowSync(item: QueuedEvent): void {
    const host = this.#host
    let event = item.event
    const grouped = item.final ? item.grouping : undefined
    if (!item.final && host.options.beforeSend && event) event = host.beforeSendNow(item, event)
    if (!event) {
      host.counts.discarded += item.times - item.recorded
      return
    }
    const result = host.store.recordSync!(recordInput(item, event, grouped ?? groupEvent(event)))
    countRecorded(item, host.counts)
    if (host.options.rules.length > 0) host.store.deferAlertSync?.({ result, event })
  }
}
