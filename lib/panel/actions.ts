/**
 * The form posts: resolve (now or in the next release), reopen, ignore (with an optional end) and
 * delete, for one issue or for several selected in the list, and a note on an issue. Each post is
 * checked for origin and CSRF token, then redirects (303).
 */
import { parseDuration } from '../../common/duration.js'
import type { IssueUpdate } from '../types.js'
import { csrfValid, isSameOrigin } from './access.js'
import { actorOf } from './actor.js'
import { updateFromBody } from './api.js'
import { BodyError, field, fieldList, readForm, type Fields } from './body.js'
import { isBadInput, isValidId, storeHas, type PanelContext } from './context.js'
import { errorPage } from './pages.js'
import { redirect } from './reply.js'

const ACTIONS = ['resolve', 'resolveNext', 'unresolve', 'ignore', 'delete'] as const
type Action = (typeof ACTIONS)[number]
const MAX_BULK = 100
const MAX_UNTIL = 1_000_000_000

/** Reads and checks a form post; answers the refusal itself and returns null when refused. */
async function checkedForm(ctx: PanelContext): Promise<Fields | null> {
  if (!isSameOrigin(ctx.req)) {
    errorPage(ctx, 403, 'Cross-origin request refused', 'This form was sent from another site. Open the panel directly and try again.')
    return null
  }
  let fields: Fields
  try {
    fields = await readForm(ctx.req)
  } catch (err) {
    if (err instanceof BodyError) {
      errorPage(ctx, err.status, 'Request refused', err.message)
      return null
    }
    throw err
  }
  if (!csrfValid(ctx.req, field(fields, '_csrf'))) {
    errorPage(ctx, 403, 'Form expired', 'The form’s security token is missing or does not match. Reload the page and try again (the panel needs its cookie).')
    return null
  }
  return fields
}

/**
 * The ignore end from the form: `until` is forever, events, users or for, with the number or
 * duration in the field of the same name. Returns a message when the form is incomplete.
 */
export function ignoreUntil(fields: Fields): IssueUpdate['until'] | string {
  const kind = field(fields, 'until')
  if (kind === '' || kind === 'forever') return null
  if (kind === 'events' || kind === 'users') {
    const n = Number(field(fields, kind))
    if (!Number.isInteger(n) || n < 1 || n > MAX_UNTIL) return `Enter how many more ${kind} end the ignore: a whole number from 1.`
    return kind === 'events' ? { events: n } : { users: n }
  }
  if (kind === 'for') {
    const span = field(fields, 'for').trim()
    if (parseDuration(span) === null) return "Enter how long to ignore, like '30m', '1h' or '7d'."
    return { for: span }
  }
  return 'Choose when the ignore ends: forever, after more events, after more users, or after a time.'
}

/** The change an action asks for, signed by `actor`; a message when the form is incomplete. */
function updateFor(action: Exclude<Action, 'delete' | 'resolveNext'>, fields: Fields, actor: string): IssueUpdate | string {
  if (action === 'resolve') return { status: 'resolved', actor }
  if (action === 'unresolve') return { status: 'unresolved', actor }
  const until = ignoreUntil(fields)
  return typeof until === 'string' ? until : { status: 'ignored', until, actor }
}

function actionFrom(fields: Fields): Action | null {
  const action = field(fields, 'action')
  return (ACTIONS as readonly string[]).includes(action) ? (action as Action) : null
}

/** POST /issues/:id : one action on one issue, then back to it (or to the list after a delete). */
export async function issueAction(ctx: PanelContext, id: string): Promise<void> {
  const fields = await checkedForm(ctx)
  if (!fields) return
  const action = actionFrom(fields)
  if (!action) return errorPage(ctx, 400, 'Unknown action', 'Choose resolve, reopen, ignore or delete.')
  const issueHref = `${ctx.base}/issues/${encodeURIComponent(id)}`
  if (action === 'delete') {
    if (!(await ctx.store.deleteIssue(id))) return errorPage(ctx, 404, 'Issue not found', 'There is no issue with this id. It may have been deleted already.')
    return redirect(ctx.res, `${ctx.base}?done=delete&n=1`)
  }
  const actor = actorOf(ctx.req, ctx.options, 'panel')
  let update: IssueUpdate | string
  if (action === 'resolveNext') {
    // the same rule as the JSON API's PATCH with inNextRelease
    const next = await updateFromBody(ctx, id, { status: 'resolved', inNextRelease: true }, 'panel')
    if (next === null) return errorPage(ctx, 404, 'Issue not found', 'There is no issue with this id. It may have been deleted.')
    if (typeof next === 'string') return errorPage(ctx, 400, 'No release known', next)
    update = next
  } else {
    update = updateFor(action, fields, actor)
  }
  if (typeof update === 'string') return errorPage(ctx, 400, 'Incomplete form', update)
  try {
    const issue = await ctx.store.updateIssue(id, update)
    if (!issue) return errorPage(ctx, 404, 'Issue not found', 'There is no issue with this id. It may have been deleted.')
  } catch (err) {
    if (isBadInput(err)) return errorPage(ctx, 400, 'Action refused', err.message)
    throw err
  }
  redirect(ctx.res, `${issueHref}?done=${action}`)
}

