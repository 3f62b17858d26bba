/**
 * The HTML pages: the issue list, one issue (with its latest or a chosen event), an issue's events,
 * and the pages for errors and refusals. Handlers gather data from the store; templates only print.
 */
import type { ServerResponse } from 'node:http'
import { MAX_QUERY_LENGTH, mentionsStatus, parseQuery } from '../../common/search.js'
import { NOTE_MAX_LENGTH, SORTS, type Activity, type ActivityPage, type ExceptionInfo, type FaultlineEvent, type Issue, type IssueSort, type IssueStatus, type StatusCounts, type Store, type TagBreakdown } from '../types.js'
import { currentRelease } from './next-release.js'
import { barChart } from './charts.js'
import { isBadInput, storeHas, type PanelContext } from './context.js'
import { absoluteTime, describeActivity, ignoreEnd, inline, noun, plural, pretty, prettyBody, queryRows, requestPath, searchTerm, shortCount, timeAgo, withQuery } from './format.js'
import { sendHtml } from './reply.js'
import { framesInCommon, groupFrames, rawStack, STACK_VIEWS, stackView, type FrameGroup, type StackView } from './stack.js'

/** Issues per list page. */
export const PAGE_SIZE = 25
const TABS: Array<{ status: IssueStatus | 'all'; label: string }> = [
  { status: 'unresolved', label: 'Unresolved' },
  { status: 'resolved', label: 'Resolved' },
  { status: 'ignored', label: 'Ignored' },
  { status: 'all', label: 'All' },
]
const SORT_LABELS: Record<IssueSort, string> = { lastSeen: 'Last seen', firstSeen: 'First seen', events: 'Events', users: 'Users' }
const NOTICES: Record<string, [string, string]> = {
  resolve: ['issue resolved', 'issues resolved'],
  unresolve: ['issue reopened', 'issues reopened'],
  ignore: ['issue ignored', 'issues ignored'],
  delete: ['issue deleted', 'issues deleted'],
  resolveNext: ['issue resolved in the next release', 'issues resolved in the next release'],
  note: ['note added', 'notes added'],
}
/** Affected users shown on the issue page at once; a link pages on. */
export const USERS_PAGE = 10
/** Activity entries shown at once; logs are short (status changes and notes), so one page is the rule. */
export const ACTIVITY_PAGE = 50
/** Pages of the log read at most to find the latest regression for the issue's header. */
const REGRESSION_SEARCH_PAGES = 10
/** An unresolved issue first seen this recently carries a "New" badge in the list. */
const NEW_FOR_MS = 86_400_000
/** Tag keys the search syntax can express as `key:value` ('is' means status); others are shown without a search link. */
const SEARCHABLE_KEY = /^[A-Za-z_][\w.-]*$/

/** The locals every page shares: where assets live, the nonce, and the text helpers. */
function baseLocals(ctx: PanelContext, title: string): Record<string, unknown> {
  const css = ctx.views.asset('panel.css')
  const js = ctx.views.asset('panel.js')
  const now = ctx.now
  return {
    title,
    base: ctx.base,
    nonce: ctx.nonce,
    appName: ctx.options.appName,
    environment: ctx.options.environment,
    cssHref: css ? `${ctx.base}/panel.css?v=${css.version}` : null,
    jsHref: js ? `${ctx.base}/panel.js?v=${js.version}` : null,
    csrf: null,
    notice: null,
    /** refusal pages say nothing about the app */
    locked: false,
    f: {
      timeAgo: (iso: string | null | undefined) => timeAgo(iso, now),
      absoluteTime,
      ignoreEnd,
      shortCount,
      plural,
      noun,
      pretty,
      prettyBody,
      queryRows,
      inline,
      requestPath,
      withQuery,
      tagSearch: (key: string, value: string) => {
        const term = SEARCHABLE_KEY.test(key) && key.toLowerCase() !== 'is' ? searchTerm(key, value) : null
        return term === null ? null : withQuery(ctx.base, { q: term })
      },
    },
  }
}

/** Renders a template into a full page response. */
export function renderPage(ctx: PanelContext, status: number, view: string, title: string, locals: Record<string, unknown>): void {
  sendHtml(ctx.res, status, ctx.views.render(view, { ...baseLocals(ctx, title), ...locals }))
}

