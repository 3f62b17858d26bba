/**
 * The JSON API under `panel.path + '/api'`, as DESIGN.md lists it:
 *   GET    /api/issues?status=&q=&sort=&limit=&cursor=   -> { issues, nextCursor, problems } (what the search could not use)
 *          ...&counts=1                                 -> also { counts: { unresolved, resolved, ignored, all } } for q
 *   GET    /api/issues/:id                              -> { issue, tags, histogram: { hourly, daily } }
 *   GET    /api/issues/:id/events?limit=&cursor=        -> { events, nextCursor }
 *   GET    /api/issues/:id/users?limit=&cursor=         -> { users, nextCursor }, most events first
 *   GET    /api/issues/:id/activity?limit=&cursor=      -> { activity, nextCursor }, oldest first
 *   POST   /api/issues/:id/notes   { text }             -> 201, the note's activity line
 *   PATCH  /api/issues/:id   { status, until, inNextRelease } -> the issue
 *   DELETE /api/issues/:id                              -> 204
 * Errors answer `{ error: { status, message } }`.
 */
import type { IssueSort, IssueStatus, IssueUpdate } from '../types.js'
import { isSameOrigin } from './access.js'
import { actorOf } from './actor.js'
import { currentRelease } from './next-release.js'
import { parseQuery } from '../../common/search.js'
import { BodyError, mediaType, readJson } from './body.js'
import { isBadInput, isValidId, storeHas, type PanelContext } from './context.js'
import { sendJson, sendJsonError } from './reply.js'

