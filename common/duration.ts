export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR
export const WEEK = 7 * DAY

const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: WEEK }

/**
 * Parses '500ms', '30s', '15m', '1h', '14d', '2w' (or a number of milliseconds) into milliseconds.
 * Returns null for anything else, so callers can say what was wrong in their own words.
 */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : null
  if (typeof value !== 'string') return null
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(value)
  if (!match) return null
  const ms = Number(match[1]) * UNITS[match[2]]
  return ms > 0 ? ms : null
}

/** 3600000 -> '1h', 90000 -> '90s': the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['w', WEEK], ['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