/** The page for 400, 404, 405, 413, 415 and 500 answers. */
export function errorPage(ctx: PanelContext, status: number, heading: string, message: string): void {
  renderPage(ctx, status, 'error', heading, { status, heading, message })
}

/** 401 and 403: says why and how to configure `auth`. */
export function deniedPage(ctx: PanelContext, status: 401 | 403, reason: string): void {
  if (status === 401) ctx.res.setHeader('WWW-Authenticate', 'Basic realm="faultline", charset="UTF-8"')
  renderPage(ctx, status, 'denied', status === 401 ? 'Sign in required' : 'Access denied', { status, reason, locked: true, panelPath: ctx.options.panel ? ctx.options.panel.path : '/errors' })
}

/** The one-off line after a form post: what changed, or (warn) why nothing did. */
export interface Notice {
  text: string
  warn: boolean
}

function noticeFrom(ctx: PanelContext): Notice | null {
  const done = ctx.query.get('done')
  if (done === 'none') return { text: 'Tick at least one issue, then choose an action.', warn: true }
  if (!done || !Object.hasOwn(NOTICES, done)) return null
  const n = Number(ctx.query.get('n') ?? 1)
  const count = Number.isInteger(n) && n >= 0 && n <= 1000 ? n : 1
  const [one, many] = NOTICES[done]
  return { text: count === 1 ? `1 ${one}.` : `${count} ${many}.`, warn: false }
}

/** The list URL's own query, without the one-off notice, so actions can come back to it. */
export function listSearch(query: URLSearchParams): string {
  const keep = new URLSearchParams()
  for (const key of ['status', 'q', 'sort', 'cursor']) {
    const value = query.get(key)
    if (value) keep.set(key, value)
  }
  const s = keep.toString()
  return s ? `?${s}` : ''
}

/** GET / : the issue list with tabs, search, sort, paging, and a 24-hour chart per row. */
export async function listPage(ctx: PanelContext, csrf: string): Promise<void> {
  const { query, store, now } = ctx
  const q = (query.get('q') ?? '').slice(0, MAX_QUERY_LENGTH)
  const parsed = parseQuery(q)
  const rawStatus = query.get('status')
  const status: IssueStatus | 'all' = TABS.some((t) => t.status === rawStatus)
    ? (rawStatus as IssueStatus | 'all')
    : mentionsStatus(parsed) ? 'all' : 'unresolved'
  const rawSort = query.get('sort')
  const sort: IssueSort = SORTS.includes(rawSort as IssueSort) ? (rawSort as IssueSort) : 'lastSeen'
  const cursor = query.get('cursor') || null

  let page
  let counts
  try {
    ;[page, counts] = await Promise.all([
      store.listIssues({ status, q, sort, limit: PAGE_SIZE, cursor }),
      store.countIssues(q),
    ])
  } catch (err) {
    if (isBadInput(err)) return errorPage(ctx, 400, 'This page link is not valid', `${err.message}. Start again from the first page.`)
    throw err
  }
  const histograms = await Promise.all(page.issues.map((issue) => store.histogram(issue.id, { interval: 'hour', buckets: 24, now })))
  // Links name the status explicitly: without it, a query holding `is:` would pick its own default tab.
  const state = { status, q: q || null, sort: sort === 'lastSeen' ? null : sort }
  const rows = page.issues.map((issue, i) => ({
    issue,
    href: `${ctx.base}/issues/${encodeURIComponent(issue.id)}`,
    chart: barChart(histograms[i], { interval: 'hour', now, width: 120, height: 24 }),
    // "New" asks for a look: once resolved or ignored someone has looked, whatever its age.
    isNew: issue.status === 'unresolved' && now.getTime() - Date.parse(issue.firstSeen) < NEW_FOR_MS,
  }))
  renderPage(ctx, 200, 'list', q ? `${q} · Issues` : 'Issues', {
    csrf,
    notice: noticeFrom(ctx),
    q,
    problems: parsed.problems,
    placeholder: searchPlaceholder(ctx),
    elsewhere: q && page.issues.length === 0 && !cursor ? otherTab(counts, status, state, ctx.base) : null,
    status,
    sort,
    rows,
    tabs: TABS.map((t) => ({ ...t, count: counts[t.status], active: t.status === status, href: withQuery(ctx.base, { ...state, status: t.status }) })),
    sorts: SORTS.map((s) => ({ value: s, label: SORT_LABELS[s], active: s === sort })),
    back: listSearch(query),
    nextHref: page.nextCursor ? withQuery(ctx.base, { ...state, cursor: page.nextCursor }) : null,
    firstHref: cursor ? withQuery(ctx.base, state) : null,
    stats: ctx.stats?.() ?? null,
    // what the page's script polls for new issues and counts: this very page, as JSON, with the tab counts
    liveHref: withQuery(`${ctx.base}/api/issues`, { status, q, sort, limit: PAGE_SIZE, cursor, counts: 1 }),
    firstPage: cursor === null,
    since: now.toISOString(),
  })
}

