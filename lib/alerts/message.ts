import type { ResolvedOptions, ResolvedRule } from '../options.js'
import type { Firing } from './rules.js'
import type { FaultlineEvent, Issue } from '../types.js'
import { formatDuration } from '../../common/duration.js'
import { plural } from '../panel/format.js'

/** One decided alert: the rule that fired, why, and the issue and event it fired for. */
export interface Alert {
  rule: ResolvedRule
  firing: Firing
  issue: Issue
  event: FaultlineEvent
  at: Date
}

/** A frame as the email shows it. */
export interface FrameView {
  function: string
  location: string
  line: string
}

/** Everything an alert shows, as plain strings: the templates, webhooks and summaries read this. */
export interface AlertView {
  appName: string
  subject: string
  /** 'New issue', 'Regression', '100 events', '50 events in 1h', '100 users' */
  headline: string
  /** why the rule fired, one sentence */
  reason: string
  /** the rule as written, e.g. `{ when: { events: 100 } }` */
  ruleText: string
  title: string
  culprit: string
  level: string
  issueId: string
  /** a link to the issue in the panel, or null when the panel is off */
  url: string | null
  /** true when `url` is only a path because `mail.baseUrl` is not set */
  urlIsRelative: boolean
  count: number
  userCount: number
  firstSeen: string
  lastSeen: string
  environment: string
  release: string
  serverName: string
  requestLine: string
  transaction: string
  frames: FrameView[]
  framesAreInApp: boolean
  tags: Array<[string, string]>
  user: string
  eventId: string
  timestamp: string
}

const MAX_SUBJECT = 150
const MAX_FRAMES = 5
const MAX_TAGS = 30
const MAX_FIELD = 500

/** Bidirectional overrides and direction marks: invisible, yet they reorder what follows (a subject reading 'gnp.exe'). */
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * The `=?` that opens an RFC 2047 encoded-word (`=?UTF-8?Q?...?=`, `=?utf-8?b?...?=`). Mail
 * clients decode such words in a subject, so `=?UTF-8?Q?=0D=0ABcc:...?=` in an error message would
 * show as a subject with a line break in it. Decoders differ in what they accept between the `?`s
 * (spaces, odd charsets), so any `=?` followed by `charset?Q?` or `charset?B?` counts.
 */
const ENCODED_WORD_OPENER = /=\?(?=[^?]*\?[bq]\?)/gi

/**
 * Writes an encoded-word's opener as `= ?`, which no client decodes, so the text reads as it was
 * written: a visible space rather than a zero-width character, which would hide what was changed,
 * and plain ASCII, so the subject needs no encoding of its own. Every text taken from an event
 * goes through this (by oneLine or printable), so neither a header nor a body carries one. It runs
 * after invisible characters are removed, as removing one could join a `=` and a `?`.
 */
function neutraliseEncodedWords(text: string): string {
  return text.replace(ENCODED_WORD_OPENER, '= ?')
}

