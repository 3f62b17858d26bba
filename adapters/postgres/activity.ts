/**
 * The PostgreSQL store's activity log: a line per thing that happened to an issue, written in the
 * transaction of the change itself (record writes its own lines, see the record function in
 * schema.ts), kept to first_seen and the latest MAX_ACTIVITY others (issue-history.ts), and read oldest first.
 */
import type { Activity, ActivityKind, ActivityPage, IgnoreUntil } from '../../lib/types.js'
import { isIssueId, pageLimit } from '../shared/arguments.js'
import { decodeCursor, encodeCursor } from '../shared/cursor.js'
import type { Querier, Query } from './connection.js'
import { trimActivity, type Tables } from './schema.js'
import { clean, toActivity, toJson } from './rows.js'

/** One line to add, as its columns. */
export interface ActivityLine {
  kind: ActivityKind
  at: Date
  actor: string
  note?: string
  until?: IgnoreUntil | null
  release?: string | null
}

/**
 * Adds a line to the issue's log inside the caller's transaction, which holds the issue's row
 * lock (so ids follow the log's order), and drops the lines beyond what the log keeps.
 */
export async function appendActivity(q: Querier, t: Tables, issueId: string, line: ActivityLine): Promise<Activity> {
  const { rows } = await q(
    `INSERT INTO ${t.activity} (issue_id, kind, at, actor, note, until, release) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING *`,
    [issueId, line.kind, line.at, clean(line.actor), line.note === undefined ? null : clean(line.note),
      line.until === undefined || line.until === null ? null : toJson(line.until), line.release === undefined || line.release === null ? null : clean(line.release)])
  await q(trimActivity(t, '$1::text[]'), [[issueId]])
  return toActivity(rows[0])
}

/** The issue's log, oldest first; null when there is no such issue. */
export async function listActivity(read: Query, t: Tables, issueId: string, options?: { limit?: number; cursor?: string | null }): Promise<ActivityPage | null> {
  const limit = pageLimit(options?.limit)
  const position = decodeCursor('activity', options?.cursor)
  if (!isIssueId(issueId)) return null
  // one statement: no row at all means no issue, a row of NULLs an issue with nothing (more) in its log
  const { rows } = await read('listActivity',
    `SELECT a.* FROM ${t.issues} i
       LEFT JOIN LATERAL (SELECT * FROM ${t.activity} WHERE issue_id = i.id AND id > $2 ORDER BY id LIMIT ${limit + 1}) a ON true
     WHERE i.id = $1`, [issueId, position?.value ?? 0])
  if (rows.length === 0) return null
  const lines = rows.filter((r) => r.id !== null)
  const page = lines.slice(0, limit).map(toActivity)
  const last = page[page.length - 1]
  return { activity: page, nextCursor: lines.length > limit ? encodeCursor('activity', { value: Number(last.id), id: last.id }) : null }
}
