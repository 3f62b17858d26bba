import { createTransport } from 'nodemailer'
import { AlertCap, type HeldBack } from './cap.js'
import { renderAlertEmail, renderSummaryEmail, type FoldedAlert, type RenderedEmail } from './email.js'
import type { AlertView } from './message.js'
import { DeliveryQueue } from './delivery-queue.js'
import type { Report } from '../../common/report-limiter.js'
import type { ResolvedMail } from '../options.js'
import { HOUR } from '../../common/duration.js'

/** The part of a nodemailer transporter faultline uses. */
export interface MailTransporter {
  sendMail(message: Record<string, unknown>): Promise<unknown>
  close?(): void
}

/** Timeouts that nodemailer leaves at minutes by default; a hanging server must not hold a send that long. */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

/** How the mailer paces itself; tests shorten these. */
export interface MailerTuning {
  tries: number
  backoffMs: number
  maxQueue: number
  concurrency: number
  /** the cap's period: an hour */
  periodMs: number
  /** overrides the guard derived from the transport's timeouts */
  attemptTimeoutMs?: number
}

export const DEFAULT_MAILER_TUNING: MailerTuning = { tries: 3, backoffMs: 1000, maxQueue: 50, concurrency: 2, periodMs: HOUR }

function hasFunction(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[name] === 'function'
}

/**
 * Makes a transporter from `mail.transport`: a ready transporter (anything with `sendMail`) is used
 * as it is and left open; a transport plugin (with `send`), transport options or an SMTP URL get a
 * nodemailer transporter with explicit timeouts, which faultline owns and closes.
 */
export function createTransporter(transport: unknown): { transporter: MailTransporter; owned: boolean; attemptTimeoutMs: number } {
  if (hasFunction(transport, 'sendMail')) return { transporter: transport as MailTransporter, owned: false, attemptTimeoutMs: 60_000 }
  if (hasFunction(transport, 'send')) {
    return { transporter: createTransport(transport as never) as unknown as MailTransporter, owned: true, attemptTimeoutMs: 60_000 }
  }
  // options in a URL's query (?socketTimeout=5000) win over these defaults, as nodemailer merges them
  const options: Record<string, unknown> = typeof transport === 'string'
    ? { ...SMTP_TIMEOUTS, url: transport }
    : { ...SMTP_TIMEOUTS, ...(transport as Record<string, unknown>) }
  const transporter = createTransport(options as never) as unknown as MailTransporter & { options?: Record<string, unknown> }
  const t = { ...SMTP_TIMEOUTS, ...(transporter as { transporter?: { options?: Record<string, number> } }).transporter?.options }
  // the whole attempt is bounded too, whatever a slow-trickling server does to the socket timeout
  const attemptTimeoutMs = Number(t.connectionTimeout) + Number(t.greetingTimeout) + 3 * Number(t.socketTimeout)
  return { transporter, owned: true, attemptTimeoutMs: Number.isFinite(attemptTimeoutMs) ? attemptTimeoutMs : 110_000 }
}

/** An SMTP reply in the 5xx range will not change on retry (bad recipient, auth refused). */
function isPermanent(err: unknown): boolean {
  const code = (err as { responseCode?: unknown })?.responseCode
  return typeof code === 'number' && code >= 500 && code < 600
}

interface Outgoing {
  to: string[]
  email: RenderedEmail
  issueId: string | null
}

/** Names a recipient list by its addresses, so the same people in another order are one list. */
function recipientsKey(to: string[]): string {
  return JSON.stringify([...new Set(to)].sort())
}

/**
 * Sends alert emails in the background: renders them, caps them per hour (the rest fold into one
 * summary per recipient list), queues them with a bound, and retries with backoff. `send` never
 * blocks or throws.
 */
export class Mailer {
  #mail: ResolvedMail
  #appName: string
  #panelUrl: string | null
  #report: Report
  #transporter: MailTransporter
  #owned: boolean
  #queue: DeliveryQueue<Outgoing>
  #cap: AlertCap<FoldedAlert>
  #dropped = 0
  /** summaries sent, for tests and stats */
  summaries = 0

