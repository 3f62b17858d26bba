import { describe, it, expect } from 'vitest'
import { normalize, describeThrown, truncateString } from '../lib/normalize.js'

/** Normalised output must survive JSON unchanged: that is what "JSON-safe" means for the store. */
function roundTrips(value: unknown): unknown {
  const out = normalize(value)
  expect(JSON.parse(JSON.stringify(out))).toEqual(out)
  return out
}

describe('normalize', () => {
  it('keeps plain JSON data as it is', () => {
    const data = { a: 1, b: 'two', c: [true, null, { d: 4.5 }] }
    expect(roundTrips(data)).toEqual(data)
  })

  it('marks cycles without repeating them, and keeps shared (non-cyclic) references', () => {
    const a: Record<string, unknown> = { name: 'a' }
    a.self = a
    const shared = { x: 1 }
    expect(roundTrips({ a, left: shared, right: shared })).toEqual({
      a: { name: 'a', self: '[Circular]' }, left: { x: 1 }, right: { x: 1 },
    })
    const list: unknown[] = [1]
    list.push(list)
    expect(normalize(list)).toEqual([1, '[Circular]'])
  })

  it('replaces a getter that throws with a note naming the error', () => {
    const obj = { ok: 1, get bad() { throw new Error('no access') } }
    expect(roundTrips(obj)).toEqual({ ok: 1, bad: '[Getter threw: no access]' })
  })

  it('survives Proxies whose traps throw', () => {
    const hostile = new Proxy({}, {
      ownKeys() { throw new Error('ownKeys trap') },
      get() { throw new Error('get trap') },
      getPrototypeOf() { throw new Error('proto trap') },
    })
    expect(() => normalize(hostile)).not.toThrow()
    expect(normalize(hostile)).toMatch(/^\[Unserializable: .*trap\]$/)
    expect(normalize({ inner: hostile, fine: 2 })).toMatchObject({ fine: 2 })
    // A well-behaved Proxy is read like the object it wraps.
    expect(normalize(new Proxy({ a: 1 }, {}))).toEqual({ a: 1 })
  })

  it('writes BigInt, Symbols, functions, NaN, Infinity and undefined as strings', () => {
    function namedFn() {}
    expect(roundTrips({ big: 123n, sym: Symbol('tag'), fn: namedFn, anon: (() => () => 1)(), nan: NaN, inf: -Infinity, u: undefined })).toEqual({
      big: '123n', sym: 'Symbol(tag)', fn: '[Function: namedFn]', anon: '[Function: <anonymous>]', nan: '[NaN]', inf: '[-Infinity]', u: '[undefined]',
    })
  })

  it('writes Dates as ISO text and invalid dates as a note', () => {
    expect(normalize({ at: new Date('2024-01-02T03:04:05Z'), bad: new Date('nope') })).toEqual({ at: '2024-01-02T03:04:05.000Z', bad: '[Invalid Date]' })
  })

  it('writes Errors with name, message, stack, own fields and cause', () => {
    const cause = new RangeError('inner')
    const err = Object.assign(new TypeError('outer', { cause }), { code: 'E_X' })
    const out = roundTrips(err) as Record<string, any>
    expect(out).toMatchObject({ name: 'TypeError', message: 'outer', code: 'E_X', cause: { name: 'RangeError', message: 'inner' } })
    expect(out.stack).toContain('TypeError: outer')
  })

  it('writes Maps as entry pairs and Sets as lists', () => {
    expect(roundTrips({ m: new Map<unknown, unknown>([['a', 1], [{ k: 1 }, 'obj']]), s: new Set([1, 'x']) })).toEqual({
      m: [['a', 1], [{ k: 1 }, 'obj']], s: [1, 'x'],
    })
  })

  it('summarises binary data instead of copying it', () => {
    expect(normalize({ buf: Buffer.alloc(2048), u8: new Uint8Array(10), ab: new ArrayBuffer(16), dv: new DataView(new ArrayBuffer(4)) })).toEqual({
      buf: '[Buffer: 2048 bytes]', u8: '[Uint8Array: 10 items]', ab: '[ArrayBuffer: 16 bytes]', dv: '[DataView: 4 bytes]',
    })
  })

  it('cuts huge strings and says how much was cut', () => {
    const truncated: string[] = []
    const out = normalize({ body: 'x'.repeat(10_000) }, { maxString: 100, truncated, path: 'extra' }) as { body: string }
    expect(out.body).toBe('x'.repeat(100) + '...[truncated 9900 chars]')
    expect(truncated).toEqual(['extra.body'])
  })

  it('replaces what lies beyond the depth cap by [Object] or [Array]', () => {
    const truncated: string[] = []
    const deep = { l1: { l2: { l3: { obj: { x: 1 }, arr: [1] } } } }
    expect(normalize(deep, { depth: 3, truncated })).toEqual({ l1: { l2: { l3: '[Object]' } } })
    expect(normalize(deep, { depth: 4 })).toEqual({ l1: { l2: { l3: { obj: '[Object]', arr: '[Array]' } } } })
    expect(truncated).toEqual(['l1.l2.l3'])
  })

  it('cuts objects and arrays with too many entries and says how many more there were', () => {
    const wide = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`k${i}`, i]))
    const out = normalize(wide) as Record<string, unknown>
    expect(Object.keys(out)).toHaveLength(101)
    expect(out['[truncated]']).toBe('50 more keys')
    expect(out.k99).toBe(99)
    const arr = normalize(Array.from({ length: 150 }, (_, i) => i)) as unknown[]
    expect(arr).toHaveLength(101)
    expect(arr[100]).toBe('[50 more items]')
  })

  it('stops walking after a fixed number of values, so a huge graph stays small', () => {
    // 100^3 leaves would be a million values; the node budget keeps the output bounded.
    const level = (n: number): unknown => (n === 0 ? 1 : Array.from({ length: 100 }, () => level(n - 1)))
    const truncated: string[] = []
    const out = normalize(level(3), { maxNodes: 1000, truncated })
    const text = JSON.stringify(out)
    expect(text).toContain('[99 more items]')
    expect(text.length).toBeLessThan(5_000)
    expect(truncated.length).toBeGreaterThan(0)
    expect(truncated.length).toBeLessThanOrEqual(20)
  })

  it('uses toJSON of class instances', () => {
    class Money {
      constructor(private cents: number) {}
      toJSON() { return `${this.cents / 100} EUR` }
    }
    expect(normalize({ price: new Money(1250), url: new URL('https://x.test/a') })).toEqual({ price: '12.5 EUR', url: 'https://x.test/a' })
  })

  it('never throws, whatever it is given', () => {
    const cases: unknown[] = [
      undefined, null, Symbol(), 1n, () => {}, Object.create(null), new WeakMap(), Promise.resolve(),
      new Proxy(function () {}, { get() { throw new Error('x') } }),
      { toJSON() { throw new Error('toJSON failed') } },
      Object.defineProperty(new Error('e'), 'stack', { get() { throw new Error('stack getter') } }),
    ]
    for (const value of cases) {
      expect(() => JSON.stringify(normalize(value))).not.toThrow()
    }
  })
})

