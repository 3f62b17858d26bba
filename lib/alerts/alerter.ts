import { alertView, type Alert } from './message.js'
import { Mailer, type MailerTuning } from './mailer.js'
import type { ResolvedOptions, ResolvedRule } from '../options.js'
import { limitReports, type Report } from '../../common/report-limiter.js'
import { decide, recipientsOf, ruleKeys, throttleKey, type Firing } from './rules.js'
import type { FaultlineEvent, RecordResult, Store } from '../types.js'
import { WebhookSender, type WebhookTuning } from './webhook.js'
import { DEFAULT_ALERTS_PER_HOUR } from '../options.js'
import { IdleWaiters } from '../idle-waiters.js'

/** Decides alerts for recorded events and hands them to the mail transport and webhooks. */
export interface Alerter {
  /** Called by the tracker after each event is stored. Must return at once and never throw. */
  onRecorded(result: RecordResult, event: FaultlineEvent): void
  /** Resolves true once every alert decided so far was handed to the mail transport / webhook (or given up). */
  flush(timeoutMs?: number): Promise<boolean>
  close(): Promise<void>
  readonly stats: AlerterStats
}

/** Counters that show the alerter stays bounded under load. */
export interface AlerterStats {
  /** events waiting to be checked against the store (claims, windows) */
  pendingChecks: number
  /** events not checked because too many were waiting */
  droppedChecks: number
  /** alerts decided (claimed) so far */
  fired: number
  mail: { pending: number; delivered: number; failed: number; dropped: number; held: number; summaries: number } | null
  webhooks: { pending: number }
}

/** Knobs for tests: shorter periods and backoffs than a real deployment wants. */
export interface AlerterTuning {
  /** events waiting for their store checks beyond this are dropped (and counted) */
  maxPendingChecks: number
  /** checks in flight at once */
  checkConcurrency: number
  /** remembered claims, so thresholds already sent cost no store round trip per event */
  claimCacheSize: number
  closeTimeoutMs: number
  mail: Partial<MailerTuning>
  webhook: Partial<WebhookTuning>
}

const DEFAULT_TUNING: AlerterTuning = { maxPendingChecks: 1000, checkConcurrency: 8, claimCacheSize: 20_000, closeTimeoutMs: 5000, mail: {}, webhook: {} }

interface Candidate {
  rule: ResolvedRule
  ruleKey: string
  firing: Firing
}

interface Check {
  result: RecordResult
  event: FaultlineEvent
  candidates: Candidate[]
  at: number
}

const KEEP_FRAMES = 10

/**
 * The part of an event an alert shows. A waiting check holds this rather than the event, whose
 * breadcrumbs, extra and source context could weigh hundreds of kilobytes: the check queue stays small.
 */
export function slimEvent(event: FaultlineEvent): FaultlineEvent {
  const exception = event.exception
  const frames = exception?.stacktrace?.frames ?? []
  const inApp = frames.filter((f) => f.in_app)
  const kept = (inApp.length ? inApp : frames).slice(-KEEP_FRAMES).map((f) => ({
    function: f.function, filename: f.filename, abs_path: f.abs_path, lineno: f.lineno, colno: f.colno, in_app: f.in_app,
    context_line: f.context_line?.slice(0, 300),
  }))
  const request = event.request
  return {
    event_id: event.event_id,
    timestamp: event.timestamp,
    level: event.level,
    exception: exception ? { type: exception.type, value: exception.value?.slice(0, 1000), stacktrace: { frames: kept } } : undefined,
    message: event.message?.slice(0, 1000),
    tags: Object.fromEntries(Object.entries(event.tags ?? {}).slice(0, 30)),
    extra: {},
    user: event.user ? { id: event.user.id, email: event.user.email, username: event.user.username, ip_address: event.user.ip_address } : undefined,
    request: request ? { method: request.method, url: request.url?.slice(0, 2000) } : undefined,
    contexts: {},
    breadcrumbs: [],
    environment: event.environment,
    release: event.release,
    server_name: event.server_name,
    fingerprint: [],
    transaction: event.transaction,
  }
}

