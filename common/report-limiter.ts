/** Reports an internal failure; `kind` groups failures of one sort for rate limiting. */
export type Report = (err: Error, kind?: string) => void

/**
 * Wraps a reporter (`onInternalError`, or the default stderr line) so each kind of failure (a full queue, a failing mail server, one webhook)
 * is reported at most once per `intervalMs`; the next report of that kind says how many were left
 * out. Kinds are few and fixed by the caller, so the map stays small. A throwing handler is
 * ignored: reporting must never become a failure of its own.
 */
export function limitReports(onError: (err: Error) => void, intervalMs = 10_000): Report {
  const kinds = new Map<string, { last: number; suppressed: number }>()
  return function reportAlertError(err: Error, kind = 'other'): void {
    const now = Date.now()
    let state = kinds.get(kind)
    if (!state) kinds.set(kind, (state = { last: -Infinity, suppressed: 0 }))
    if (now - state.last < intervalMs) {
      state.suppressed++
      return
    }
    state.last = now
    let error = err instanceof Error ? err : new Error(String(err))
    // a new error rather than a changed one: the original may belong to a driver or the app
    if (state.suppressed) error = new Error(`${error.message} (${state.suppressed} more like this left out)`, { cause: error })
    state.suppressed = 0
    try {
      onError(error)
    } catch {
      // the app's handler failed; there is nowhere left to report to
    }
  }
}