/**
 * The search box's hint: only terms that work on this app. Its own environment and release are
 * values its issues have; a tag example would name a tag the app may never set.
 */
function searchPlaceholder(ctx: PanelContext): string {
  const terms = ['words', 'is:regressed', 'level:error', `environment:${ctx.options.environment}`]
  if (ctx.options.release) terms.push(`release:${ctx.options.release}`)
  terms.push('user.email:…')
  return `Search: ${terms.filter((t) => !/\s/.test(t)).join(', ')}`
}

/**
 * When this tab has nothing for the search but another status tab has matches, that tab (the one
 * with the most), so the page can say so instead of a bare "nothing here".
 */
function otherTab(counts: StatusCounts, status: IssueStatus | 'all', state: Record<string, string | null>, base: string): { label: string; count: number; href: string } | null {
  if (status === 'all') return null
  let best: { label: string; count: number; href: string } | null = null
  for (const tab of TABS) {
    if (tab.status === 'all' || tab.status === status || counts[tab.status] === 0) continue
    if (!best || counts[tab.status] > best.count) best = { label: tab.label.toLowerCase(), count: counts[tab.status], href: withQuery(base, { ...state, status: tab.status }) }
  }
  return best
}

type Frame = NonNullable<ExceptionInfo['stacktrace']>['frames'][number]
export interface ShownFrame extends Frame {
  /** the source context starts open: the newest in-app frame that has some */
  open: boolean
  /** how many frames were dropped just below this one (older calls), 0 for none */
  omittedBelow: number
}

/** One exception of an event's chain as the page shows it. */
export interface ChainLink {
  exception: Omit<ExceptionInfo, 'causes'>
  /** newest call first (as Node prints them), without the frames in common with the error above */
  frames: ShownFrame[]
  /** the outermost frames this one shares with the error above, shown there and not again */
  common: number
  /** the frames as the view shows them: see groupFrames */
  groups: Array<FrameGroup<ShownFrame>>
}

/**
 * The exception and its causes, outermost first, each with frames newest call first (as Node
 * prints them), grouped as the stack view shows them.
 */
export function exceptionChain(event: FaultlineEvent, view: StackView = 'app'): ChainLink[] {
  if (!event.exception) return []
  const chain: Array<Omit<ExceptionInfo, 'causes'>> = [event.exception, ...(event.exception.causes ?? [])]
  return chain.map((exception, i) => {
    const stored = exception.stacktrace?.frames ?? []
    const omitted = exception.stacktrace?.frames_omitted
    const common = i > 0 ? framesInCommon(chain[i - 1].stacktrace?.frames ?? [], stored) : 0
    // frames_omitted names [start, end) of the original stack; the stored list jumps from start-1 to start.
    const frames: ShownFrame[] = stored.map((frame, index) => ({
      ...frame,
      open: false,
      omittedBelow: omitted && index === omitted[0] && index > common ? omitted[1] - omitted[0] : 0,
    })).slice(common).reverse()
    const first = frames.find((f) => f.in_app && typeof f.context_line === 'string')
    if (first) first.open = true
    return { exception, frames, common, groups: groupFrames(frames, view) }
  })
}

function tagRows(tags: TagBreakdown[]): Array<TagBreakdown & { values: Array<{ value: string; count: number; share: number }> }> {
  return tags.map((tag) => ({
    ...tag,
    values: tag.values.map((v) => ({ ...v, share: tag.total > 0 ? Math.round((v.count / tag.total) * 1000) / 10 : 0 })),
  }))
}