/**
 * Remembers claims this process made or saw refused. A threshold that was sent stays claimed for
 * good, so later events of a busy issue skip the store; refused claims that can lapse (windows,
 * throttles) are remembered briefly, as another instance holds them for a time we do not know.
 */
class ClaimCache {
  #until = new Map<string, number>()
  #max: number
  constructor(max: number) {
    this.#max = max
  }
  held(key: string, now: number): boolean {
    const until = this.#until.get(key)
    if (until === undefined) return false
    if (until > now) return true
    this.#until.delete(key)
    return false
  }
  remember(key: string, until: number): void {
    this.#until.delete(key)
    this.#until.set(key, until)
    // oldest first: Map keeps insertion order
    if (this.#until.size > this.#max) this.#until.delete(this.#until.keys().next().value as string)
  }
}

class RuleAlerter implements Alerter {
  #store: Store
  #options: ResolvedOptions
  #tuning: AlerterTuning
  #rules: Array<{ rule: ResolvedRule; ruleKey: string }>
  #report: Report
  #claims: ClaimCache
  #checks: Check[] = []
  #workers = 0
  #checksIdle = new IdleWaiters()
  #mailer: Mailer | null
  #webhooks: WebhookSender
  #closed = false
  #droppedChecks = 0
  #fired = 0

  constructor(store: Store, options: ResolvedOptions, tuning: AlerterTuning) {
    this.#store = store
    this.#options = options
    this.#tuning = tuning
    const keys = ruleKeys(options.rules)
    this.#rules = options.rules.map((rule, i) => ({ rule, ruleKey: keys[i] }))
    this.#report = limitReports(options.onInternalError)
    this.#claims = new ClaimCache(tuning.claimCacheSize)
    const panelUrl = options.panel ? `${options.mail?.baseUrl ?? ''}${options.panel.path}` : null
    this.#mailer = options.mail
      ? new Mailer({ mail: options.mail, appName: options.appName, panelUrl, report: this.#report, tuning: tuning.mail })
      : null
    this.#webhooks = new WebhookSender({
      appName: options.appName,
      report: this.#report,
      tuning: { maxPerHour: options.mail?.maxPerHour ?? DEFAULT_ALERTS_PER_HOUR, ...tuning.webhook },
    })
  }

