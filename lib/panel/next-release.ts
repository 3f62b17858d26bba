/**
 * The release a "resolve in the next release" waits past, for the form on the issue page and for
 * `PATCH /api/issues/:id` with `inNextRelease` alike.
 */
import type { ResolvedOptions } from '../options.js'
import type { Issue } from '../types.js'

/**
 * The release running now: the tracker's configured release, else the release of the issue's
 * latest event. Null when neither is known: then there is no "next" release to wait for.
 */
export function currentRelease(options: Pick<ResolvedOptions, 'release'>, issue: Pick<Issue, 'lastRelease'> | null): string | null {
  return options.release || issue?.lastRelease || null
}