async function issueOr404(ctx: PanelContext, id: string): Promise<Issue | null> {
  const issue = await ctx.store.getIssue(id)
  if (!issue) errorPage(ctx, 404, 'Issue not found', 'There is no issue with this id. It may have been deleted.')
  return issue
}

/**
 * The latest regression in the log, for the issue's header: when the issue had been resolved and
 * which release brought it back. Reads on from the first page when it is the one loaded (most
 * logs fit on it), else from the start; a bounded number of pages.
 */
async function lastRegression(store: Store, id: string, firstPage: ActivityPage | null): Promise<Activity | null> {
  const latestIn = (entries: Activity[], before: Activity | null) => entries.reduce<Activity | null>((last, a) => (a.kind === 'regressed' ? a : last), before)
  let found = firstPage ? latestIn(firstPage.activity, null) : null
  let cursor = firstPage ? firstPage.nextCursor : undefined
  for (let i = 0; cursor !== null && i < REGRESSION_SEARCH_PAGES; i++) {
    const page = await store.listActivity(id, { limit: ACTIVITY_PAGE, cursor })
    if (!page) break
    found = latestIn(page.activity, found)
    cursor = page.nextCursor
  }
  return found
}

/** GET /issues/:id and /issues/:id/events/:eventId : the issue with one event in full. */
export async function issuePage(ctx: PanelContext, id: string, eventId: string | null, csrf: string): Promise<void> {
  const { store, now, query } = ctx
  const view = stackView(query.get('view'))
  if (view === null) return errorPage(ctx, 400, 'This page link is not valid', `view must be one of ${STACK_VIEWS.join(', ')}.`)
  const issue = await issueOr404(ctx, id)
  if (!issue) return
  const event = eventId ? await store.getEvent(id, eventId) : (await store.listEvents(id, { limit: 1 })).events[0] ?? null
  if (eventId && !event) return errorPage(ctx, 404, 'Event not found', 'This issue has no stored event with this id. Older events are pruned by the retention settings.')
  const usersCursor = query.get('users') || null
  const activityCursor = query.get('activity') || null
  let loaded
  try {
    loaded = await Promise.all([
      store.histogram(id, { interval: 'hour', buckets: 24, now }),
      store.histogram(id, { interval: 'day', buckets: 30, now }),
      store.tagBreakdown(id, { limit: 5 }),
      event ? store.eventNeighbors(id, event.event_id) : Promise.resolve(null),
      eventId ? store.listEvents(id, { limit: 1 }).then((p) => p.events[0]?.event_id ?? null) : Promise.resolve(event?.event_id ?? null),
      storeHas(store, 'listUsers') ? store.listUsers(id, { limit: USERS_PAGE, cursor: usersCursor }) : undefined,
      storeHas(store, 'listActivity') ? store.listActivity(id, { limit: ACTIVITY_PAGE, cursor: activityCursor }) : undefined,
    ])
  } catch (err) {
    if (isBadInput(err)) return errorPage(ctx, 400, 'This page link is not valid', `${err.message}. Start again from the issue.`)
    throw err
  }
  const [hourly, daily, tags, neighbors, latest, users, activity] = loaded
  const regression = issue.regressed && activity ? await lastRegression(store, id, activityCursor ? null : activity) : null
  const issueHref = `${ctx.base}/issues/${encodeURIComponent(id)}`
  const eventHref = (eid: string) => `${issueHref}/events/${encodeURIComponent(eid)}`
  // paging through events keeps the stack view chosen
  const keepView = (href: string) => withQuery(href, { view: view === 'app' ? null : view })
  // paging links keep the event shown and the other list's place
  const here = eventId ? eventHref(eventId) : issueHref
  const chain = event ? exceptionChain(event, view) : []
  renderPage(ctx, 200, 'issue', issue.title, {
    csrf,
    // After an ignore the notice says when it ends: the form's choice is easy to get wrong.
    notice: ctx.query.get('done') === 'ignore' && issue.status === 'ignored' ? { text: `1 issue ignored ${ignoreEnd(issue)}.`, warn: false } : noticeFrom(ctx),
    issue,
    event,
    isLatest: event !== null && event.event_id === latest,
    chain,
    stackView: view,
    stackViews: STACK_VIEWS.map((v) => ({ view: v, href: `${withQuery(here, { view: v === 'app' ? null : v })}#stack`, active: v === view })),
    rawStack: view === 'raw' ? rawStack(chain.map((link) => link.exception)) : null,
    issueHref,
    eventsHref: `${issueHref}/events`,
    eventHref: event ? eventHref(event.event_id) : null,
    olderHref: neighbors?.older ? keepView(eventHref(neighbors.older)) : null,
    newerHref: neighbors?.newer ? keepView(eventHref(neighbors.newer)) : null,
    latestHref: eventId && latest && latest !== eventId ? keepView(issueHref) : null,
    hourly: barChart(hourly, { interval: 'hour', now, width: 480, height: 64, gap: 2 }),
    daily: barChart(daily, { interval: 'day', now, width: 480, height: 64, gap: 2 }),
    tags: tagRows(tags),
    nextRelease: currentRelease(ctx.options, issue),
    regression,
    // undefined: the store has no such list (the section says so); null: the issue was deleted
    // between the reads, and the page still shows what it had
    users: users === undefined ? null : users?.users ?? [],
    moreUsersHref: users?.nextCursor ? `${withQuery(here, { users: users.nextCursor, activity: activityCursor })}#users` : null,
    firstUsersHref: usersCursor ? `${withQuery(here, { activity: activityCursor })}#users` : null,
    activity: activity === undefined ? null : activity?.activity.map((entry) => ({
      ...entry,
      summary: describeActivity(entry),
      eventHref: entry.eventId ? eventHref(entry.eventId) : null,
    })) ?? [],
    moreActivityHref: activity?.nextCursor ? `${withQuery(here, { activity: activity.nextCursor, users: usersCursor })}#activity` : null,
    firstActivityHref: activityCursor ? `${withQuery(here, { users: usersCursor })}#activity` : null,
    noteMax: NOTE_MAX_LENGTH,
  })
}

