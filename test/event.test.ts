import { describe, it, expect, afterEach } from 'vitest'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventJson } from '../common/event-json.js'
import { buildEvent, MAX_EVENT_BYTES, MAX_MESSAGE, type BuildEventInput } from '../lib/event.js'
import { DEFAULT_SCRUB_FIELDS } from '../lib/options.js'
import type { Breadcrumb, FaultlineEvent, StackFrame } from '../lib/types.js'
import type { ScopeData } from '../lib/types.js'

const here = fileURLToPath(import.meta.url)
const root = path.resolve(path.dirname(here), '..')
const EVENT_ID = '0123456789abcdef0123456789abcdef'

const scope = (over: Partial<ScopeData> = {}): ScopeData => ({
  tags: {}, extra: {}, user: null, contexts: {}, level: null, fingerprint: null, breadcrumbs: [], request: null, transaction: null, ...over,
})
const options = (over: Partial<BuildEventInput['options']> = {}): BuildEventInput['options'] => ({
  root, environment: 'production', release: '2.3.4', serverName: 'web-1', scrubFields: DEFAULT_SCRUB_FIELDS, sourceContext: true, maxBreadcrumbs: 100, ...over,
})
const build = (over: Partial<BuildEventInput> = {}): FaultlineEvent =>
  buildEvent({ eventId: EVENT_ID, scope: scope(), options: options(), ...over })

const size = (e: FaultlineEvent) => Buffer.byteLength(JSON.stringify(e))
const innermost = (e: FaultlineEvent) => e.exception!.stacktrace!.frames.at(-1)!

