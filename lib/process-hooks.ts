import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'

/**
 * Crash capture. Node gives a dying process no more callbacks once an uncaught exception is
 * fatal, so where the store can record synchronously (memory, file) the crash is recorded from
 * `uncaughtExceptionMonitor`, which changes nothing about what Node does next: it prints the
 * error exactly as always and exits with code 1. A store that can only record asynchronously
 * (postgres) needs the process kept alive, which only an `uncaughtException` listener does; then
 * the tracker waits for the store (at most FATAL_WAIT_MS) and exits as Node would.
 */

/** How long a crashing process waits for an asynchronous store before it exits. */
const FATAL_WAIT_MS = 2000

export type Mechanism = 'uncaughtException' | 'unhandledRejection'

/** What a tracker gives the process hooks. */
export interface FatalRecorder {
  captureUncaught: boolean
  captureUnhandledRejections: boolean
  /** whether recordFatalSync can store the event before returning */
  canRecordSync: boolean
  /** records a crash synchronously, the event on disk before it returns; never throws */
  recordFatalSync(error: unknown, mechanism: Mechanism): void
  /** records a crash and resolves once it is durable; never rejects */
  recordFatal(error: unknown, mechanism: Mechanism): Promise<void>
  /** at exit: stores what is still queued, synchronously where the store can; never throws */
  drainOnExit(): void
}

const recorders = new Set<FatalRecorder>()
/** errors already recorded, so one crash is one event whichever hooks see it */
const recorded = new WeakSet<object>()
const recordedPrimitives = new Set<unknown>()

function alreadyRecorded(error: unknown): boolean {
  if (typeof error === 'object' && error !== null) {
    if (recorded.has(error)) return true
    recorded.add(error)
    return false
  }
  if (recordedPrimitives.has(error)) return true
  recordedPrimitives.add(error)
  return false
}

function wants(recorder: FatalRecorder, mechanism: Mechanism): boolean {
  return mechanism === 'uncaughtException' ? recorder.captureUncaught : recorder.captureUnhandledRejections
}

function recordSync(error: unknown, mechanism: Mechanism): void {
  for (const r of recorders) if (wants(r, mechanism) && r.canRecordSync) r.recordFatalSync(error, mechanism)
}

/** Records with every tracker; asynchronous stores get at most FATAL_WAIT_MS. */
async function recordAll(error: unknown, mechanism: Mechanism): Promise<void> {
  recordSync(error, mechanism)
  const slow = [...recorders].filter((r) => wants(r, mechanism) && !r.canRecordSync)
  if (slow.length === 0) return
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, FATAL_WAIT_MS)
  })
  await Promise.race([Promise.all(slow.map((r) => r.recordFatal(error, mechanism))), deadline])
  clearTimeout(timer)
}

function onUncaughtMonitor(error: unknown, origin: string): void {
  const mechanism: Mechanism = origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException'
  if (alreadyRecorded(error)) return
  // The host may keep the process running (its own listener): then the queue can take it as usual.
  if (process.listenerCount('uncaughtException') > ownUncaughtListeners()) {
    for (const r of recorders) if (wants(r, mechanism)) void r.recordFatal(error, mechanism)
    return
  }
  recordSync(error, mechanism)
}

/** Installed only for stores that cannot record synchronously: it keeps the process alive until they have. */
function onUncaughtException(error: unknown, origin?: string): void {
  if (process.listenerCount('uncaughtException') > 1) return // the host's listener decides; the monitor recorded it
  const mechanism: Mechanism = origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException'
  const slow = [...recorders].filter((r) => wants(r, mechanism) && !r.canRecordSync)
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, FATAL_WAIT_MS)
  })
  void Promise.race([Promise.all(slow.map((r) => r.recordFatal(error, mechanism))), deadline]).then(() => {
    clearTimeout(timer)
    exitLikeNode(error)
  })
}

function unhandledRejectionsMode(): string {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const flag = flags.filter((f) => f.startsWith('--unhandled-rejections=')).pop()
  return flag ? flag.split('=')[1] : 'throw'
}

/** The error Node raises for a rejection whose reason is not an Error. */
function rejectionError(reason: unknown): Error {
  const error = new Error(
    'This error originated either by throwing inside of an async function without a catch block, ' +
      'or by rejecting a promise which was not handled with .catch(). ' +
      `The promise rejected with the reason "${inspect(reason)}".`,
  )
  error.name = 'UnhandledPromiseRejection'
  ;(error as Error & { code: string }).code = 'ERR_UNHANDLED_REJECTION'
  error.stack = undefined
  return error
}

