/**
 * A capture on its way to the store, from the caller's call to its record: what the tracker's
 * queue holds, and what the crash path records at once.
 */
import type { BuildEventInput } from './event.js'
import { userKey } from '../common/fingerprint.js'
import type { FaultlineEvent, Grouping, RecordInput, TrackerStats } from './types.js'

/**
 * One capture as taken from the caller synchronously: it holds the app's objects until it is built.
 * `grouping` when its issue was found already, and its budget granted a full event (see the tracker's #countOnly).
 */
export type PendingCapture = Omit<BuildEventInput, 'options'> & { timestamp: Date; grouping?: Grouping }
/** A capture before its scope is read: how much of the scope is read depends on the queue's room. */
export type Capture = Omit<PendingCapture, 'scope'>

/**
 * A capture once built, as it waits for the store: the event (normalised and cut to at most
 * MAX_EVENT_BYTES as JSON), no longer the app's objects it was built from (a request body,
 * extras), which a stuck store would otherwise keep alive by the thousand.
 */
export interface QueuedEvent {
  eventId: string
  /** null once beforeSend dropped it */
  event: FaultlineEvent | null
  /** beforeSend has run (or there is none): a retry stores the event as it is */
  final: boolean
  /** the thrown value, for beforeSend's hint; held only until beforeSend has run */
  error?: unknown
  /** the thrown value, weakly: a crash recorded on its own path is not recorded again at exit */
  thrown?: WeakRef<object>
  /** the issue, once known: before the event is built when there is no beforeSend */
  grouping?: Grouping
  /** counted only: the event is its facts, its body not kept */
  shed: boolean
  /** identical errors it stands for (folded while the queue was full, and recorded as one), and those recorded so far */
  times: number
  recorded: number
}

/** The tracker's counts since it started: tracker.stats() without what waits. */
export type CaptureCounts = Omit<TrackerStats, 'queued'>

/** What the store records for a queued capture: one record for the errors folded into it. */
export function recordInput(item: QueuedEvent, event: FaultlineEvent, grouping: Grouping): RecordInput {
  const input: RecordInput = { event, grouping, userKey: userKey(event.user), shed: item.shed }
  if (item.times > 1) input.times = item.times
  return input
}

/** A queued capture is recorded: all the errors it stands for at once. */
export function countRecorded(item: QueuedEvent, counts: CaptureCounts): void {
  const times = item.times - item.recorded
  item.recorded = item.times
  if (item.shed) counts.shed += times
  else counts.stored += times
}