function throwSync(): never {
  throw new TypeError('sync failure')
}
async function throwAsync(): Promise<never> {
  await new Promise((r) => setTimeout(r, 1))
  throw new RangeError('async failure')
}
function outer() {
  return middle()
}
function middle() {
  return inner()
}
function inner(): never {
  throw new Error('nested failure')
}
function caught(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

const savedLimit = Error.stackTraceLimit
afterEach(() => {
  Error.stackTraceLimit = savedLimit
})

describe('buildEvent from real errors', () => {
  it('describes a synchronous throw with in-app frames and source context', () => {
    const when = new Date('2024-05-06T07:08:09.000Z')
    const e = build({ error: caught(throwSync), timestamp: when, mechanism: { type: 'express', handled: false } })
    expect(e).toMatchObject({
      event_id: EVENT_ID, timestamp: '2024-05-06T07:08:09.000Z', level: 'error', environment: 'production', release: '2.3.4',
      server_name: 'web-1', fingerprint: ['{{ default }}'],
      exception: { type: 'TypeError', value: 'sync failure', mechanism: { type: 'express', handled: false } },
    })
    expect(innermost(e)).toMatchObject({ function: 'throwSync', filename: 'test/event.test.ts', in_app: true })
    expect(innermost(e).context_line).toBe("  throw new TypeError('sync failure')")
    expect(innermost(e).pre_context).toHaveLength(5)
    expect(innermost(e).post_context).toHaveLength(5)
    // Dependencies are listed but neither in-app nor read.
    const dep = e.exception!.stacktrace!.frames.find((f) => f.filename?.startsWith('node_modules/'))!
    expect(dep.in_app).toBe(false)
    expect(dep.context_line).toBeUndefined()
    expect(e.contexts.runtime).toEqual({ name: 'node', version: process.version })
    expect(e.contexts.os).toMatchObject({ name: expect.any(String) })
    expect(e.truncated).toBeUndefined()
  })

  it('describes an error thrown after an await', async () => {
    const err = await throwAsync().catch((x) => x)
    const e = build({ error: err })
    expect(e.exception).toMatchObject({ type: 'RangeError', value: 'async failure' })
    expect(innermost(e)).toMatchObject({ function: 'throwAsync', filename: 'test/event.test.ts', in_app: true })
  })

  it('lists the frames of nested calls oldest first', () => {
    const e = build({ error: caught(outer) })
    const names = e.exception!.stacktrace!.frames.filter((f) => f.in_app).map((f) => f.function)
    expect(names.slice(-3)).toEqual(['outer', 'middle', 'inner'])
  })

  it('leaves source context out when it is turned off', () => {
    const e = build({ error: caught(throwSync), options: options({ sourceContext: false }) })
    expect(innermost(e).context_line).toBeUndefined()
  })

  it('follows the cause chain, each cause with its own frames', () => {
    const root0 = caught(inner) as Error
    const mid = new Error('query failed', { cause: root0 })
    const top = new Error('request failed', { cause: mid })
    const e = build({ error: top })
    expect(e.exception!.value).toBe('request failed')
    expect(e.exception!.causes!.map((c) => c.value)).toEqual(['query failed', 'nested failure'])
    expect(e.exception!.causes![1].stacktrace!.frames.at(-1)!.function).toBe('inner')
    expect(e.exception!.causes![0].stacktrace!.frames.at(-1)!.function).not.toBe('inner')
  })

  it('stops a cause chain at 5 and at a cycle', () => {
    let err: Error = new Error('e0')
    for (let i = 1; i <= 8; i++) err = new Error(`e${i}`, { cause: err })
    const long = build({ error: err })
    expect(long.exception!.causes!.map((c) => c.value)).toEqual(['e7', 'e6', 'e5', 'e4', 'e3'])
    expect(long.truncated).toContain('exception.causes')

    const a = new Error('a')
    const b = new Error('b', { cause: a })
    ;(a as { cause?: unknown }).cause = b
    const cyclic = build({ error: a })
    expect(cyclic.exception!.causes!.map((c) => c.value)).toEqual(['b'])
  })

  it('describes non-Error causes', () => {
    const e = build({ error: new Error('top', { cause: 'just text' }) })
    expect(e.exception!.causes).toEqual([{ type: 'Error', value: 'just text' }])
  })
})

describe('buildEvent merging scope and capture context', () => {
  it('lets the capture context win over the scope', () => {
    const e = build({
      error: new Error('x'),
      scope: scope({
        tags: { route: 'scope', region: 'eu' }, extra: { a: 1, b: 1 }, user: { id: 1, email: 'scope@x.test' },
        contexts: { app: { version: 1, build: 'b1' } }, level: 'warning', fingerprint: ['scope-fp'],
        request: { method: 'GET', url: '/scope' }, transaction: 'GET /scope',
      }),
      ctx: {
        tags: { route: 'ctx' }, extra: { b: 2 }, user: { id: 2 }, contexts: { app: { version: 2 } }, level: 'fatal',
        fingerprint: ['ctx-fp'], request: { method: 'POST', url: '/ctx' },
      },
    })
    expect(e.tags).toEqual({ route: 'ctx', region: 'eu' })
    expect(e.extra).toEqual({ a: 1, b: 2 })
    expect(e.user).toEqual({ id: 2 })
    expect(e.contexts.app).toEqual({ version: 2, build: 'b1' })
    expect(e.level).toBe('fatal')
    expect(e.fingerprint).toEqual(['ctx-fp'])
    expect(e.request).toEqual({ method: 'POST', url: '/ctx' })
    expect(e.transaction).toBe('GET /scope')
  })

  it('takes the level from the context, else the capture call, else the scope, else by kind', () => {
    expect(build({ error: new Error('x') }).level).toBe('error')
    expect(build({ message: 'hello' }).level).toBe('info')
    expect(build({ message: 'hello', scope: scope({ level: 'debug' }) }).level).toBe('debug')
    expect(build({ message: 'hello', level: 'warning', scope: scope({ level: 'debug' }) }).level).toBe('warning')
    expect(build({ message: 'hello', level: 'warning', ctx: { level: 'fatal' } }).level).toBe('fatal')
  })

  it('turns tags into short strings', () => {
    const e = build({
      error: new Error('x'),
      ctx: { tags: { n: 5, ok: true, obj: { a: 1 }, ['k'.repeat(50)]: 'v', long: 'x'.repeat(500), gone: undefined, big: 10n } },
    })
    expect(e.tags.n).toBe('5')
    expect(e.tags.ok).toBe('true')
    expect(e.tags.obj).toBe('{"a":1}')
    expect(e.tags['k'.repeat(32)]).toBe('v')
    expect(e.tags.long).toHaveLength(200)
    expect(e.tags.big).toBe('10n')
    expect('gone' in e.tags).toBe(false)
    for (const key of Object.keys(e.tags)) expect(key.length).toBeLessThanOrEqual(32)
  })

  it('builds a message event without an exception', () => {
    const e = build({ message: 'Nightly export finished' })
    expect(e.message).toBe('Nightly export finished')
    expect(e.exception).toBeUndefined()
  })
})

describe('buildEvent scrubbing', () => {
  it('filters secrets in the request, extra, contexts, breadcrumbs and user', () => {
    const e = build({
      error: new Error('x'),
      scope: scope({
        request: {
          method: 'POST', url: 'https://app.test/login?next=/a&token=t1',
          headers: { authorization: 'Basic YTpi', cookie: 'sid=s', accept: 'text/html' },
          query_string: 'next=/a&token=t1', data: { email: 'a@b.c', password: 'pw' }, cookies: { sid: 's' },
        },
        extra: { apiKey: 'k', order: 7 },
        contexts: { payment: { cardToken: 'ct', amount: 5 } },
        breadcrumbs: [{ timestamp: '2024-01-01T00:00:00.000Z', message: 'GET /cb?secret=s1', data: { password: 'pw', url: '/cb?jwt=j' } }],
        user: { id: 1, session_token: 'st' },
      }),
      // The source lines of this very test hold the secrets; leave them out of the check.
      options: options({ sourceContext: false }),
    })
    const text = JSON.stringify(e)
    for (const secret of ['t1', 'YTpi', 'sid=s', '"pw"', '"k"', 'ct"', 's1', 'jwt=j', '"st"']) expect(text).not.toContain(secret)
    expect(e.request!.headers).toEqual({ authorization: '[Filtered]', cookie: '[Filtered]', accept: 'text/html' })
    expect(e.request!.url).toBe('https://app.test/login?next=/a&token=[Filtered]')
    expect(e.extra).toEqual({ apiKey: '[Filtered]', order: 7 })
    expect(e.contexts.payment).toEqual({ cardToken: '[Filtered]', amount: 5 })
    expect(e.breadcrumbs[0].message).toBe('GET /cb?secret=[Filtered]')
    expect(e.user).toEqual({ id: 1, session_token: '[Filtered]' })
  })

  it('filters query secrets in exception messages, their causes, and tag values', () => {
    const cause = new Error('upstream said no: GET https://api.test/v1?api_key=K9&page=2')
    const e = build({
      error: new Error('fetch failed https://api.test/v1?token=EXC1', { cause }),
      scope: scope({ tags: { callback: 'https://hooks.test/in?secret=TAG1&id=4' } }),
      options: options({ sourceContext: false }),
    })
    expect(e.exception!.value).toBe('fetch failed https://api.test/v1?token=[Filtered]')
    expect(e.exception!.causes![0].value).toBe('upstream said no: GET https://api.test/v1?api_key=[Filtered]&page=2')
    expect(e.tags.callback).toBe('https://hooks.test/in?secret=[Filtered]&id=4')
    expect(JSON.stringify(e)).not.toMatch(/EXC1|K9|TAG1/)
  })

  it('filters a secret in a text body too long to keep whole, whose cut JSON no longer parses', () => {
    const body = JSON.stringify({ password: 'hunter2-BIG', filler: 'y'.repeat(10_000) })
    const e = build({ error: new Error('x'), scope: scope({ request: { method: 'POST', url: 'https://app.test/login', data: body } }), options: options({ sourceContext: false }) })
    expect(e.truncated).toContain('request.data')
    expect(e.request!.data).toMatch(/^\{"password":"\[Filtered\]","filler":"yyy/)
    expect(JSON.stringify(e)).not.toContain('hunter2')
  })

  it('filters secrets written into messages and log lines: URL passwords, bearer tokens, key=value and quoted pairs', () => {
    const e = build({
      error: new Error('connect ECONNREFUSED postgres://app:PGPASS@db:5432/shop'),
      scope: scope({
        breadcrumbs: [
          { timestamp: new Date(0).toISOString(), category: 'console', message: "hdrs { authorization: 'Bearer sk_live_123', accept: 'text/html' }" },
          { timestamp: new Date(1).toISOString(), category: 'console', message: 'retrying with password=hunter2 user=ann' },
          { timestamp: new Date(2).toISOString(), category: 'console', message: 'Invalid session: expired' },
        ],
      }),
      options: options({ sourceContext: false }),
    })
    expect(e.exception!.value).toBe('connect ECONNREFUSED postgres://app:[Filtered]@db:5432/shop')
    expect(e.breadcrumbs.map((b) => b.message)).toEqual([
      "hdrs { authorization: '[Filtered]', accept: 'text/html' }",
      'retrying with password=[Filtered] user=ann',
      // prose that merely names a secret's kind is kept
      'Invalid session: expired',
    ])
    expect(JSON.stringify(e)).not.toMatch(/PGPASS|sk_live|hunter2/)
  })

  it('keeps only the newest breadcrumbs', () => {
    const crumbs: Breadcrumb[] = Array.from({ length: 30 }, (_, i) => ({ timestamp: new Date(i * 1000).toISOString(), message: `step ${i}` }))
    const e = build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs }), options: options({ maxBreadcrumbs: 10 }) })
    expect(e.breadcrumbs.map((b) => b.message)).toEqual(Array.from({ length: 10 }, (_, i) => `step ${i + 20}`))
    expect(build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs }), options: options({ maxBreadcrumbs: 0 }) }).breadcrumbs).toEqual([])
  })
})

