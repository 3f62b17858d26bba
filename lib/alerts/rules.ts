import { createHash } from 'node:crypto'
import type { ResolvedMail, ResolvedRule } from '../options.js'
import type { FaultlineEvent, RecordResult } from '../types.js'
import type { RuleFilter } from '../types.js'

/** What made a rule fire for one recorded event, and the key that claims it in the store. */
export interface Firing {
  kind: 'new' | 'regression' | 'threshold'
  /** the event count (or milestone) that was reached */
  events?: number
  /** the distinct-user count that was reached */
  users?: number
  /** for a sliding window: its length; the window count is measured by the store before the claim */
  withinMs?: number
  /** events counted inside the window, filled in once measured */
  windowCount?: number
  /** claims this alert once across restarts and instances */
  key: string
  /** a window claim lapses with the window, so the rule can fire again for a later burst */
  expiresInMs?: number
}

/**
 * A stable name for each rule, from what it does (trigger, filter, destination) rather than its
 * position: adding a rule in front must not re-send every threshold the others already sent.
 * Identical rules get a counter so each keeps its own claims.
 */
/** Who a rule's email goes to: its own `to`, else `mail.to`. */
export function recipientsOf(rule: ResolvedRule, mail: ResolvedMail | null): string[] {
  return rule.to ?? mail?.to ?? []
}

export function ruleKeys(rules: readonly ResolvedRule[]): string[] {
  const seen = new Map<string, number>()
  return rules.map((rule) => {
    const shape = JSON.stringify([rule.when, rule.filter, rule.to, rule.webhook, rule.email])
    const hash = createHash('sha1').update(shape).digest('hex').slice(0, 10)
    const n = seen.get(hash) ?? 0
    seen.set(hash, n + 1)
    return n === 0 ? hash : `${hash}.${n}`
  })
}

/** Does the event pass the rule's filter (environment, level, tags, platform; all must hold)? */
export function matchesFilter(filter: RuleFilter | null, event: FaultlineEvent): boolean {
  if (!filter) return true
  if (filter.environment !== undefined) {
    const envs = Array.isArray(filter.environment) ? filter.environment : [filter.environment]
    if (!envs.includes(event.environment)) return false
  }
  if (filter.level !== undefined) {
    const levels = Array.isArray(filter.level) ? filter.level : [filter.level]
    if (!levels.includes(event.level)) return false
  }
  if (filter.platform !== undefined) {
    const platforms = Array.isArray(filter.platform) ? filter.platform : [filter.platform]
    if (!platforms.includes(event.platform ?? 'node')) return false
  }
  if (filter.tags) {
    for (const [key, value] of Object.entries(filter.tags)) {
      if (event.tags?.[key] !== value) return false
    }
  }
  return true
}

/** The highest milestone at or below `count`, or null when none is reached yet. */
export function reachedMilestone(milestones: number | number[], count: number): number | null {
  const list = Array.isArray(milestones) ? milestones : [milestones]
  let best: number | null = null
  for (const m of list) if (m <= count && (best === null || m > best)) best = m
  return best
}

/**
 * Decides, from the recorded result alone, whether the rule fires for this event.
 * Pure: the caller still measures sliding windows (`withinMs`), then claims `key` in the store.
 *
 * Thresholds use "reached" rather than "equal to", so an event dropped under load cannot make a
 * rule miss its number; the claim makes it fire once. Their key carries the issue's generation
 * (the last regression, if any), so a regression arms them again, counting from it. Not first
 * seen: an event stamped earlier (a late retry, another machine's clock) moves it back, and the
 * thresholds already sent would fire again. A deleted issue takes its claims with it.
 */
export function decide(rule: ResolvedRule, ruleKey: string, result: RecordResult, event: FaultlineEvent): Firing | null {
  const issue = result.issue
  if (issue.status === 'ignored') return null
  if (!matchesFilter(rule.filter, event)) return null
  const base = `${ruleKey}:${issue.id}`
  if (rule.when === 'new') return result.isNew ? { kind: 'new', key: `${base}:new:${issue.firstSeen}` } : null
  if (rule.when === 'regression') {
    return result.isRegression ? { kind: 'regression', key: `${base}:regression:${issue.regressedAt ?? issue.lastSeen}` } : null
  }
  const when = rule.when
  const firing: Firing = { kind: 'threshold', key: '' }
  const parts: string[] = []
  if (when.users !== undefined) {
    if (issue.usersSinceRegression < when.users) return null
    firing.users = when.users
    parts.push(`u${when.users}`)
  }
  if (when.events !== undefined) {
    if (rule.withinMs !== null) {
      const n = when.events as number
      // a cheap bound before the store counts the window: the window never holds more than the total
      if (issue.count < n) return null
      firing.events = n
      firing.withinMs = rule.withinMs
      firing.expiresInMs = rule.withinMs
      return { ...firing, key: `${base}:window:${[...parts, `e${n}`].join(':')}` }
    }
    const milestone = reachedMilestone(when.events, issue.countSinceRegression)
    if (milestone === null) return null
    firing.events = milestone
    parts.push(`e${milestone}`)
  }
  const generation = issue.regressedAt ?? 'first'
  return { ...firing, key: `${base}:${generation}:${parts.join(':')}` }
}

/** The claim that keeps a throttled rule to one alert per issue per period. */
export function throttleKey(ruleKey: string, issueId: string): string {
  return `${ruleKey}:${issueId}:throttle`
}
