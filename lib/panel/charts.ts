/**
 * Geometry for the occurrence charts. The panel draws them as server-rendered SVG (no script, no
 * external assets); this file only does the arithmetic, and the template writes escaped numbers.
 */
import { DAY, HOUR } from '../../common/duration.js'

export interface Bar {
  x: number
  y: number
  width: number
  height: number
  count: number
  /** start of the bucket, ISO */
  start: string
  /** tooltip text, e.g. '14:00 UTC: 3 events' */
  label: string
}

export interface Chart {
  interval: 'hour' | 'day'
  width: number
  height: number
  bars: Bar[]
  max: number
  total: number
  /** labels under the time axis, evenly spaced from its left end to its right end */
  ticks: Tick[]
}

/** A time axis label: `at` is the instant (ISO) or null for the right end ('now', 'today'); `text` is in UTC. */
export interface Tick {
  at: string | null
  text: string
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * Four or five labels for the time axis: hourly charts every quarter of the span as 'HH:00' (the
 * panel's script shows them in the viewer's time zone), daily charts every third as 'May 3' (the
 * buckets are UTC days, so their dates stay UTC), and the right end as 'now' or 'today'.
 */
export function axisTicks(interval: 'hour' | 'day', starts: Date[]): Tick[] {
  const parts = interval === 'hour' ? 4 : 3
  const ticks: Tick[] = []
  for (let k = 0; k < parts; k++) {
    const start = starts[Math.round((k * starts.length) / parts)]
    if (!start) break
    const iso = start.toISOString()
    ticks.push({ at: iso, text: interval === 'hour' ? iso.slice(11, 16) : `${MONTHS[start.getUTCMonth()]} ${start.getUTCDate()}` })
  }
  ticks.push({ at: null, text: interval === 'hour' ? 'now' : 'today' })
  return ticks
}


/** The start of each bucket, oldest first, ending with the bucket that holds `now` (UTC). */
export function bucketStarts(interval: 'hour' | 'day', buckets: number, now: Date): Date[] {
  const size = interval === 'hour' ? HOUR : DAY
  const last = Math.floor(now.getTime() / size) * size
  return Array.from({ length: buckets }, (_, i) => new Date(last - (buckets - 1 - i) * size))
}

function bucketLabel(interval: 'hour' | 'day', start: Date, count: number): string {
  const iso = start.toISOString()
  const when = interval === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10)
  return `${when}: ${count} ${count === 1 ? 'event' : 'events'}`
}

/**
 * Lays out one bar per bucket in a `width` x `height` box. Empty buckets get a 1-unit stub so the
 * time axis stays visible; the tallest bar fills the box.
 */
export function barChart(
  counts: number[],
  options: { interval: 'hour' | 'day'; now: Date; width: number; height: number; gap?: number },
): Chart {
  const { interval, now, width, height } = options
  const n = Math.max(counts.length, 1)
  const gap = options.gap ?? 1
  const slot = width / n
  const barWidth = Math.max(slot - gap, 0.5)
  const safe = counts.map((c) => (Number.isFinite(c) && c > 0 ? Math.floor(c) : 0))
  const max = Math.max(0, ...safe)
  const starts = bucketStarts(interval, counts.length, now)
  const round = (v: number) => Math.round(v * 100) / 100
  const bars = safe.map((count, i) => {
    const h = count === 0 ? 1 : Math.max(2, (count / max) * height)
    return {
      x: round(i * slot),
      y: round(height - h),
      width: round(barWidth),
      height: round(h),
      count,
      start: starts[i].toISOString(),
      label: bucketLabel(interval, starts[i], count),
    }
  })
  return { interval, width, height, bars, max, total: safe.reduce((a, b) => a + b, 0), ticks: axisTicks(interval, starts) }
}