describe('breadcrumbs shared between events', () => {
  it('prepares a breadcrumb once, yet each event keeps its own view of it', () => {
    const crumbs: Breadcrumb[] = [
      { timestamp: new Date(0).toISOString(), message: 'GET https://api.test/x?token=T0K', data: { step: 1, password: 'p4ss' } },
      { timestamp: new Date(1).toISOString(), message: 'second' },
    ]
    const first = build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs }) })
    // too large: its breadcrumb data is cut, which must not cut it from the other events
    const big = build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs, extra: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'e'.repeat(8000)])) }) })
    const later = build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs }) })
    expect(big.truncated).toContain('breadcrumbs.data')
    expect(big.breadcrumbs[0].data).toBeUndefined()
    for (const e of [first, later]) {
      expect(e.breadcrumbs[0]).toMatchObject({ message: 'GET https://api.test/x?token=[Filtered]', data: { step: 1, password: '[Filtered]' } })
      // the JSON the stores write is the event as built
      expect(JSON.parse(eventJson(e))).toEqual(JSON.parse(JSON.stringify(e)))
    }
  })
})

describe('breadcrumbs too large to ride along whole', () => {
  it('reads at most 200 values of one breadcrumb, and says what it cut', () => {
    const row = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`c${i}`, 'x'.repeat(1000)]))
    const crumb = { timestamp: new Date(0).toISOString(), category: 'db', message: 'select', data: { rows: Array.from({ length: 100 }, () => row) } }
    const e = build({ error: new Error('x'), scope: scope({ breadcrumbs: [crumb] }) })
    const strings = JSON.stringify(e.breadcrumbs[0]).match(/"x{1000}"/g) ?? []
    expect(strings.length).toBeGreaterThan(0)
    expect(strings.length).toBeLessThanOrEqual(200)
    expect(e.truncated).toContain('breadcrumbs.data.rows')
  })
})

