/**
 * An error storm against a real server (bench/servers/express.js, a route throwing a new message on
 * every request) under a real load generator (autocannon), as bench/storm.js measures it: every
 * error counted, and the heap back where it was after the storm. How the event loop's delay
 * compares with the bare app's depends on the machine, so `node bench/storm.js --gap` measures it.
 */
import { describe, expect, it } from 'vitest'
import { storm } from '../bench/storm.js'

const MB = 1e6

describe('an error storm on the default file store (a real server, a real load)', () => {
  it('counts every error of 200 connections throwing as fast as the server answers, and gives back the heap it took', async () => {
    const load = { seconds: 5, connections: 200, rate: 0 }
    const result = await storm('faultline', load)
    // the same storm on the bare app: what the runtime and the allocator keep of any such load
    const bare = await storm('bare', load)
    const grew = (r: typeof result) =>
      `${((r.after.rss - r.before.rss) / MB).toFixed(1)} MB RSS, ${((r.after.heapTotal - r.before.heapTotal) / MB).toFixed(1)} MB V8 heap, ${((r.after.heapUsed - r.before.heapUsed) / MB).toFixed(1)} MB of objects`
    console.log(`storm: after it and a GC, faultline kept ${grew(result)} (peak +${((result.watched.peakRss - result.before.rss) / MB).toFixed(1)} MB RSS); bare kept ${grew(bare)}`)
    expect(result.thrown).toBeGreaterThan(1000)
    expect(result.counted).toBe(result.thrown)
    expect(result.stats).toMatchObject({ captured: result.thrown, dropped: 0, queued: 0 })
    expect(result.stats.stored + result.stats.shed).toBe(result.thrown)
    // full events only within the budget (100 a minute): the rest counted, their details shed
    expect(result.stats.stored).toBeLessThan(200)
    // the captures waiting to be built are bounded, and what the storm took is given back: faultline
    // holds no more than 5 MB of objects after it, and V8's heap shrinks back as far as the bare
    // app's does, give or take 30 MB. (RSS is printed, not checked: on Node 22 and later the pages
    // V8's heap gave back stay in the RSS of either app, at up to its peak.)
    expect(result.watched.peakRss - result.before.rss).toBeLessThan(250 * MB)
    expect(result.after.heapUsed - result.before.heapUsed).toBeLessThan(5 * MB)
    expect((result.after.heapTotal - result.before.heapTotal) - (bare.after.heapTotal - bare.before.heapTotal)).toBeLessThan(30 * MB)
  }, 90_000)
})
