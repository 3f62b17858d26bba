import { AlertCap, type HeldBack } from './cap.js'
import { slackEscape, slackText, type Alert, type AlertView } from './message.js'
import { DeliveryQueue } from './delivery-queue.js'
import type { Report } from '../../common/report-limiter.js'
import { HOUR } from '../../common/duration.js'
import { DEFAULT_ALERTS_PER_HOUR } from '../options.js'

/** The JSON a rule's webhook receives. `text` makes it postable to a Slack incoming webhook as it is. */
export interface WebhookPayload {
  text: string
  issue: {
    id: string
    title: string
    culprit: string
    level: string
    status: string
    count: number
    userCount: number
    firstSeen: string
    lastSeen: string
    environments: string[]
    url: string | null
  }
  event: {
    event_id: string
    timestamp: string
    level: string
    environment: string
    release: string | null
    type: string | null
    value: string | null
    transaction: string | null
    request: { method: string | null; url: string | null } | null
    tags: Record<string, string>
  }
  rule: { when: unknown; filter: unknown; reason: string; headline: string }
}

/** Builds the webhook body from an alert and its view (the view holds the trimmed strings). */
export function webhookPayload(alert: Alert, view: AlertView): WebhookPayload {
  const { issue, event } = alert
  return {
    text: slackText(view),
    issue: {
      id: issue.id,
      title: view.title,
      culprit: view.culprit,
      level: issue.level,
      status: issue.status,
      count: issue.count,
      userCount: issue.userCount,
      firstSeen: issue.firstSeen,
      lastSeen: issue.lastSeen,
      environments: issue.environments.slice(0, 20),
      url: view.url,
    },
    event: {
      event_id: event.event_id,
      timestamp: event.timestamp,
      level: event.level,
      environment: event.environment,
      release: event.release ?? null,
      type: event.exception?.type ?? null,
      value: event.exception?.value?.slice(0, 1000) ?? event.message?.slice(0, 1000) ?? null,
      transaction: event.transaction ?? null,
      request: event.request ? { method: event.request.method ?? null, url: event.request.url?.slice(0, 2000) ?? null } : null,
      tags: Object.fromEntries(view.tags),
    },
    rule: { when: alert.rule.when, filter: alert.rule.filter, reason: view.reason, headline: view.headline },
  }
}

/** Thrown for a non-2xx answer; 4xx (but 408 and 429) are permanent. */
class WebhookError extends Error {
  constructor(readonly status: number) {
    super(`the endpoint answered HTTP ${status}`)
  }
}

function isPermanent(err: unknown): boolean {
  return err instanceof WebhookError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429
}

/** POSTs JSON to `url`; resolves on a 2xx, throws otherwise. The signal bounds the whole exchange. */
export async function postJson(url: string, body: unknown, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'faultline' },
    body: JSON.stringify(body),
    redirect: 'error',
    signal,
  })
  // read the body so the connection is released, but never more than needed
  await res.body?.cancel().catch(() => {})
  if (res.status < 200 || res.status >= 300) throw new WebhookError(res.status)
}

/** How webhooks pace themselves; tests shorten these. */
export interface WebhookTuning {
  timeoutMs: number
  tries: number
  backoffMs: number
  maxQueue: number
  maxPerHour: number
  periodMs: number
}

export const DEFAULT_WEBHOOK_TUNING: WebhookTuning = { timeoutMs: 5000, tries: 3, backoffMs: 1000, maxQueue: 50, maxPerHour: DEFAULT_ALERTS_PER_HOUR, periodMs: HOUR }

interface Endpoint {
  queue: DeliveryQueue<unknown>
  cap: AlertCap<AlertView>
}

/**
 * Posts alerts to webhooks in the background. Each URL has its own queue (a slow endpoint holds up
 * only itself), its own retries and its own hourly cap, whose overflow becomes one summary post.
 */
export class WebhookSender {
  #tuning: WebhookTuning
  #report: Report
  #appName: string
  #endpoints = new Map<string, Endpoint>()

  constructor(opts: { appName: string; report: Report; tuning?: Partial<WebhookTuning> }) {
    this.#tuning = { ...DEFAULT_WEBHOOK_TUNING, ...opts.tuning }
    this.#report = opts.report
    this.#appName = opts.appName
  }

  get pending(): number {
    let n = 0
    for (const e of this.#endpoints.values()) n += e.queue.pending
    return n
  }

  send(url: string, alert: Alert, view: AlertView): void {
    const endpoint = this.#endpoint(url)
    if (!endpoint.cap.take(view)) return
    endpoint.queue.push(webhookPayload(alert, view), `"${view.subject}" to ${new URL(url).host}`)
  }

  async idle(timeoutMs?: number): Promise<boolean> {
    const results = await Promise.all([...this.#endpoints.values()].map((e) => e.queue.idle(timeoutMs)))
    return results.every(Boolean)
  }

  async close(timeoutMs: number): Promise<void> {
    for (const e of this.#endpoints.values()) e.cap.summarizeNow()
    await this.idle(timeoutMs)
    for (const e of this.#endpoints.values()) e.queue.close()
  }

  #endpoint(url: string): Endpoint {
    let endpoint = this.#endpoints.get(url)
    if (endpoint) return endpoint
    const t = this.#tuning
    const host = new URL(url).host
    const queue = new DeliveryQueue<unknown>((body, signal) => postJson(url, body, signal), {
      name: `webhook to ${host}`,
      maxQueue: t.maxQueue,
      concurrency: 1,
      tries: t.tries,
      backoffMs: t.backoffMs,
      attemptTimeoutMs: t.timeoutMs,
      isPermanent,
      report: this.#report,
    })
    const cap = new AlertCap<AlertView>({
      max: t.maxPerHour,
      periodMs: t.periodMs,
      keep: 10,
      // one URL is one audience, so its held-back alerts are not grouped: one summary post
      onSummary: ([held]) => queue.push(this.#summary(held), `summary of ${held.total} alerts`),
    })
    endpoint = { queue, cap }
    this.#endpoints.set(url, endpoint)
    return endpoint
  }

  #summary(held: HeldBack<AlertView>): { text: string; summary: { total: number; from: string; until: string; issues: unknown[] } } {
    const lines = held.items.map((v) => `• ${slackEscape(v.headline)}: ${slackEscape(v.title.slice(0, 200))}${v.url && !v.urlIsRelative ? ` <${v.url}|view>` : ''}`)
    const more = held.total - held.items.length
    if (more > 0) lines.push(`… and ${more} more`)
    return {
      text: `*[${slackEscape(this.#appName)}] ${held.total} more alerts held back by the hourly limit*\n${lines.join('\n')}`,
      summary: {
        total: held.total,
        from: held.from.toISOString(),
        until: held.until.toISOString(),
        issues: held.items.map((v) => ({ id: v.issueId, title: v.title, headline: v.headline, url: v.url })),
      },
    }
  }
}
