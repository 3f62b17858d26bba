import { inspect } from 'node:util'

/** How long a crashing process waits for its last event to be stored before it exits as Node would. */
const FATAL_WAIT_MS = 2000

/** What a tracker gives the process hooks. */
export interface FatalRecorder {
  captureUncaught: boolean
  captureUnhandledRejections: boolean
  /** records a crash and resolves once it is durable; never rejects */
  recordFatal(error: unknown, mechanism: 'uncaughtException' | 'unhandledRejection'): Promise<void>
}

const recorders = new Set<FatalRecorder>()
/** errors already recorded, so a rejection rethrown as an uncaught exception is stored once */
const recorded = new WeakSet<object>()

function markRecorded(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  if (recorded.has(error)) return true
  recorded.add(error)
  return false
}

async function recordAll(error: unknown, mechanism: 'uncaughtException' | 'unhandledRejection'): Promise<void> {
  const wanted = [...recorders].filter((r) => (mechanism === 'uncaughtException' ? r.captureUncaught : r.captureUnhandledRejections))
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, FATAL_WAIT_MS) })
  await Promise.race([Promise.all(wanted.map((r) => r.recordFatal(error, mechanism))), deadline])
  clearTimeout(timer)
}

function onUncaughtException(error: unknown, origin?: string): void {
  const alreadyRecorded = markRecorded(error)
  // With a listener of the host's own, Node would keep running: so do we.
  const hostListens = process.listenerCount('uncaughtException') > 1
  const done = alreadyRecorded ? Promise.resolve() : recordAll(error, origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException')
  if (hostListens) return
  void done.then(() => {
    // Hand the same error back to Node, which prints it as it always does and exits with code 1.
    process.off('uncaughtException', onUncaughtException)
    process.nextTick(() => {
      throw error
    })
  })
}

function unhandledRejectionsMode(): string {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const flag = flags.find((f) => f.startsWith('--unhandled-rejections='))
  return flag ? flag.split('=')[1] : 'throw'
}

/** The error Node raises for a rejection with a value that is not an Error. */
function rejectionError(reason: unknown): Error {
  const error = new Error(
    'This error originated either by throwing inside of an async function without a catch block, ' +
      'or by rejecting a promise which was not handled with .catch(). ' +
      `The promise rejected with the reason "${inspect(reason)}".`,
  )
  error.name = 'UnhandledPromiseRejection'
  ;(error as Error & { code: string }).code = 'ERR_UNHANDLED_REJECTION'
  return error
}

function onUnhandledRejection(reason: unknown): void {
  const hostListens = process.listenerCount('unhandledRejection') > 1
  markRecorded(reason)
  void recordAll(reason, 'unhandledRejection').then(() => {
    if (hostListens) return
    // Keep what Node does without listeners: by default the rejection becomes an uncaught exception.
    const mode = unhandledRejectionsMode()
    if (mode === 'throw' || mode === 'strict') {
      const error = reason instanceof Error ? reason : rejectionError(reason)
      markRecorded(error)
      process.nextTick(() => {
        throw error
      })
    } else if (mode === 'warn' || mode === 'warn-with-error-code') {
      process.emitWarning(reason instanceof Error ? reason.stack ?? String(reason) : inspect(reason), 'UnhandledPromiseRejectionWarning')
      if (mode === 'warn-with-error-code') process.exitCode = 1
    }
  })
}

/** Registers a tracker for crash capture; each process listener is installed once, whatever the number of trackers. */
export function attachProcessHooks(recorder: FatalRecorder): void {
  if (recorder.captureUncaught && ![...recorders].some((r) => r.captureUncaught)) process.on('uncaughtException', onUncaughtException)
  if (recorder.captureUnhandledRejections && ![...recorders].some((r) => r.captureUnhandledRejections)) process.on('unhandledRejection', onUnhandledRejection)
  recorders.add(recorder)
}

/** Unregisters a tracker; a listener goes when the last tracker that wanted it does. */
export function detachProcessHooks(recorder: FatalRecorder): void {
  if (!recorders.delete(recorder)) return
  if (![...recorders].some((r) => r.captureUncaught)) process.off('uncaughtException', onUncaughtException)
  if (![...recorders].some((r) => r.captureUnhandledRejections)) process.off('unhandledRejection', onUnhandledRejection)
}