describe('truncateString', () => {
  it('leaves short text alone and marks cut text', () => {
    expect(truncateString('abc', 3)).toBe('abc')
    expect(truncateString('abcdef', 3)).toBe('abc...[truncated 3 chars]')
  })
})

describe('describeThrown', () => {
  it('describes an Error by its name, message and stack', () => {
    const err = new TypeError('bad input')
    expect(describeThrown(err)).toEqual({ type: 'TypeError', value: 'bad input', stack: err.stack })
  })

  it('names a subclass that does not set its name by its class', () => {
    class NotFound extends Error {}
    expect(describeThrown(new NotFound('missing')).type).toBe('NotFound')
    class Named extends Error { override name = 'HttpError' }
    expect(describeThrown(new Named('x')).type).toBe('HttpError')
  })

  it('keeps the cause for the caller to follow', () => {
    const cause = new Error('root')
    expect(describeThrown(new Error('top', { cause })).cause).toBe(cause)
  })

  it('treats a thrown string as the message of an Error', () => {
    expect(describeThrown('it broke')).toEqual({ type: 'Error', value: 'it broke' })
  })

  it('describes null, undefined, numbers and other primitives', () => {
    expect(describeThrown(null)).toEqual({ type: 'Error', value: 'Non-Error exception captured: null' })
    expect(describeThrown(undefined)).toEqual({ type: 'Error', value: 'Non-Error exception captured: undefined' })
    expect(describeThrown(42)).toEqual({ type: 'Error', value: 'Non-Error exception captured: 42' })
    expect(describeThrown(7n).value).toBe('Non-Error exception captured: 7n')
    expect(describeThrown(Symbol('s')).value).toBe('Non-Error exception captured: Symbol(s)')
  })

  it('names a plain object by its keys and keeps its data', () => {
    expect(describeThrown({ code: 500, reason: 'db' })).toEqual({
      type: 'Error', value: 'Non-Error exception captured with keys: code, reason', data: { code: 500, reason: 'db' },
    })
    expect(describeThrown({}).value).toBe('Non-Error exception captured with keys: [object has no keys]')
  })

  it('names an object of a class by its class', () => {
    class Failure { constructor(public step = 'pay') {} }
    expect(describeThrown(new Failure()).value).toBe("'Failure' object captured with keys: step")
  })

  it('uses name and message of error-like objects', () => {
    expect(describeThrown({ name: 'AxiosError', message: 'Request failed with status code 500' })).toMatchObject({
      type: 'AxiosError', value: 'Request failed with status code 500',
    })
  })

  it('copes with cycles in thrown objects', () => {
    const obj: Record<string, unknown> = { a: 1 }
    obj.self = obj
    expect(describeThrown(obj)).toEqual({ type: 'Error', value: 'Non-Error exception captured with keys: a, self', data: { a: 1, self: '[Circular]' } })
  })

  it('copes with Errors whose message, name and stack getters throw', () => {
    const err = new Error('hidden')
    // Redefining `stack` formats the pending stack, which reads `name`: replace it first.
    for (const key of ['stack', 'message', 'name']) {
      Object.defineProperty(err, key, { get() { throw new Error(`${key} denied`) } })
    }
    const out = describeThrown(err)
    expect(out.type).toBe('Error')
    expect(out.value).toBe('[message getter threw: message denied]')
    expect(out.stack).toBeUndefined()
  })

  it('copes with a Proxy whose every trap throws', () => {
    const trap = () => { throw new Error('trap') }
    const proxy = new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, has: trap, getOwnPropertyDescriptor: trap })
    const out = describeThrown(proxy)
    expect(out.type).toBe('Error')
    expect(typeof out.value).toBe('string')
  })
})