/** The source line Node shows above a fatal error: where the error was made, with a caret. */
function sourceArrow(error: unknown): string {
  try {
    const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : ''
    const match = /\n\s+at (?:.*? \()?((?:file:\/\/)?[^()\s][^()]*?):(\d+):(\d+)\)?\s*(?:\n|$)/.exec(stack)
    if (!match) return ''
    const [, location, line, column] = match
    const file = location.startsWith('file://') ? fileURLToPath(location) : location
    const text = readFileSync(file, 'utf8').split('\n')[Number(line) - 1]
    if (text === undefined) return ''
    return `${location}:${line}\n${text}\n${' '.repeat(Math.max(0, Number(column) - 1))}^\n\n`
  } catch {
    return ''
  }
}

/** Prints a fatal error the way Node does and exits with code 1. */
function exitLikeNode(error: unknown): never {
  const shown = error instanceof Error ? inspect(error) : `Uncaught ${inspect(error)}`
  process.stderr.write(`${sourceArrow(error)}${shown}\n\nNode.js ${process.version}\n`)
  process.exit(1)
}

/** What Node says after the rejection itself when it warns. */
const UNHANDLED_REJECTION_ADVICE = 'Unhandled promise rejection. This error originated either by throwing inside of an async function without a catch block, ' +
  'or by rejecting a promise which was not handled with .catch(). To terminate the node process on unhandled promise rejection, ' +
  'use the CLI flag `--unhandled-rejections=strict` (see https://nodejs.org/api/cli.html#cli_unhandled_rejections_mode).'
let warnedRejections = 0

function onUnhandledRejection(reason: unknown): void {
  const hostListens = process.listenerCount('unhandledRejection') > 1
  const mode = unhandledRejectionsMode()
  const first = !alreadyRecorded(reason)
  // In strict mode Node raised it as an uncaught exception first; that path recorded it.
  if (mode === 'strict') {
    if (first) void recordAll(reason, 'unhandledRejection')
    return
  }
  const done = first ? recordAll(reason, 'unhandledRejection') : Promise.resolve()
  if (hostListens) return
  // Without listeners Node would act on the rejection itself; our listener stopped that, so do what it does.
  void done.then(() => {
    if (mode === 'throw') {
      const error = reason instanceof Error ? reason : rejectionError(reason)
      alreadyRecorded(error)
      if (process.listenerCount('uncaughtException') > ownUncaughtListeners()) {
        // the host's uncaughtException listener gets it, as it would from Node
        process.nextTick(() => {
          throw error
        })
      } else {
        exitLikeNode(error)
      }
    } else if (mode === 'warn-with-error-code') {
      // ('warn' needs nothing: Node warns in that mode whatever the listeners)
      process.emitWarning(reason instanceof Error ? (reason.stack ?? String(reason)) : inspect(reason), 'UnhandledPromiseRejectionWarning')
      process.emitWarning(`${UNHANDLED_REJECTION_ADVICE} (rejection id: ${++warnedRejections})`, 'UnhandledPromiseRejectionWarning')
      process.exitCode = 1
    }
  })
}

/**
 * The process is exiting (process.exit(), the end of a crash): events captured just before are
 * still queued, and no callback will run again. Prepended, so it runs before the stores' own exit
 * hooks write and unlock their files.
 */
function onExit(): void {
  for (const r of recorders) r.drainOnExit()
}

function ownUncaughtListeners(): number {
  return process.listeners('uncaughtException').includes(onUncaughtException) ? 1 : 0
}

/** Installs or removes each process listener as the registered trackers need it. */
function sync(): void {
  const all = [...recorders]
  const needMonitor = all.some((r) => r.captureUncaught || r.captureUnhandledRejections)
  const needKeepAlive = all.some((r) => (r.captureUncaught || r.captureUnhandledRejections) && !r.canRecordSync)
  const needRejections = all.some((r) => r.captureUnhandledRejections)
  toggle('uncaughtExceptionMonitor', onUncaughtMonitor as (...args: unknown[]) => void, needMonitor)
  toggle('uncaughtException', onUncaughtException as (...args: unknown[]) => void, needKeepAlive)
  toggle('unhandledRejection', onUnhandledRejection as (...args: unknown[]) => void, needRejections)
  const exitHooked = process.listeners('exit').includes(onExit)
  if (all.length > 0 && !exitHooked) process.prependListener('exit', onExit)
  if (all.length === 0 && exitHooked) process.off('exit', onExit)
}

function toggle(event: string, listener: (...args: unknown[]) => void, on: boolean): void {
  const present = process.listeners(event as 'exit').includes(listener as () => void)
  if (on && !present) process.on(event as 'exit', listener)
  if (!on && present) process.off(event as 'exit', listener)
}

/** Registers a tracker for crash capture; each process listener is installed once, whatever the number of trackers. */
export function attachProcessHooks(recorder: FatalRecorder): void {
  recorders.add(recorder)
  sync()
}

/** Unregisters a tracker; a listener goes when the last tracker that needed it does. */
export function detachProcessHooks(recorder: FatalRecorder): void {
  recorders.delete(recorder)
  sync()
}