describe('buildEvent with hostile input', () => {
  const trap = () => {
    throw new Error('trap')
  }
  const proxy = () => new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, has: trap, getOwnPropertyDescriptor: trap })
  const cyclic = () => {
    const o: Record<string, unknown> = { a: 1 }
    o.self = o
    return o
  }

  const thrown: Array<[string, unknown, string]> = [
    ['a string', 'plain text', 'plain text'],
    ['null', null, 'Non-Error exception captured: null'],
    ['undefined', undefined, 'Non-Error exception captured: undefined'],
    ['a number', 404, 'Non-Error exception captured: 404'],
    ['a plain object', { status: 500, reason: 'db' }, 'Non-Error exception captured with keys: status, reason'],
    ['an object with a cycle', cyclic(), 'Non-Error exception captured with keys: a, self'],
  ]
  for (const [what, value, message] of thrown) {
    it(`records ${what} thrown as an Error event`, () => {
      const e = build({ error: value })
      expect(e.exception).toMatchObject({ type: 'Error', value: message })
      expect(() => JSON.stringify(e)).not.toThrow()
    })
  }

  it('keeps a thrown plain object beside the event', () => {
    expect(build({ error: { status: 500, reason: 'db', password: 'x' } }).extra.__serialized__).toEqual({ status: 500, reason: 'db', password: '[Filtered]' })
  })

  it('survives thrown Proxies and errors whose getters throw', () => {
    const err = new Error('secret')
    void err.stack
    for (const key of ['message', 'name', 'stack', 'cause']) Object.defineProperty(err, key, { get: trap })
    for (const value of [proxy(), err]) {
      const e = build({ error: value })
      expect(e.exception!.type).toBe('Error')
      expect(() => JSON.stringify(e)).not.toThrow()
    }
  })

  it('survives hostile extras, tags, contexts, users and breadcrumbs', () => {
    const e = build({
      error: new Error('x'),
      scope: scope({
        extra: { p: proxy(), c: cyclic(), big: 1n, fn: () => 1, sym: Symbol('s'), get g() { return trap() } },
        tags: Object.defineProperty({}, 'bad', { enumerable: true, get: trap }) as Record<string, string>,
        contexts: { weird: proxy() as Record<string, unknown> },
        user: cyclic() as never,
        breadcrumbs: [proxy() as never, { timestamp: 'now', data: cyclic() }],
      }),
    })
    expect(e.extra).toMatchObject({ c: { a: 1, self: '[Circular]' }, big: '1n', fn: '[Function: fn]', sym: 'Symbol(s)', g: '[Getter threw: trap]' })
    expect(String(e.extra.p)).toMatch(/^\[Unserializable/)
    expect(e.tags.bad).toBe('[Getter threw: trap]')
    expect(e.user).toEqual({ a: 1, self: '[Circular]' })
    expect(e.breadcrumbs).toHaveLength(2)
    expect(() => JSON.stringify(e)).not.toThrow()
  })

  it('cuts a 10 MB message to 8 KB, marks it, and stays fast', () => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 'm').toString()
    const err = caught(() => {
      throw new Error(huge)
    })
    const started = performance.now()
    const e = build({ error: err })
    const elapsed = performance.now() - started
    // Reading the stack once costs tens of milliseconds for 10 MB; the bound leaves room for a busy machine.
    expect(elapsed).toBeLessThan(1000)
    expect(e.exception!.value).toBe('m'.repeat(MAX_MESSAGE) + `...[truncated ${10 * 1024 * 1024 - MAX_MESSAGE} chars]`)
    expect(e.truncated).toContain('exception.value')
    // The stack after the huge header is still read: the innermost frame is the throw in this file.
    expect(innermost(e)).toMatchObject({ filename: 'test/event.test.ts', in_app: true })
    expect(size(e)).toBeLessThanOrEqual(MAX_EVENT_BYTES)
  })

  it('ignores frame-like lines inside the message', () => {
    const err = new Error('bad input:\n    at evil (/etc/passwd:1:1)')
    const e = build({ error: err })
    expect(e.exception!.stacktrace!.frames.some((f) => f.function === 'evil')).toBe(false)
  })

  it('keeps 100 frames of a 1000-deep recursion: the outermost 50 and the innermost 50', () => {
    Error.stackTraceLimit = Infinity
    const recurse = (n: number): never => {
      if (n === 0) throw new Error('too deep')
      return recurse(n - 1)
    }
    const err = caught(() => recurse(1000)) as Error
    const rawCount = err.stack!.split('\n').filter((l) => l.trimStart().startsWith('at ')).length
    expect(rawCount).toBeGreaterThan(1000)

    const e = build({ error: err })
    const st = e.exception!.stacktrace!
    expect(st.frames).toHaveLength(100)
    expect(st.frames_omitted).toEqual([50, rawCount - 50])
    expect(e.truncated).toContain('exception.stacktrace.frames')
    // The innermost 50 are the recursion itself, ending at the throw.
    expect(st.frames.slice(50).every((f) => f.function === 'recurse')).toBe(true)
    expect(st.frames.at(-1)!.context_line).toBe("      if (n === 0) throw new Error('too deep')")
    // The outermost 50 start from the entry point: the test runner, then this test.
    expect(st.frames[0].in_app).toBe(false)
    expect(st.frames.slice(0, 50).some((f) => f.function === 'caught')).toBe(true)
  })
})

