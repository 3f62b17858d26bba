const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

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
