/**
 * The JSON API under `panel.path + '/api'`, as DESIGN.md lists it:
 *   GET    /api/issues?status=&q=&sort=&limit=&cursor=   -> { issues, nextCursor }
 *          ...&counts=1                                 -> also { counts: { unresolved, resolved, ignored, all } } for q
 *   GET    /api/issues/:id                              -> { issue, tags, histogram: { hourly, daily } }
 *   GET    /api/issues/:id/events?limit=&cursor=        -> { events, nextCursor }
 *   PATCH  /api/issues/:id   { status, until }          -> the issue
 *   DELETE /api/issues/:id                              -> 204
 * Errors answer `{ error: { status, message } }`.
 */
import type { IssueSort, IssueStatus, IssueUpdate } from '../types.js'
import { isSameOrigin } from './access.js'
import { BodyError, mediaType, readJson } from './body.js'
import { isBadInput, isValidId, type PanelContext } from './context.js'
import { sendJson, sendJsonError } from './reply.js'

/** Routes one API request; `segments` are the parts after 'api'. */
export async function handleApi(ctx: PanelContext, segments: string[]): Promise<void> {
  const { res, method } = ctx
  const [collection, id, sub, ...rest] = segments
  if (collection !== 'issues' || rest.length > 0 || (sub !== undefined && sub !== 'events')) {
    return sendJsonError(res, 404, 'No such API route. See GET /api/issues.')
  }
  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') return listIssues(ctx)
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (!isValidId(id)) return sendJsonError(res, 404, 'No issue with this id.')
  if (sub === 'events') {
    if (method === 'GET' || method === 'HEAD') return listEvents(ctx, id)
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (method === 'GET' || method === 'HEAD') return getIssue(ctx, id)
  if (method === 'PATCH' || method === 'DELETE') {
    const refusal = writeRefusal(ctx)
    if (refusal) return sendJsonError(res, refusal.status, refusal.message)
    return method === 'PATCH' ? patchIssue(ctx, id) : deleteIssue(ctx, id)
  }
  return notAllowed(ctx, 'GET, HEAD, PATCH, DELETE')
}

function notAllowed(ctx: PanelContext, allow: string): void {
  ctx.res.setHeader('Allow', allow)
  sendJsonError(ctx.res, 405, `Method ${ctx.method} is not allowed here; use ${allow}.`)
}

/**
 * Writes must come from the same origin and, when they carry a body, as JSON. A cross-site page can
 * only send JSON after a CORS preflight, which the panel never grants, so this closes CSRF on the API.
 */
function writeRefusal(ctx: PanelContext): { status: number; message: string } | null {
  if (!isSameOrigin(ctx.req)) return { status: 403, message: 'Cross-origin writes are refused.' }
  const type = mediaType(ctx.req)
  const needsBody = ctx.method === 'PATCH'
  if ((needsBody || type !== '') && type !== 'application/json') {
    return { status: 415, message: 'Send the request with Content-Type: application/json.' }
  }
  return null
}

/** The limit as a number for the store, which judges it (a TypeError, answered 400); none when not given. */
function limitParam(ctx: PanelContext): number | undefined {
  const raw = ctx.query.get('limit')
  return raw === null || raw === '' ? undefined : Number(raw)
}

/** The query's status, sort and limit go to the store as they are: it checks them, once, and says what is wrong. */
async function listIssues(ctx: PanelContext): Promise<void> {
  const { query, res } = ctx
  const status = query.get('status') || undefined
  const sort = query.get('sort') || undefined
  const limit = limitParam(ctx)
  const q = query.get('q') ?? ''
  if (q.length > 500) return sendJsonError(res, 400, 'q is longer than 500 characters.')
  // the tab counts come in the same answer, so the list page's live update is one request a poll
  const withCounts = query.get('counts') === '1'
  try {
    const [page, counts] = await Promise.all([
      ctx.store.listIssues({ status: status as IssueStatus | 'all' | undefined, sort: sort as IssueSort | undefined, q, limit, cursor: query.get('cursor') || null }),
      withCounts ? ctx.store.countIssues(q) : null,
    ])
    sendJson(res, 200, counts ? { issues: page.issues, nextCursor: page.nextCursor, counts } : { issues: page.issues, nextCursor: page.nextCursor })
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

async function getIssue(ctx: PanelContext, id: string): Promise<void> {
  const { store, res, now } = ctx
  const issue = await store.getIssue(id)
  if (!issue) return sendJsonError(res, 404, 'No issue with this id.')
  const [tags, hourly, daily] = await Promise.all([
    store.tagBreakdown(id, { limit: 10 }),
    store.histogram(id, { interval: 'hour', buckets: 24, now }),
    store.histogram(id, { interval: 'day', buckets: 30, now }),
  ])
  sendJson(res, 200, { issue, tags, histogram: { hourly, daily } })
}

async function listEvents(ctx: PanelContext, id: string): Promise<void> {
  const { store, res, query } = ctx
  const limit = limitParam(ctx)
  if (!(await store.getIssue(id))) return sendJsonError(res, 404, 'No issue with this id.')
  try {
    const page = await store.listEvents(id, { limit, cursor: query.get('cursor') || null })
    sendJson(res, 200, { events: page.events, nextCursor: page.nextCursor })
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

async function patchIssue(ctx: PanelContext, id: string): Promise<void> {
  const { store, res } = ctx
  let body: unknown
  try {
    body = await readJson(ctx.req)
  } catch (err) {
    if (err instanceof BodyError) return sendJsonError(res, err.status, err.message)
    throw err
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return sendJsonError(res, 400, "Send a JSON object like { \"status\": \"resolved\" } or { \"status\": \"ignored\", \"until\": { \"events\": 100 } }.")
  }
  try {
    // the store checks the update (its status, until's shape, unknown fields) and says what is wrong
    const issue = await store.updateIssue(id, body as IssueUpdate)
    if (!issue) return sendJsonError(res, 404, 'No issue with this id.')
    sendJson(res, 200, issue)
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

async function deleteIssue(ctx: PanelContext, id: string): Promise<void> {
  if (!(await ctx.store.deleteIssue(id))) return sendJsonError(ctx.res, 404, 'No issue with this id.')
  sendJson(ctx.res, 204, undefined)
}