/** The list query to come back to after a bulk action: only the list's own parameters survive. */
function backTo(ctx: PanelContext, fields: Fields): string {
  const back = new URLSearchParams(field(fields, 'back').replace(/^\?/, '').slice(0, 2000))
  const keep = new URLSearchParams()
  for (const key of ['status', 'q', 'sort']) {
    const value = back.get(key)
    if (value) keep.set(key, value)
  }
  return keep.toString()
}

/** The list a bulk form came from, with the one-off notice parameters after its own. */
function listHref(ctx: PanelContext, fields: Fields, notice: string): string {
  const back = backTo(ctx, fields)
  return `${ctx.base}?${back ? `${back}&` : ''}${notice}`
}

/** POST /bulk : one action on the selected issues, then back to the list where it was sent from. */
export async function bulkAction(ctx: PanelContext): Promise<void> {
  const fields = await checkedForm(ctx)
  if (!fields) return
  const action = actionFrom(fields)
  if (!action) return errorPage(ctx, 400, 'Unknown action', 'Choose resolve, reopen, ignore or delete.')
  // each issue has its own release to wait for: that one is offered on the issue page only
  if (action === 'resolveNext') return errorPage(ctx, 400, 'One issue at a time', 'Resolve in the next release from the issue’s own page.')
  const ids = [...new Set(fieldList(fields, 'id'))]
  // Without the script nothing stops a post with no box ticked: back to the list, which says why.
  if (ids.length === 0) return redirect(ctx.res, listHref(ctx, fields, 'done=none'))
  if (ids.length > MAX_BULK) return errorPage(ctx, 400, 'Too many issues', `Change at most ${MAX_BULK} issues at once.`)
  const update = action === 'delete' ? null : updateFor(action, fields, actorOf(ctx.req, ctx.options, 'panel'))
  if (typeof update === 'string') return errorPage(ctx, 400, 'Incomplete form', update)
  let changed = 0
  for (const id of ids) {
    // Unknown or malformed ids are skipped: the rest of the selection still applies.
    if (!isValidId(id)) continue
    try {
      const ok = update === null ? await ctx.store.deleteIssue(id) : (await ctx.store.updateIssue(id, update)) !== null
      if (ok) changed++
    } catch (err) {
      if (!isBadInput(err)) throw err
    }
  }
  redirect(ctx.res, listHref(ctx, fields, `done=${action}&n=${changed}`))
}

/**
 * POST /issues/:id/notes : adds a note to the issue's activity log, then back to the log. Browsers
 * send a textarea's line breaks as CRLF but count them as one character against `maxlength`, so
 * they are made LF before the length is checked.
 */
export async function noteAction(ctx: PanelContext, id: string): Promise<void> {
  const fields = await checkedForm(ctx)
  if (!fields) return
  const text = field(fields, 'text').replace(/\r\n?/g, '\n')
  if (text.trim() === '') return errorPage(ctx, 400, 'Empty note', 'Write something in the note, then add it.')
  if (!storeHas(ctx.store, 'addNote')) return errorPage(ctx, 501, 'Notes not kept', 'This store was written before stores kept notes (it has no addNote), so it cannot keep this one.')
  let added
  try {
    added = await ctx.store.addNote(id, { text, actor: actorOf(ctx.req, ctx.options, 'panel') })
  } catch (err) {
    if (isBadInput(err)) return errorPage(ctx, 400, 'Note refused', err.message)
    throw err
  }
  if (!added) return errorPage(ctx, 404, 'Issue not found', 'There is no issue with this id. It may have been deleted.')
  redirect(ctx.res, `${ctx.base}/issues/${encodeURIComponent(id)}?done=note#activity`)
}
