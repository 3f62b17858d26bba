/**
 * GET /rules : the configured alert rules, read-only, with when each last fired, so an admin can
 * see why a mail came or did not. Addresses are partly hidden and webhooks show their host only:
 * the page is for anyone who may open the panel, and a webhook's path is often its secret.
 */
import { formatDuration } from '../../common/duration.js'
import type { ResolvedMail, ResolvedRule } from '../options.js'
import type { RuleFilter, RuleWhen } from '../types.js'
import { recipientsOf, ruleKeys } from '../alerts/rules.js'
import { storeHas, type PanelContext } from './context.js'
import { maskAddress, urlHost } from './format.js'
import { renderPage } from './pages.js'

export interface RuleRow {
  when: string
  filter: string
  recipients: string[]
  webhookHost: string | null
  throttle: string
  /** ISO time of the last alert, or null when it never fired (or the store does not say) */
  lastFired: string | null
}

/** What makes a rule fire, in words. */
export function describeWhen(when: RuleWhen, withinMs: number | null): string {
  if (when === 'new') return 'A new issue: its first event'
  if (when === 'regression') return 'A regression: a resolved issue comes back'
  const parts: string[] = []
  if (when.events !== undefined) {
    if (withinMs !== null) parts.push(`${when.events} events within ${formatDuration(withinMs)}`)
    else if (Array.isArray(when.events)) parts.push(`the issue reaches ${when.events.join(', ')} events (an alert at each)`)
    else parts.push(`the issue reaches ${when.events} events`)
  }
  if (when.users !== undefined) parts.push(`${when.users} users are affected`)
  const text = parts.join(' and ')
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** Which events the rule looks at, in words. */
export function describeFilter(filter: RuleFilter | null): string {
  if (!filter) return 'Every event'
  const parts: string[] = []
  const list = (v: string | string[]) => (Array.isArray(v) ? v.join(' or ') : v)
  if (filter.environment !== undefined) parts.push(`environment ${list(filter.environment)}`)
  if (filter.level !== undefined) parts.push(`level ${list(filter.level)}`)
  if (filter.platform !== undefined) parts.push(`platform ${list(filter.platform)}`)
  for (const [key, value] of Object.entries(filter.tags ?? {})) parts.push(`tag ${key} = ${value}`)
  return parts.length ? parts.join('; ') : 'Every event'
}

/** The rules as the page shows them, in the order they were configured. */
export function ruleRows(rules: readonly ResolvedRule[], mail: ResolvedMail | null, firings: Record<string, string>): RuleRow[] {
  const keys = ruleKeys(rules)
  return rules.map((rule, i) => ({
    when: describeWhen(rule.when, rule.withinMs),
    filter: describeFilter(rule.filter),
    recipients: rule.email ? recipientsOf(rule, mail).map(maskAddress) : [],
    webhookHost: rule.webhook ? urlHost(rule.webhook) : null,
    throttle: rule.throttleMs === null ? 'None: each alert once per issue' : `At most one alert per issue every ${formatDuration(rule.throttleMs)}`,
    lastFired: Object.hasOwn(firings, keys[i]) ? firings[keys[i]] : null,
  }))
}

export async function rulesPage(ctx: PanelContext): Promise<void> {
  const { rules, mail } = ctx.options
  const firingsKept = storeHas(ctx.store, 'ruleFirings')
  const firings = rules.length && firingsKept ? await ctx.store.ruleFirings() : {}
  renderPage(ctx, 200, 'rules', 'Alert rules', {
    firingsKept,
    rows: ruleRows(rules, mail, firings),
    mailSet: mail !== null,
    maxPerHour: mail?.maxPerHour ?? null,
  })
}