/** GET /issues/:id/events : the issue's stored events, newest first, with cursor paging. */
export async function eventsPage(ctx: PanelContext, id: string): Promise<void> {
  const issue = await issueOr404(ctx, id)
  if (!issue) return
  const cursor = ctx.query.get('cursor') || null
  let page
  try {
    page = await ctx.store.listEvents(id, { limit: 50, cursor })
  } catch (err) {
    if (isBadInput(err)) return errorPage(ctx, 400, 'This page link is not valid', `${err.message}. Start again from the first page.`)
    throw err
  }
  const issueHref = `${ctx.base}/issues/${encodeURIComponent(id)}`
  renderPage(ctx, 200, 'events', `Events · ${issue.title}`, {
    issue,
    issueHref,
    caption: eventsCaption(page.events.length, issue.count, cursor === null, page.nextCursor === null),
    events: page.events.map((event) => ({ event, href: `${issueHref}/events/${encodeURIComponent(event.event_id)}` })),
    nextHref: page.nextCursor ? withQuery(`${issueHref}/events`, { cursor: page.nextCursor }) : null,
    firstHref: cursor ? `${issueHref}/events` : null,
  })
}

/**
 * What the events page shows, in words: 'Showing 10 of 10 events.'. An issue counts every event but
 * stores only the newest (retention) and none of those shed under load, so the two numbers may differ.
 */
export function eventsCaption(shown: number, total: number, firstPage: boolean, lastPage: boolean): string {
  const of = `${shown.toLocaleString('en-US')} of ${plural(total, 'event')}`
  if (!firstPage) return `Showing ${of}, older than the page before.`
  if (!lastPage) return `Showing the newest ${of}.`
  const missing = total - shown
  if (missing <= 0) return `Showing ${of}.`
  return `Showing ${of}: the other ${missing.toLocaleString('en-US')} were counted but not kept (only the newest are stored, and events shed under load are counted without details).`
}

/** For handlers that only have the response: a plain-text 500 when even the error page fails. */
export function lastResort(res: ServerResponse): void {
  if (res.headersSent) {
    res.end()
    return
  }
  res.statusCode = 500
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.end('faultline: the panel failed to answer; the error was reported to onInternalError.')
}
