/**
 * Wraps `onInternalError` so a failing mail server or webhook reports at most one error per
 * `intervalMs`; the next report says how many were left out. A throwing handler is ignored:
 * reporting must never become a failure of its own.
 */
export function limitReports(onError: (err: Error) => void, intervalMs = 10_000): (err: Error) => void {
  let last = -Infinity
  let suppressed = 0
  return function reportAlertError(err: Error): void {
    const now = Date.now()
    if (now - last < intervalMs) {
      suppressed++
      return
    }
    last = now
    const error = err instanceof Error ? err : new Error(String(err))
    if (suppressed) error.message += ` (${suppressed} similar alert errors left out)`
    suppressed = 0
    try {
      onError(error)
    } catch {
      // the app's handler failed; there is nowhere left to report to
    }
  }
}