/** Removes control characters (CR and LF included) and folds whitespace: header-safe, one line. */
export function oneLine(value: unknown, max = MAX_FIELD): string {
  // eslint-disable-next-line no-control-regex
  const folded = String(value ?? '').replace(BIDI, '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim()
  const s = neutraliseEncodedWords(folded)
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}

/** Removes control characters but keeps line breaks, for source lines shown as text. */
function printable(value: unknown, max = MAX_FIELD): string {
  // eslint-disable-next-line no-control-regex
  const kept = String(value ?? '').replace(BIDI, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '').replace(/\t/g, '  ')
  const s = neutraliseEncodedWords(kept)
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}

/** The short name of what happened, used in the subject and the first line of the body. */
export function headline(firing: Firing): string {
  if (firing.kind === 'new') return 'New issue'
  if (firing.kind === 'regression') return 'Regression'
  const parts: string[] = []
  if (firing.events !== undefined) parts.push(`${plural(firing.events, 'event')}${firing.withinMs ? ` in ${formatDuration(firing.withinMs)}` : ''}`)
  if (firing.users !== undefined) parts.push(plural(firing.users, 'user'))
  return parts.join(', ')
}

/** `[appName] New issue: TypeError: ...`, one line, at most 150 characters. */
export function alertSubject(prefix: string, firing: Firing, title: string): string {
  return oneLine(`${prefix ? prefix + ' ' : ''}${headline(firing)}: ${oneLine(title)}`, MAX_SUBJECT)
}

function since(issue: Issue): string {
  return issue.regressedAt ? `since it regressed on ${issue.regressedAt}` : 'since it was first seen'
}

/** Why the rule fired, in a sentence a reader of the email understands without the config. */
export function alertReason(alert: Pick<Alert, 'firing' | 'issue'>): string {
  const { firing, issue } = alert
  if (firing.kind === 'new') return 'This error was seen for the first time, so it opened a new issue.'
  if (firing.kind === 'regression') {
    const when = issue.resolvedAt ? ` (resolved ${issue.resolvedAt})` : ''
    return `This issue was marked resolved${when} and happened again, so it is open again.`
  }
  const parts: string[] = []
  if (firing.events !== undefined) {
    parts.push(firing.withinMs
      ? `${plural(firing.windowCount ?? firing.events, 'event')} in the last ${formatDuration(firing.withinMs)} (the rule asks for ${firing.events})`
      : `${plural(issue.countSinceRegression, 'event')} ${since(issue)} (the rule asks for ${firing.events})`)
  }
  if (firing.users !== undefined) {
    parts.push(`${plural(issue.usersSinceRegression, 'distinct user')} affected ${since(issue)} (the rule asks for ${firing.users})`)
  }
  return `This issue reached ${parts.join(' and ')}.`
}

function ruleText(rule: ResolvedRule): string {
  const parts = [`when: ${JSON.stringify(rule.when)}`]
  if (rule.filter) parts.push(`filter: ${JSON.stringify(rule.filter)}`)
  if (rule.throttleMs) parts.push(`throttle: '${formatDuration(rule.throttleMs)}'`)
  return oneLine(`{ ${parts.join(', ')} }`)
}

/** The panel link for an issue: `mail.baseUrl + panel.path + '/issues/' + id`. */
export function issueUrl(options: Pick<ResolvedOptions, 'panel' | 'mail'>, issueId: string): string | null {
  if (!options.panel) return null
  return `${options.mail?.baseUrl ?? ''}${options.panel.path}/issues/${encodeURIComponent(issueId)}`
}

function frameViews(event: FaultlineEvent): { frames: FrameView[]; inApp: boolean } {
  const all = event.exception?.stacktrace?.frames ?? []
  const inApp = all.filter((f) => f.in_app)
  // frames are oldest call first; the email shows the innermost (where it threw) first
  const chosen = (inApp.length ? inApp : all).slice(-MAX_FRAMES).reverse()
  return {
    inApp: inApp.length > 0,
    frames: chosen.map((f) => ({
      function: oneLine(f.function || '<anonymous>', 200),
      location: oneLine(`${f.filename ?? f.abs_path ?? '?'}${f.lineno ? `:${f.lineno}` : ''}${f.colno ? `:${f.colno}` : ''}`, 300),
      line: printable((f.context_line ?? '').trim(), 300),
    })),
  }
}

function userText(event: FaultlineEvent): string {
  const u = event.user
  if (!u) return ''
  return oneLine(u.id ?? u.username ?? u.email ?? u.ip_address ?? '', 200)
}

/** Builds the view of an alert: everything escaped later by the template, cut to size here. */
export function alertView(alert: Alert, options: Pick<ResolvedOptions, 'appName' | 'panel' | 'mail'>): AlertView {
  const { issue, event, firing } = alert
  const prefix = options.mail?.subjectPrefix || `[${options.appName}]`
  const url = issueUrl(options, issue.id)
  const { frames, inApp } = frameViews(event)
  const req = event.request
  return {
    appName: oneLine(options.appName, 100),
    subject: alertSubject(prefix, firing, issue.title),
    headline: headline(firing),
    reason: alertReason(alert),
    ruleText: ruleText(alert.rule),
    title: oneLine(issue.title, 1000),
    culprit: oneLine(issue.culprit, 300),
    level: oneLine(event.level ?? issue.level, 20),
    issueId: oneLine(issue.id, 100),
    url,
    urlIsRelative: url !== null && !options.mail?.baseUrl,
    count: issue.count,
    userCount: issue.userCount,
    firstSeen: oneLine(issue.firstSeen, 40),
    lastSeen: oneLine(issue.lastSeen, 40),
    environment: oneLine(event.environment, 100),
    release: oneLine(event.release ?? '', 100),
    serverName: oneLine(event.server_name ?? '', 200),
    requestLine: req?.url ? oneLine(`${req.method ?? ''} ${req.url}`, 1000) : '',
    transaction: oneLine(event.transaction ?? '', 300),
    frames,
    framesAreInApp: inApp,
    tags: Object.entries(event.tags ?? {}).slice(0, MAX_TAGS).map(([k, v]) => [oneLine(k, 100), oneLine(v, 200)]),
    user: userText(event),
    eventId: oneLine(event.event_id, 64),
    timestamp: oneLine(event.timestamp, 40),
  }
}

/** Escapes text for Slack's mrkdwn, where `<`, `>` and `&` are control characters. */
export function slackEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** The Slack-compatible `text` of a webhook: headline, title, where, counts and a link. */
export function slackText(view: AlertView): string {
  const lines = [`*[${slackEscape(view.appName)}] ${slackEscape(view.headline)}*: ${slackEscape(oneLine(view.title, 300))}`]
  if (view.culprit) lines.push(`in \`${slackEscape(view.culprit.replace(/`/g, "'"))}\``)
  const facts = [plural(view.count, 'event'), plural(view.userCount, 'user'), `env ${slackEscape(view.environment)}`]
  if (view.release) facts.push(`release ${slackEscape(view.release)}`)
  lines.push(facts.join(' · '))
  if (view.url && !view.urlIsRelative) lines.push(`<${view.url}|View the issue>`)
  else if (view.url) lines.push(`Issue: ${slackEscape(view.url)}`)
  return lines.join('\n')
}