  get stats(): AlerterStats {
    return {
      pendingChecks: this.#checks.length,
      droppedChecks: this.#droppedChecks,
      fired: this.#fired,
      mail: this.#mailer ? { pending: this.#mailer.pending, ...this.#mailer.stats } : null,
      webhooks: { pending: this.#webhooks.pending },
    }
  }

  onRecorded(result: RecordResult, event: FaultlineEvent): void {
    try {
      if (this.#closed || this.#rules.length === 0) return
      const now = Date.now()
      const candidates: Candidate[] = []
      for (const { rule, ruleKey } of this.#rules) {
        const firing = decide(rule, ruleKey, result, event)
        if (!firing || this.#claims.held(firing.key, now)) continue
        if (rule.throttleMs !== null && this.#claims.held(throttleKey(ruleKey, result.issue.id), now)) continue
        candidates.push({ rule, ruleKey, firing })
      }
      if (candidates.length === 0) return
      if (this.#checks.length >= this.#tuning.maxPendingChecks) {
        this.#droppedChecks++
        this.#mailer?.noteDropped(1)
        this.#report(new Error(`alert checks are backed up (${this.#checks.length} waiting); an event of issue ${result.issue.id} was not checked against the rules`), 'checks: full')
        return
      }
      this.#checks.push({ result, event: slimEvent(event), candidates, at: now })
      this.#startWorkers()
    } catch (err) {
      this.#report(err as Error)
    }
  }

  async flush(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    const left = (): number => Math.max(0, deadline - Date.now())
    if (!(await this.#checksDone(left()))) return false
    const [mail, hooks] = await Promise.all([this.#mailer?.idle(left()) ?? true, this.#webhooks.idle(left())])
    return mail && hooks
  }

  async close(): Promise<void> {
    if (this.#closed) return
    const timeout = this.#tuning.closeTimeoutMs
    await this.#checksDone(timeout)
    this.#closed = true
    await Promise.all([this.#mailer?.close(timeout), this.#webhooks.close(timeout)])
  }

  /**
   * Works through the waiting checks with a few workers: claims are atomic in the store, so checks
   * may overlap, and several in flight keep up with a tracker that records several events at once.
   */
  #startWorkers(): void {
    while (this.#workers < this.#tuning.checkConcurrency && this.#workers < this.#checks.length) {
      this.#workers++
      void this.#worker()
    }
  }

  async #worker(): Promise<void> {
    try {
      while (this.#checks.length) {
        const check = this.#checks.shift()!
        for (const candidate of check.candidates) {
          try {
            await this.#check(check, candidate)
          } catch (err) {
            this.#report(new Error(`alert rule check failed for issue ${check.result.issue.id}: ${(err as Error)?.message ?? String(err)}`), 'checks: failed')
          }
        }
      }
    } finally {
      this.#workers--
      if (this.#workers === 0 && this.#checks.length === 0) this.#checksIdle.settle()
    }
  }

  #checksDone(timeoutMs: number): Promise<boolean> {
    if (this.#workers === 0 && this.#checks.length === 0) return Promise.resolve(true)
    return this.#checksIdle.wait(timeoutMs)
  }

  async #check(check: Check, { rule, ruleKey, firing }: Candidate): Promise<void> {
    const issue = check.result.issue
    const now = Date.now()
    // an earlier check in this batch may have claimed it already
    if (this.#claims.held(firing.key, now)) return
    if (firing.withinMs !== undefined) {
      const count = await this.#store.countEventsSince(issue.id, new Date(check.at - firing.withinMs))
      if (count < (firing.events ?? 0)) return
      firing = { ...firing, windowCount: count }
    }
    if (!(await this.#claim(firing.key, issue.id, firing.expiresInMs))) return
    if (rule.throttleMs !== null && !(await this.#claim(throttleKey(ruleKey, issue.id), issue.id, rule.throttleMs))) return
    this.#fired++
    this.#dispatch({ rule, firing, issue, event: check.event, at: new Date(check.at) })
    await this.#noteFired(ruleKey, new Date(check.at))
  }

  /** Tells the store the rule fired, for the panel's rules page; the alert went out whatever happens here. */
  async #noteFired(ruleKey: string, at: Date): Promise<void> {
    try {
      // a store written before rule firings were kept has no noteRuleFired
      if (typeof this.#store.noteRuleFired === 'function') await this.#store.noteRuleFired(ruleKey, at)
    } catch (err) {
      this.#report(new Error(`could not note that alert rule ${ruleKey} fired: ${(err as Error)?.message ?? String(err)}`), 'rules: note fired')
    }
  }

  async #claim(key: string, issueId: string, expiresInMs?: number): Promise<boolean> {
    const now = Date.now()
    const expiresAt = expiresInMs === undefined ? undefined : new Date(now + expiresInMs)
    const won = await this.#store.claimAlert(key, expiresAt ? { issueId, expiresAt } : { issueId })
    const until = expiresInMs === undefined ? Infinity : won ? now + expiresInMs : now + Math.min(expiresInMs, 10_000)
    this.#claims.remember(key, until)
    return won
  }

  #dispatch(alert: Alert): void {
    const view = alertView(alert, this.#options)
    if (alert.rule.email && this.#mailer) this.#mailer.send(view, recipientsOf(alert.rule, this.#options.mail))
    if (alert.rule.webhook) this.#webhooks.send(alert.rule.webhook, alert, view)
  }
}

/** Makes the alerter the tracker calls after each stored event. */
export function createAlerter(opts: { store: Store; options: ResolvedOptions; tuning?: Partial<AlerterTuning> }): Alerter & { readonly stats: AlerterStats } {
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning }
  return new RuleAlerter(opts.store, opts.options, tuning)
}