describe('buildEvent size cap', () => {
  it('drops breadcrumb data first when the event is too large', () => {
    const crumbs = Array.from({ length: 100 }, (_, i) => ({ timestamp: new Date(i).toISOString(), message: `c${i}`, data: Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`f${k}`, 'b'.repeat(1000)])) }))
    const e = build({ error: new Error('x'), scope: scope({ breadcrumbs: crumbs, extra: { keep: 'me' } }) })
    expect(size(e)).toBeLessThanOrEqual(MAX_EVENT_BYTES)
    expect(e.truncated).toEqual(['breadcrumbs.data'])
    expect(e.breadcrumbs).toHaveLength(100)
    expect(e.extra).toEqual({ keep: 'me' })
  })

  it('drops extra next, then request data, listing what was cut', () => {
    const extra = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'e'.repeat(8000)]))
    const e = build({ error: new Error('x'), scope: scope({ extra, request: { url: '/a', data: { body: 'r'.repeat(8000) } } }) })
    expect(size(e)).toBeLessThanOrEqual(MAX_EVENT_BYTES)
    expect(e.extra).toEqual({})
    expect(e.truncated).toContain('extra')
    expect(e.request!.data).toEqual({ body: 'r'.repeat(8000) })

    const bodies = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, 'r'.repeat(8000)]))
    const big = build({ error: new Error('x'), scope: scope({ request: { url: '/a', data: bodies } }) })
    expect(size(big)).toBeLessThanOrEqual(MAX_EVENT_BYTES)
    expect(big.request).toEqual({ url: '/a' })
    expect(big.truncated).toContain('request.data')
  })
})