  constructor(opts: { mail: ResolvedMail; appName: string; panelUrl: string | null; report: Report; tuning?: Partial<MailerTuning> }) {
    const tuning = { ...DEFAULT_MAILER_TUNING, ...opts.tuning }
    this.#mail = opts.mail
    this.#appName = opts.appName
    this.#panelUrl = opts.panelUrl
    this.#report = opts.report
    const { transporter, owned, attemptTimeoutMs } = createTransporter(opts.mail.transport)
    this.#transporter = transporter
    this.#owned = owned
    this.#queue = new DeliveryQueue<Outgoing>((job, signal) => this.#deliver(job, signal), {
      name: 'alert email',
      maxQueue: tuning.maxQueue,
      concurrency: tuning.concurrency,
      tries: tuning.tries,
      backoffMs: tuning.backoffMs,
      attemptTimeoutMs: tuning.attemptTimeoutMs ?? attemptTimeoutMs,
      isPermanent,
      report: opts.report,
    })
    this.#cap = new AlertCap<FoldedAlert>({
      max: opts.mail.maxPerHour,
      periodMs: tuning.periodMs,
      keep: 50,
      onSummary: (groups) => this.#sendSummaries(groups),
    })
  }

  /** Emails waiting, in flight or waiting to retry. */
  get pending(): number {
    return this.#queue.pending
  }

  get stats(): { delivered: number; failed: number; dropped: number; held: number; summaries: number } {
    return { delivered: this.#queue.delivered, failed: this.#queue.failed, dropped: this.#queue.dropped, held: this.#cap.held, summaries: this.summaries }
  }

  /** Queues the alert for `to`, or folds it into the summary for `to` when the hourly cap is reached. */
  send(view: AlertView, to: string[]): void {
    const folded: FoldedAlert = { headline: view.headline, title: view.title.slice(0, 200), url: view.url, count: view.count, environment: view.environment }
    if (!this.#cap.take(folded, recipientsKey(to))) return
    this.#queue.push({ to, email: renderAlertEmail(view), issueId: view.issueId }, `"${view.subject}" to ${to.join(', ')}`)
  }

  /** Counts events that were never checked against the rules (queue full); the summary says so. */
  noteDropped(n: number): void {
    this.#dropped += n
  }

  idle(timeoutMs?: number): Promise<boolean> {
    return this.#queue.idle(timeoutMs)
  }

  /** Sends the pending summary, waits for the queue up to `timeoutMs`, then drops the rest. */
  async close(timeoutMs: number): Promise<void> {
    this.#cap.summarizeNow()
    await this.#queue.idle(timeoutMs)
    this.#queue.close()
    if (this.#owned) {
      try {
        this.#transporter.close?.()
      } catch (err) {
        this.#report(err as Error)
      }
    }
  }

  /**
   * Sends one summary per recipient list, to that list only: a summary names alerts, and nobody may
   * learn from it of an alert that was not addressed to them. Events dropped unchecked could have
   * fired any rule, so every summary counts them.
   */
  #sendSummaries(groups: Array<HeldBack<FoldedAlert>>): void {
    const dropped = this.#dropped
    this.#dropped = 0
    for (const held of groups) {
      try {
        const to = JSON.parse(held.group) as string[]
        const email = renderSummaryEmail({
          appName: this.#appName,
          subjectPrefix: this.#mail.subjectPrefix,
          total: held.total,
          items: held.items,
          dropped,
          maxPerHour: this.#mail.maxPerHour,
          from: held.from,
          until: held.until,
          panelUrl: this.#panelUrl,
        })
        this.summaries++
        this.#queue.push({ to, email, issueId: null }, `summary of ${held.total} alerts to ${to.join(', ')}`)
      } catch (err) {
        this.#report(err as Error)
      }
    }
  }

  async #deliver(job: Outgoing, signal: AbortSignal): Promise<void> {
    await this.#transporter.sendMail({
      from: this.#mail.from,
      to: job.to,
      subject: job.email.subject,
      text: job.email.text,
      html: job.email.html,
      headers: {
        // keeps vacation responders and ticket systems from answering alerts
        'Auto-Submitted': 'auto-generated',
        ...(job.issueId ? { 'X-Faultline-Issue': job.issueId } : {}),
      },
      // nothing in an alert is an attachment; never let message content reach files or URLs
      disableFileAccess: true,
      disableUrlAccess: true,
      signal,
    })
  }
}
