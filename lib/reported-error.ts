/**
 * Every message faultline gives starts with one prefix, `faultline: `, so that the app's logs and
 * its onInternalError can tell faultline's own failures from the app's.
 */
export const MESSAGE_PREFIX = 'faultline: '

/** The error as faultline reports it: its message starts with the prefix, once. An error of the app's is wrapped (as the cause), never changed. */
export function reportedError(error: unknown): Error {
  const err = error instanceof Error ? error : new Error(String(error))
  return err.message.startsWith(MESSAGE_PREFIX) ? err : new Error(`${MESSAGE_PREFIX}${err.message}`, { cause: err })
}