describe('the JSON kept for the store', () => {
  it('is exactly the event serialised, for repeated stacks, causes and cut events alike', () => {
    const cause = caught(inner)
    const events = [
      build({ error: caught(outer) }),
      build({ error: caught(outer) }),
      build({ error: new Error('wrapper', { cause }) }),
      build({ error: caught(throwSync), scope: scope({ extra: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'e'.repeat(8000)])) }) }),
      build({ message: 'no frames here' }),
    ]
    for (const event of events) expect(eventJson(event)).toBe(JSON.stringify(event))
    expect(events[3].truncated).toContain('extra')
  })

  it('keeps a message that looks like the frames marker as it is', () => {
    const error = new Error('"faultline-frames-00000000-0000-0000-0000-000000000000-0"')
    const event = build({ error })
    expect(eventJson(event)).toBe(JSON.stringify(event))
    expect(JSON.parse(eventJson(event)).exception.value).toBe(error.message)
  })
})

describe('buildEvent on internal failure', () => {
  it('returns a minimal event instead of throwing', () => {
    const e = buildEvent({ eventId: EVENT_ID, error: new TypeError('kept'), scope: undefined as unknown as ScopeData, options: options() })
    expect(e).toMatchObject({ event_id: EVENT_ID, level: 'error', exception: { type: 'TypeError', value: 'kept' }, truncated: ['event'] })
    expect(String(e.extra.faultline_error)).toContain('event could not be built in full')
  })
})

