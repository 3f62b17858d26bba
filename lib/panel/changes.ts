/**
 * What a change made through the panel records beside the change itself: who made it, and for
 * "resolve in the next release", which release the issue stays resolved for. The form posts and
 * the JSON API both ask here, so the two say the same.
 */
import type { Issue } from '../types.js'
import { parseBasic } from './access.js'
import type { PanelContext } from './context.js'

/**
 * Who made a change, for the activity log: the HTTP Basic user name when `auth` is a username and
 * password (access has checked it already), else `fallback` ('panel' for forms, 'API' for the API).
 * An `auth` function says yes or no and nothing about who, so it gives the fallback too.
 */
export function changedBy(ctx: PanelContext, fallback: 'panel' | 'API'): string {
  const auth = ctx.options.panel ? ctx.options.panel.auth : null
  if (!auth || typeof auth === 'function') return fallback
  return parseBasic(ctx.req.headers.authorization)?.username || fallback
}

/**
 * The release a "resolve in the next release" holds: the tracker's configured release (what runs
 * now), else the release of the issue's latest event. Null when neither is known, and then there
 * is no "next" release to wait for.
 */
export function currentRelease(ctx: PanelContext, issue: Pick<Issue, 'lastRelease'>): string | null {
  return ctx.options.release || issue.lastRelease || null
}
