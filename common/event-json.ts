/**
 * Built events as JSON, made once. An event's JSON is made when it is built (to measure it against
 * the size cap) and kept for the store; the JSON of its frames and breadcrumbs, which are the same
 * in many events (a call site failing again and again, breadcrumbs riding along in up to
 * maxBreadcrumbs events), is made once for all of them and spliced in.
 */
import { randomUUID } from 'node:crypto'
import type { Breadcrumb, FaultlineEvent, StackFrame } from '../lib/types.js'

/** Frames arrays shared between events (a call site's parse), with their JSON once it is made. */
const framesJson = new WeakMap<StackFrame[], string | null>()
/** The JSON of prepared breadcrumbs, by the prepared object. */
const breadcrumbJson = new WeakMap<object, string>()
/** Each built event's JSON, as long as the event is as it was built. */
const serialised = new WeakMap<FaultlineEvent, string>()

/** Marks where cached JSON goes; random, so no thrown message can forge it. */
const CACHED_MARK = `faultline-cached-${randomUUID()}-`
const CACHED_MARK_JSON = new RegExp(`"${CACHED_MARK}(\\d+)"`, 'g')

/** A frames array that events will share: its JSON is made once, when an event is first serialised. */
export function shareFrames(frames: StackFrame[]): void {
  if (!framesJson.has(frames)) framesJson.set(frames, null)
}

/** A prepared breadcrumb that events will share, with its JSON. */
export function shareBreadcrumb(crumb: object, json: string): void {
  breadcrumbJson.set(crumb, json)
}

/** Makes the event's JSON, keeps it for the store (see eventJson), and returns its size in bytes. */
export function measureJson(event: FaultlineEvent): number {
  const json = serialise(event)
  serialised.set(event, json)
  return Buffer.byteLength(json, 'utf8')
}

/** The event as JSON: the text made when it was built, if it is still as built, else made now. */
export function eventJson(event: FaultlineEvent): string {
  return serialised.get(event) ?? JSON.stringify(event)
}

/**
 * An event again from the JSON eventJson gave for it, that JSON kept for the store: the event as
 * built, for when beforeSend failed after changing it in place.
 */
export function parseEvent(json: string): FaultlineEvent {
  const event = JSON.parse(json) as FaultlineEvent
  serialised.set(event, json)
  return event
}

/** Forgets the JSON kept for an event that was changed after it was built (by beforeSend, or cut to size). */
export function eventChanged(event: FaultlineEvent): void {
  serialised.delete(event)
}

/**
 * Gives the event frames and breadcrumbs of its own. Built events share these objects with other
 * events (they are prepared once); code outside faultline that may change them gets copies.
 */
export function unshareCached(event: FaultlineEvent): void {
  for (const ex of [event.exception, ...(event.exception?.causes ?? [])]) {
    if (ex?.stacktrace) ex.stacktrace.frames = ex.stacktrace.frames.map(copyFrame)
  }
  event.breadcrumbs = event.breadcrumbs.map((crumb) => structuredClone(crumb))
}

/** A frame of its own, source lines included. */
function copyFrame(frame: StackFrame): StackFrame {
  const copy = { ...frame }
  if (frame.pre_context) copy.pre_context = [...frame.pre_context]
  if (frame.post_context) copy.post_context = [...frame.post_context]
  if (frame.raw) copy.raw = { ...frame.raw }
  return copy
}

/**
 * JSON.stringify(event), with the JSON of its frames and breadcrumbs spliced in from where it was
 * made once: those are most of an event, and the same in many events.
 */
function serialise(event: FaultlineEvent): string {
  const swapped: Array<{ holder: Record<string, unknown>; key: string; value: unknown; json: string }> = []
  const swap = (holder: Record<string, unknown>, key: string, json: string | undefined) => {
    if (json === undefined) return
    swapped.push({ holder, key, value: holder[key], json })
    holder[key] = `${CACHED_MARK}${swapped.length - 1}`
  }
  for (const ex of [event.exception, ...(event.exception?.causes ?? [])]) {
    const stacktrace = ex?.stacktrace
    if (stacktrace) swap(stacktrace as unknown as Record<string, unknown>, 'frames', sharedFramesJson(stacktrace.frames))
  }
  swap(event as unknown as Record<string, unknown>, 'breadcrumbs', sharedBreadcrumbsJson(event.breadcrumbs))
  if (swapped.length === 0) return JSON.stringify(event)
  let json: string
  try {
    json = JSON.stringify(event)
  } finally {
    for (const { holder, key, value } of swapped) holder[key] = value
  }
  return json.replace(CACHED_MARK_JSON, (_, i: string) => swapped[Number(i)].json)
}

/** The JSON of a shared frames array (made on first use); undefined for an array replaced since (cut to size, unshared). */
function sharedFramesJson(frames: StackFrame[]): string | undefined {
  const json = framesJson.get(frames)
  if (json !== null) return json
  const made = JSON.stringify(frames)
  framesJson.set(frames, made)
  return made
}

/** The breadcrumbs' JSON from the prepared ones; undefined when any was replaced since (it is then made in full). */
function sharedBreadcrumbsJson(list: Breadcrumb[]): string | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined
  const parts: string[] = []
  for (const crumb of list) {
    const json = breadcrumbJson.get(crumb)
    if (json === undefined) return undefined
    parts.push(json)
  }
  return `[${parts.join(',')}]`
}