describe('buildEvent with stacks too deep to parse whole', () => {
  /** An Error whose stack is `depth` written frame lines: the outermost 50 are main0..main49, whatever the depth. */
  function writtenStack(depth: number): Error {
    const lines = ['Error: written by hand']
    for (let i = 0; i < depth - 50; i++) lines.push(`    at step${i} (/srv/app/steps.js:${i + 1}:3)`)
    for (let i = 0; i < 50; i++) lines.push(`    at main${i} (/srv/app/main.js:${i + 1}:3)`)
    return Object.assign(new Error('written by hand'), { stack: lines.join('\n') })
  }
  const names = (prefix: string, from: number) => Array.from({ length: 50 }, (_, i) => `${prefix}${from - i}`)

  it('keeps the outermost and innermost 50 frames of a 100,000-line stack and counts the rest', () => {
    const e = build({ error: writtenStack(100_000) })
    const st = e.exception!.stacktrace!
    // V8 writes the innermost call first: step0 threw, and main49 is the entry point
    expect(st.frames.map((f) => f.function)).toEqual([...names('main', 49), ...names('step', 49)])
    expect(st.frames_omitted).toEqual([50, 99_950])
    expect(e.truncated).toContain('exception.stacktrace.frames')
  })

  it('parses a deep stack failing again and again once, as it does a shallow one', () => {
    const first = build({ error: writtenStack(100_000) }).exception!.stacktrace!
    const again = build({ error: writtenStack(100_000) }).exception!.stacktrace!
    expect(again.frames[0]).toBe(first.frames[0])
    // one frame deeper differs only in the lines between the ends it keeps: counted anew
    const deeper = build({ error: writtenStack(100_001) }).exception!.stacktrace!
    expect(deeper.frames.map((f) => f.function)).toEqual(first.frames.map((f) => f.function))
    expect(deeper.frames_omitted).toEqual([50, 99_951])
  })

  it('keeps the outermost and innermost 50 frames of a recursion 10,000 calls deep and counts the rest', () => {
    // deeper than this overflows Node's default stack in a test worker (about 11,200 calls here)
    Error.stackTraceLimit = Infinity
    const recurse = (n: number): never => {
      if (n === 0) throw new Error('too deep')
      return recurse(n - 1)
    }
    const err = caught(() => recurse(10_000)) as Error
    Error.stackTraceLimit = savedLimit
    const lines = err.stack!.split('\n').filter((line) => /^\s*at /.test(line))
    expect(lines.length).toBeGreaterThan(10_000)

    const e = build({ error: err })
    const st = e.exception!.stacktrace!
    expect(st.frames).toHaveLength(100)
    expect(st.frames_omitted).toEqual([50, lines.length - 50])
    // each kept frame is the one its line in the stack describes, oldest first
    const written = (line: string) => line.match(/:(\d+):(\d+)\)?$/)?.slice(1).join(':') ?? 'none'
    const parsed = (f: StackFrame) => (f.lineno === undefined ? 'none' : `${f.lineno}:${f.colno}`)
    expect(st.frames.slice(0, 50).map(parsed)).toEqual(lines.slice(-50).reverse().map(written))
    expect(st.frames.slice(50).map(parsed)).toEqual(lines.slice(0, 50).reverse().map(written))
    expect(st.frames.slice(50).every((f) => f.function === 'recurse')).toBe(true)
    expect(st.frames.at(-1)!.context_line).toBe("      if (n === 0) throw new Error('too deep')")
    expect(build({ error: err }).exception!.stacktrace!.frames[0]).toBe(st.frames[0])
  })
})
