/**
 * The admin panel: a framework-neutral handler on Node's own request and response. The Express and
 * Koa glue decide that a request belongs to the panel and hand it here with where the panel lives.
 *
 * Order of checks: assets (public, harmless) -> access (auth, or local development only) -> routes.
 * GET never changes anything; changes are form posts (origin + CSRF checked) or API writes (JSON only).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedOptions } from '../options.js'
import { limitReports, type Report } from '../../common/report-limiter.js'
import type { Store } from '../types.js'
import { guardStore, StoreUnavailableError } from './store-guard.js'
import { checkAccess, csrfToken, newNonce, setSecurityHeaders, type AccessResult } from './access.js'
import { bulkAction, issueAction, noteAction } from './actions.js'
import { rulesPage } from './rules-page.js'
import { handleApi } from './api.js'
import { isValidId, splitPath, type PanelContext } from './context.js'
import { deniedPage, errorPage, eventsPage, issuePage, lastResort, listPage } from './pages.js'
import { loadViews } from './render.js'
import { sendAsset, sendJsonError } from './reply.js'
import type { PanelAuth, TrackerStats } from '../types.js'
import { reportedError } from '../reported-error.js'

export interface Panel {
  /**
   * Serves one panel request and always ends the response. `basePath` is the absolute URL path of
   * the panel root as the browser sees it (e.g. '/errors', or '/admin/errors' under a router);
   * `path` is the rest ('/', '/issues/abc', '/api/issues'); `search` is the raw query string with '?' or ''.
   */
  handle(req: IncomingMessage, res: ServerResponse, where: PanelWhere): Promise<void>
}

/** Where a panel request sits, as the framework glue sees it. */
export interface PanelWhere {
  basePath: string
  path: string
  search: string
  /** what an `auth` function receives: Express's req (with req.session), Koa's ctx (with ctx.session); default req */
  authSubject?: unknown
}

const READ = new Set(['GET', 'HEAD'])

/** Creates the panel over a store; templates are compiled here, once. `stats`: the serving tracker's counts. */
export function createPanel(opts: { store: Store; options: ResolvedOptions; stats?: () => TrackerStats }): Panel {
  if (!opts || typeof opts.store?.listIssues !== 'function') throw new TypeError('createPanel needs { store, options }: store must be a faultline store')
  if (!opts.options || typeof opts.options.onInternalError !== 'function') throw new TypeError('createPanel needs { store, options }: options must come from resolveOptions()')
  const { options } = opts
  const store = guardStore(opts.store)
  const views = loadViews()
  const auth = options.panel ? options.panel.auth : null
  // a store that is down fails every page an admin opens (and every refresh): said once per kind
  // every 10 s with a count, as the tracker says its other repeating failures
  const report = limitReports((err) => options.onInternalError(reportedError(err)))

  return {
    async handle(req, res, where) {
      const ctx: PanelContext = {
        req,
        res,
        store,
        options,
        views,
        base: where.basePath.replace(/\/+$/, ''),
        segments: [],
        query: new URLSearchParams(where.search.startsWith('?') ? where.search.slice(1) : where.search),
        method: (req.method ?? 'GET').toUpperCase(),
        nonce: newNonce(),
        now: new Date(),
        stats: opts.stats ?? null,
      }
      try {
        setSecurityHeaders(res, ctx.nonce)
        await route(ctx, where.path, auth, where.authSubject ?? req, report)
      } catch (err) {
        const unavailable = err instanceof StoreUnavailableError
        report(err instanceof Error ? err : new Error(String(err)), unavailable ? 'store' : 'panel')
        try {
          if (res.headersSent) res.end()
          else if (unavailable && ctx.segments[0] === 'api') sendJsonError(res, 503, 'The store is unavailable; try again shortly.')
          else if (unavailable) errorPage(ctx, 503, 'Store unavailable', 'faultline cannot reach its store right now. Your app keeps running, and errors it captures wait in a queue until the store is back. The details went to onInternalError.')
          else if (ctx.segments[0] === 'api') sendJsonError(res, 500, 'faultline could not answer; the error was reported.')
          else errorPage(ctx, 500, 'Something went wrong', 'faultline could not render this page. The error was reported to onInternalError.')
        } catch {
          lastResort(res)
        }
      }
    },
  }
}

async function route(ctx: PanelContext, path: string, auth: PanelAuth | null, authSubject: unknown, report: Report): Promise<void> {
  const segments = splitPath(path)
  if (segments === null) return errorPage(ctx, 404, 'Page not found', 'This address is not part of the panel.')
  ctx.segments = segments
  const [first, second, third, fourth, ...rest] = segments

  // The stylesheet and script are public: the 401/403 pages need them too, and they hold no data.
  if ((first === 'panel.css' || first === 'panel.js') && segments.length === 1 && READ.has(ctx.method)) {
    const asset = ctx.views.asset(first)
    if (asset) return sendAsset(ctx.res, asset, ctx.query.get('v') === asset.version)
  }

  const access: AccessResult = await checkAccess(ctx.req, auth, ctx.options.environment, (err) => report(err, 'auth'), authSubject)
  if (!access.ok) {
    if (first === 'api') {
      if (access.status === 401) ctx.res.setHeader('WWW-Authenticate', 'Basic realm="faultline", charset="UTF-8"')
      return sendJsonError(ctx.res, access.status, access.status === 401 ? 'Credentials required.' : 'Access to the faultline panel is denied; configure panel.auth.')
    }
    return deniedPage(ctx, access.status, access.reason)
  }

  if (first === 'api') return handleApi(ctx, segments.slice(1))

  const read = READ.has(ctx.method)
  const post = ctx.method === 'POST'
  if (first === undefined) {
    if (read) return listPage(ctx, csrfToken(ctx.req, ctx.res, ctx.base))
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (first === 'rules' && second === undefined) {
    if (read) return rulesPage(ctx)
    return notAllowed(ctx, 'GET, HEAD')
  }
  if (first === 'bulk' && second === undefined) {
    if (post) return bulkAction(ctx)
    return notAllowed(ctx, 'POST')
  }
  if (first === 'issues' && isValidId(second) && rest.length === 0) {
    if (third === undefined) {
      if (read) return issuePage(ctx, second, null, csrfToken(ctx.req, ctx.res, ctx.base))
      if (post) return issueAction(ctx, second)
      return notAllowed(ctx, 'GET, HEAD, POST')
    }
    if (third === 'notes' && fourth === undefined) {
      if (post) return noteAction(ctx, second)
      return notAllowed(ctx, 'POST')
    }
    if (third === 'events' && fourth === undefined) {
      if (read) return eventsPage(ctx, second)
      return notAllowed(ctx, 'GET, HEAD')
    }
    if (third === 'events' && isValidId(fourth)) {
      if (read) return issuePage(ctx, second, fourth, csrfToken(ctx.req, ctx.res, ctx.base))
      return notAllowed(ctx, 'GET, HEAD')
    }
  }
  if (first === 'issues' && second !== undefined) return errorPage(ctx, 404, 'Not found', 'There is no issue or event at this address.')
  return errorPage(ctx, 404, 'Page not found', 'This address is not part of the panel.')
}

function notAllowed(ctx: PanelContext, allow: string): void {
  ctx.res.setHeader('Allow', allow)
  errorPage(ctx, 405, 'Method not allowed', `This address answers ${allow}.`)
}
