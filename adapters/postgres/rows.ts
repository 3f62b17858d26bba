/**
 * Between the PostgreSQL store's rows and faultline's values: an issue row as an Issue, dates as
 * pg returns them, and strings and JSON made safe for text and jsonb columns.
 */
import { ownTags, withImplicitTags } from '../shared/counted-facts.js'
import type { Activity, ActivityKind, AffectedUser, FaultlineEvent, IgnoreUntil, Issue, Level } from '../../lib/types.js'

/** The tags the event counts under (see shared/counted-facts.ts), with what PostgreSQL's text cannot hold replaced. */
export function tagList(event: FaultlineEvent, level: Level): Array<[string, string]> {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  const implicit = { environment: text(event.environment), release: text(event.release), server_name: text(event.server_name), level }
  return withImplicitTags(ownTags(event.tags), implicit).map(([key, value]) => [clean(key), clean(value)])
}

/** PostgreSQL text refuses NUL characters (and lone surrogates cannot be UTF-8); attacker-controlled strings may hold them. */
export function clean(value: string): string {
  return String(value ?? '').replace(/\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD')
}

/**
 * JSON for a jsonb column: jsonb refuses the escapes \u0000 and lone surrogates (\ud800), which
 * JSON.stringify writes for such characters, so they become U+FFFD. Escapes preceded by an odd
 * number of backslashes are real escapes; an even number means a literal backslash before "u".
 */
export function toJson(value: unknown): string {
  return jsonbSafe(JSON.stringify(value))
}

export function jsonbSafe(json: string): string {
  return json.replace(/(\\+)u(0000|d[89a-f][0-9a-f]{2})/gi, (match, slashes: string) =>
    slashes.length % 2 === 1 ? slashes.slice(1) + '\\ufffd' : match)
}

export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string)
}

function iso(value: unknown): string {
  return toDate(value).toISOString()
}

function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value)
}

/** The ignore's end as stored on an issue row (until_count, until_users, until_at), or null. */
export function toIgnoreUntil(r: any): IgnoreUntil | null {
  if (r.until_count === null && r.until_users === null && r.until_at === null) return null
  const ignoreUntil: IgnoreUntil = {}
  if (r.until_count !== null) ignoreUntil.count = Number(r.until_count)
  if (r.until_users !== null) ignoreUntil.userCount = Number(r.until_users)
  if (r.until_at !== null) ignoreUntil.at = iso(r.until_at)
  return ignoreUntil
}

export function toIssue(r: any): Issue {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    title: r.title,
    culprit: r.culprit,
    type: r.type,
    message: r.message,
    level: r.level,
    status: r.status,
    regressed: r.regressed,
    count: Number(r.count),
    userCount: Number(r.user_count),
    firstSeen: iso(r.first_seen),
    lastSeen: iso(r.last_seen),
    firstRelease: r.first_release,
    lastRelease: r.last_release,
    environments: r.environments,
    resolvedAt: isoOrNull(r.resolved_at),
    ignoreUntil: toIgnoreUntil(r),
    regressedAt: isoOrNull(r.regressed_at),
    countSinceRegression: Number(r.count_since_regression),
    usersSinceRegression: Number(r.users_since_regression),
    shed: Number(r.shed ?? 0),
    // an instance on the release before may reopen the issue without clearing it: only a resolved issue has one
    resolvedInRelease: r.status === 'resolved' ? r.resolved_in_release ?? null : null,
    platforms: r.platforms,
  }
}

/** A row of the users table (with data: rows written before migration 3 have none and are not shown). */
export function toAffectedUser(r: any): AffectedUser {
  return { key: r.key, user: r.data, count: Number(r.count), firstSeen: iso(r.first_seen), lastSeen: iso(r.last_seen) }
}

/** A row of the activity table, with only the fields its kind has. */
export function toActivity(r: any): Activity {
  const activity: Activity = { id: String(r.id), kind: r.kind as ActivityKind, at: iso(r.at), actor: r.actor }
  switch (activity.kind) {
    case 'note':
      activity.text = r.note
      break
    case 'ignored':
      activity.until = r.until
      break
    case 'resolved':
      if (r.release !== null) activity.release = r.release
      break
    case 'first_seen':
      activity.eventId = r.event_id
      break
    case 'regressed':
      activity.eventId = r.event_id
      activity.release = r.release
      activity.resolvedAt = isoOrNull(r.resolved_at)
      break
    case 'events_pruned':
      activity.count = Number(r.count)
      break
  }
  return activity
}
