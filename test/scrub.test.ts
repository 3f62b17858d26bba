import { describe, it, expect } from 'vitest'
import { scrub, scrubRequest, scrubQueryInText, scrubQueryString, scrubText, FILTERED } from '../lib/scrub.js'
import { DEFAULT_SCRUB_FIELDS } from '../lib/options.js'

const fields = DEFAULT_SCRUB_FIELDS

describe('scrub', () => {
  it('filters values under keys that contain a sensitive word, in any case, at any depth', () => {
    const input = {
      user: 'ann',
      Password: 'hunter2',
      nested: { deeper: [{ apiKey: 'k-1', access_token: 't-1', name: 'ok' }] },
      SESSION_ID: 'abc',
    }
    expect(scrub(input, fields)).toEqual({
      user: 'ann',
      Password: FILTERED,
      nested: { deeper: [{ apiKey: FILTERED, access_token: FILTERED, name: 'ok' }] },
      SESSION_ID: FILTERED,
    })
  })

  it('returns a copy and leaves the input untouched', () => {
    const input = { token: 'abc', keep: { a: 1 } }
    const out = scrub(input, fields)
    expect(input.token).toBe('abc')
    expect(out).not.toBe(input)
    expect(out.keep).not.toBe(input.keep)
  })

  it('filters a whole object under a sensitive key', () => {
    expect(scrub({ credentials: { user: 'a', pass: 'b' } }, fields)).toEqual({ credentials: FILTERED })
  })

  it('uses extra fields given by the app', () => {
    expect(scrub({ ssn: '123-45-6789', card_number: '4111', other: 1 }, [...fields, 'ssn', 'card'])).toEqual({
      ssn: FILTERED, card_number: FILTERED, other: 1,
    })
  })

  it('filters secrets in query strings inside any string', () => {
    expect(scrub({ next: 'https://x.test/cb?code=1&token=abc#frag', note: 'plain text' }, fields)).toEqual({
      next: `https://x.test/cb?code=1&token=${FILTERED}#frag`, note: 'plain text',
    })
  })

  it('survives cycles, throwing getters and Proxies', () => {
    const cyc: Record<string, unknown> = { a: 1 }
    cyc.self = cyc
    expect(scrub(cyc, fields)).toEqual({ a: 1, self: '[Circular]' })
    const getter = { get password() { throw new Error('x') }, ok: 1 }
    expect(scrub(getter, fields)).toEqual({ password: FILTERED, ok: 1 })
    const proxy = new Proxy({}, { ownKeys() { throw new Error('trap') } })
    expect(scrub(proxy, fields)).toBe(FILTERED)
  })

  it('passes primitives through', () => {
    expect(scrub(42, fields)).toBe(42)
    expect(scrub(null, fields)).toBe(null)
  })
})

describe('scrubQueryString and scrubQueryInText', () => {
  it('filters sensitive parameters, also when their names are URL-encoded', () => {
    expect(scrubQueryString('page=2&api%5Fkey=xyz&q=shoes', fields)).toBe(`page=2&api%5Fkey=${FILTERED}&q=shoes`)
    expect(scrubQueryString('a&b=&password=pw', fields)).toBe(`a&b=&password=${FILTERED}`)
  })

  it('leaves text without a query string alone', () => {
    expect(scrubQueryInText('no query here', fields)).toBe('no query here')
    expect(scrubQueryInText('/path?flag', fields)).toBe('/path?flag')
  })
})

describe('scrubRequest', () => {
  it('filters the Authorization, Cookie, Set-Cookie and API key headers', () => {
    const out = scrubRequest({
      method: 'POST',
      url: '/login?redirect=/home&session=s1',
      headers: { authorization: 'Bearer abc', Cookie: 'sid=1', 'set-cookie': 'sid=2', 'x-api-key': 'k', 'user-agent': 'curl/8' },
      cookies: { sid: '1', theme: 'dark' },
      query_string: 'redirect=/home&session=s1',
      data: { username: 'ann', password: 'pw', profile: { secretAnswer: 'x' } },
    }, fields)
    expect(out).toEqual({
      method: 'POST',
      url: `/login?redirect=/home&session=${FILTERED}`,
      headers: { authorization: FILTERED, Cookie: FILTERED, 'set-cookie': FILTERED, 'x-api-key': FILTERED, 'user-agent': 'curl/8' },
      cookies: FILTERED,
      query_string: `redirect=/home&session=${FILTERED}`,
      data: { username: 'ann', password: FILTERED, profile: { secretAnswer: FILTERED } },
    })
  })

  it('filters bodies sent as JSON text or form-encoded text', () => {
    expect(scrubRequest({ data: '{"email":"a@b.c","password":"pw"}' }, fields).data).toBe(`{"email":"a@b.c","password":"${FILTERED}"}`)
    expect(scrubRequest({ data: 'email=a%40b.c&password=pw' }, fields).data).toBe(`email=a%40b.c&password=${FILTERED}`)
    expect(scrubRequest({ data: 'free text, no fields' }, fields).data).toBe('free text, no fields')
  })

  it('filters a query_string object like any other object', () => {
    expect(scrubRequest({ query_string: { token: 'abc', page: '1' } }, fields).query_string).toEqual({ token: FILTERED, page: '1' })
  })

  it('never throws on a hostile request', () => {
    const hostile = new Proxy({}, { get() { throw new Error('x') }, ownKeys() { throw new Error('y') } })
    expect(() => scrubRequest(hostile, fields)).not.toThrow()
  })
})

describe('scrubText', () => {
  const cases: Array<[string, string]> = [
    ['redis://:s3cret@cache:6379', 'redis://:[Filtered]@cache:6379'],
    ['Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig==', 'Authorization: Bearer [Filtered]'],
    ['{"password":"hunter2","name":"ann"}', '{"password":"[Filtered]","name":"ann"}'],
    ['{ apiKey: \'k-1\', pin: 1234, "secret": 42 }', '{ apiKey: \'[Filtered]\', pin: 1234, "secret": [Filtered] }'],
    ['cookie sid=abc; theme=dark', 'cookie sid=[Filtered]; theme=dark'],
    ['GET https://x.test/cb?code=1&token=abc#f', 'GET https://x.test/cb?code=1&token=[Filtered]#f'],
  ]
  it.each(cases)('filters %s', (text, expected) => {
    expect(scrubText(text, fields)).toBe(expected)
  })

  it('leaves prose and ordinary messages alone', () => {
    for (const text of ["Cannot read properties of undefined (reading 'token')", 'Unexpected token } in JSON at position 5', 'Invalid session: expired', 'q=0.9, text/html']) {
      expect(scrubText(text, fields)).toBe(text)
    }
  })
})