/** Routes one API request; `segments` are the parts after 'api'. */
export async function handleApi(ctx: PanelContext, segments: string[]): Promise<void> {
  const { res, method } = ctx
  const [collection, id, sub, ...rest] = segments
  if (collection !== 'issues' || rest.length > 0 || (sub !== undefined && !SUB_ROUTES.includes(sub))) {
    return sendJsonError(res, 404, 'No such API route. See GET /api/issues.')
  }
  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') return listIssues(ctx)
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (!isValidId(id)) return sendJsonError(res, 404, 'No issue with this id.')
  if ((sub === 'users' || sub === 'activity' || sub === 'notes') && !storeHas(ctx.store, STORE_METHODS[sub])) {
    return sendJsonError(res, 501, `This store keeps no ${sub}: it was written before stores had ${STORE_METHODS[sub]}.`)
  }
  if (sub === 'events' || sub === 'users' || sub === 'activity') {
    if (method === 'GET' || method === 'HEAD') return sub === 'events' ? listEvents(ctx, id) : sub === 'users' ? listUsers(ctx, id) : listActivity(ctx, id)
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (sub === 'notes') {
    if (method !== 'POST') return notAllowed(ctx, 'POST')
    const refusal = writeRefusal(ctx)
    if (refusal) return sendJsonError(res, refusal.status, refusal.message)
    return addNote(ctx, id)
  }
  if (method === 'GET' || method === 'HEAD') return getIssue(ctx, id)
  if (method === 'PATCH' || method === 'DELETE') {
    const refusal = writeRefusal(ctx)
    if (refusal) return sendJsonError(res, refusal.status, refusal.message)
    return method === 'PATCH' ? patchIssue(ctx, id) : deleteIssue(ctx, id)
  }
  return notAllowed(ctx, 'GET, HEAD, PATCH, DELETE')
}

const SUB_ROUTES = ['events', 'users', 'activity', 'notes']
/** what a store written before this round may lack, by route */
const STORE_METHODS = { users: 'listUsers', activity: 'listActivity', notes: 'addNote' } as const

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
  const needsBody = ctx.method === 'PATCH' || ctx.method === 'POST'
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
    const answer = { issues: page.issues, nextCursor: page.nextCursor, problems: parseQuery(q).problems }
    sendJson(res, 200, counts ? { ...answer, counts } : answer)
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

async function listUsers(ctx: PanelContext, id: string): Promise<void> {
  const { store, res, query } = ctx
  try {
    const page = await store.listUsers(id, { limit: limitParam(ctx), cursor: query.get('cursor') || null })
    if (!page) return sendJsonError(res, 404, 'No issue with this id.')
    sendJson(res, 200, { users: page.users, nextCursor: page.nextCursor })
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

async function listActivity(ctx: PanelContext, id: string): Promise<void> {
  const { store, res, query } = ctx
  try {
    const page = await store.listActivity(id, { limit: limitParam(ctx), cursor: query.get('cursor') || null })
    if (!page) return sendJsonError(res, 404, 'No issue with this id.')
    sendJson(res, 200, { activity: page.activity, nextCursor: page.nextCursor })
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

/** The request's JSON object body, or null once an error answer was sent. */
async function jsonObject(ctx: PanelContext, example: string): Promise<Record<string, unknown> | null> {
  let body: unknown
  try {
    body = await readJson(ctx.req)
  } catch (err) {
    if (err instanceof BodyError) {
      sendJsonError(ctx.res, err.status, err.message)
      return null
    }
    throw err
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    sendJsonError(ctx.res, 400, `Send a JSON object like ${example}.`)
    return null
  }
  return body as Record<string, unknown>
}

async function addNote(ctx: PanelContext, id: string): Promise<void> {
  const { store, res } = ctx
  const body = await jsonObject(ctx, '{ "text": "Fixed by the retry in 2.4.1" }')
  if (body === null) return
  const unknown = Object.keys(body).find((key) => key !== 'text')
  if (unknown !== undefined) return sendJsonError(res, 400, `Unknown field ${JSON.stringify(unknown.slice(0, 40))}: a note is { "text": "..." }.`)
  try {
    // the store checks the text (a non-empty string), trims it and cuts it to its length
    const note = await store.addNote(id, { text: body.text as string, actor: actorOf(ctx.req, ctx.options, 'API') })
    if (!note) return sendJsonError(res, 404, 'No issue with this id.')
    sendJson(res, 201, note)
  } catch (err) {
    if (isBadInput(err)) return sendJsonError(res, 400, err.message)
    throw err
  }
}

/**
 * The store's update for a PATCH body: who made it, and `inNextRelease` turned into the release it
 * stays resolved for (the tracker's configured release, else the issue's latest). A string is the
 * answer for a body that cannot be one.
 */
export async function updateFromBody(ctx: PanelContext, id: string, body: Record<string, unknown>, via: 'panel' | 'API'): Promise<IssueUpdate | string | null> {
  const { inNextRelease, ...update } = body
  if ('actor' in update) return 'actor is not sent: the panel records who made the change.'
  if (inNextRelease !== undefined && typeof inNextRelease !== 'boolean') return `inNextRelease must be true or false, got ${JSON.stringify(inNextRelease).slice(0, 40)}.`
  const result = { ...update, actor: actorOf(ctx.req, ctx.options, via) } as unknown as IssueUpdate
  if (inNextRelease !== true) return result
  if (update.status !== 'resolved') return "inNextRelease only goes with status 'resolved'."
  if ('inRelease' in update) return 'Send inNextRelease or inRelease, not both.'
  // the issue is read only when the tracker does not say which release runs
  let release = currentRelease(ctx.options, null)
  if (release === null) {
    const issue = await ctx.store.getIssue(id)
    if (!issue) return null
    release = currentRelease(ctx.options, issue)
  }
  if (release === null) {
    return 'Cannot resolve in the next release: no release is known. Set the tracker\'s release option (or FAULTLINE_RELEASE), or send events with a release.'
  }
  return { ...result, inRelease: release }
}

async function patchIssue(ctx: PanelContext, id: string): Promise<void> {
  const { store, res } = ctx
  const body = await jsonObject(ctx, '{ "status": "resolved" } or { "status": "ignored", "until": { "events": 100 } }')
  if (body === null) return
  try {
    const update = await updateFromBody(ctx, id, body, 'API')
    if (update === null) return sendJsonError(res, 404, 'No issue with this id.')
    if (typeof update === 'string') return sendJsonError(res, 400, update)
    // the store checks the update (its status, until's shape, unknown fields) and says what is wrong
    const issue = await store.updateIssue(id, update)
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
