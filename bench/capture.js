// captureException throughput into the file store, from one process: batches of captures (each
// batch below the capture queue's 10,000 bound, so nothing is dropped for lack of room), each
// followed by flush(); events/s counts from the first capture until the last flush resolves.
// Also the caller's own cost per captureException call (the synchronous part on the request path).
//
//   npm run build && node bench/capture.js [--quick]
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createTracker } from 'faultline'
import { fmt, table } from './stats.js'
import { countStored } from './stored.js'

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const BATCH = 5_000
const BATCHES = QUICK ? 1 : 4

function failure(n) {
  return new Error(`failure ${n}`)
}

async function scenario(label, ctxFor) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-capture-'))
  const storePath = path.join(dir, 'errors.json')
  const internal = []
  const tracker = createTracker({ store: storePath, onInternalError: (err) => internal.push(err.message) })
  try {
    // warm-up, not counted in the rate (but stored, and counted below)
    for (let i = 0; i < 500; i++) tracker.captureException(failure(-i), ctxFor(i))
    await tracker.flush(60_000)
    let syncMs = 0
    let n = 0
    const started = performance.now()
    for (let b = 0; b < BATCHES; b++) {
      const t0 = performance.now()
      for (let i = 0; i < BATCH; i++, n++) tracker.captureException(failure(n), ctxFor(n))
      syncMs += performance.now() - t0
      if (!(await tracker.flush(60_000))) throw new Error('flush timed out')
    }
    const seconds = (performance.now() - started) / 1000
    await tracker.close()
    const stored = await countStored(storePath)
    const captured = n + 500
    return [
      label, fmt(captured, 0), `${fmt(stored.events, 0)} in ${fmt(stored.issues, 0)} issues`,
      fmt(n / seconds, 0), fmt((syncMs * 1000) / n, 1), internal.length ? internal.slice(0, 2).join('; ') : '',
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const rows = [
  await scenario('one call site, new message each time (1 issue)', () => undefined),
  await scenario('1,000 distinct fingerprints (1,000 issues)', (n) => ({ fingerprint: ['bench', String(Math.abs(n) % 1000)] })),
]
console.log(table(['captureException(new Error(...))', 'captured', 'stored (read back from disk)', 'events/s until flushed', 'µs per call (caller)', 'internal errors'], rows))
