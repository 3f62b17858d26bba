// What turning one thrown error into an event and an issue key costs: buildEvent + groupEvent,
// median of 7 rounds of 5,000 fresh errors each (V8 formats each one's stack), with and without
// breadcrumbs (the same ones in every event, as a scope's are) and source context;
// then one error with a 10 MB message, and single captures of very deep stacks.
//
//   npm run build && node bench/build-event.js
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildEvent } from '../dist/lib/event.js'
import { groupEvent } from '../dist/common/fingerprint.js'
import { DEFAULT_SCRUB_FIELDS } from '../dist/lib/options.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ROUNDS = 7
const PER_ROUND = 5_000

const scope = (crumbs) => ({
  tags: { region: 'eu' }, extra: { order: { id: 1, items: [1, 2, 3] } }, user: { id: 7 }, contexts: {}, level: null, fingerprint: null,
  breadcrumbs: Array.from({ length: crumbs }, (_, i) => ({ timestamp: new Date().toISOString(), message: `step ${i}`, data: { i } })),
  request: { method: 'GET', url: '/orders/1?token=abc', headers: { cookie: 'sid=1', 'user-agent': 'bench' } }, transaction: 'GET /orders/:id',
})
const options = (sourceContext) => ({
  root, environment: 'bench', release: '1.0.0', serverName: 'bench', scrubFields: DEFAULT_SCRUB_FIELDS, sourceContext, maxBreadcrumbs: 100,
})

function loadOrder(id) {
  throw new Error(`Order ${id} not found`)
}

function perEvent(s, o) {
  const times = []
  for (let r = 0; r < ROUNDS; r++) {
    const started = performance.now()
    for (let i = 0; i < PER_ROUND; i++) {
      let error
      try {
        loadOrder(i)
      } catch (err) {
        error = err
      }
      groupEvent(buildEvent({ eventId: '0'.repeat(32), error, scope: s, options: o }))
    }
    times.push(((performance.now() - started) / PER_ROUND) * 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(ROUNDS / 2)].toFixed(1)
}

perEvent(scope(20), options(true)) // warm up the JIT and the source cache
console.log(`100 breadcrumbs, source context: ${perEvent(scope(100), options(true))} µs/event`)
console.log(`20 breadcrumbs, source context: ${perEvent(scope(20), options(true))} µs/event`)
console.log(`no breadcrumbs, source context: ${perEvent(scope(0), options(true))} µs/event`)
console.log(`no breadcrumbs, no source context: ${perEvent(scope(0), options(false))} µs/event`)

const huge = new Error(Buffer.alloc(10 * 1024 * 1024, 'm').toString())
void huge.stack
const started = performance.now()
const event = buildEvent({ eventId: '0'.repeat(32), error: huge, scope: scope(0), options: options(true) })
console.log(`10 MB message: ${(performance.now() - started).toFixed(1)} ms, event ${Buffer.byteLength(JSON.stringify(event))} bytes`)

// One capture of a very deep stack, timed alone: how long it keeps the event loop busy. Each round
// has a stack of its own, so none comes from the frame cache. V8 formats a stack the first time it
// is read; that is done before the clock starts (and printed apart), as faultline cannot avoid it.
function oneCapture(makeError) {
  const times = []
  let formatMs = 0
  for (let r = 0; r < ROUNDS; r++) {
    const error = makeError(r)
    const formatStarted = performance.now()
    void error.stack
    formatMs = Math.max(formatMs, performance.now() - formatStarted)
    const started = performance.now()
    groupEvent(buildEvent({ eventId: '0'.repeat(32), error, scope: scope(0), options: options(true) }))
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  const formatting = formatMs >= 0.5 ? `, V8 formatting the stack first: up to ${formatMs.toFixed(1)} ms` : ''
  return `${times[Math.floor(ROUNDS / 2)].toFixed(2)} ms/capture (slowest ${times.at(-1).toFixed(2)} ms)${formatting}`
}

function handMadeStack(round) {
  const lines = [`Error: hand-made stack ${round}`]
  for (let i = 0; i < 100_000; i++) lines.push(`    at f${i} (/srv/app/deep.js:${round + 1}:${i + 1})`)
  return Object.assign(new Error(`hand-made stack ${round}`), { stack: lines.join('\n') })
}

// 10,000 calls: about as deep as Node's default stack size allows a small function to go.
function recurse(n) {
  if (n === 0) throw new Error('deep recursion')
  return recurse(n - 1)
}
function deepRecursion(round) {
  // an entry point named after the round, so each round's stack is new to the frame cache
  const enter = new Function('recurse', `return recurse(10000)\n//# sourceURL=entry-${round}.js`)
  const saved = Error.stackTraceLimit
  Error.stackTraceLimit = Infinity
  try {
    enter(recurse)
  } catch (err) {
    return err
  } finally {
    Error.stackTraceLimit = saved
  }
}

console.log(`hand-made stack of 100,000 frame lines: ${oneCapture(handMadeStack)}`)
console.log(`real recursion 10,000 calls deep: ${oneCapture(deepRecursion)}`)
