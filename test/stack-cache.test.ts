import { describe, expect, it } from 'vitest'
import { StackCache } from '../lib/stack-cache.js'

describe('StackCache', () => {
  it('tells apart stacks of the same length, and finds a stack by its text whatever string holds it', () => {
    const cache = new StackCache<string>(4)
    const a = '\n    at a (/app/x.js:1:1)'
    const b = '\n    at b (/app/x.js:1:1)'
    cache.set(a, 'A')
    cache.set(b, 'B')
    expect(cache.get(`Error: one${a}`.slice(10))).toBe('A')
    expect(cache.get(`Error: two${b}`.slice(10))).toBe('B')
    expect(cache.get('\n    at c (/app/x.js:1:1)')).toBeUndefined()
  })

  it('forgets the oldest past its bound', () => {
    const cache = new StackCache<number>(3)
    for (let i = 0; i < 5; i++) cache.set(`at f${i}`, i)
    expect([0, 1, 2, 3, 4].map((i) => cache.get(`at f${i}`))).toEqual([undefined, undefined, 2, 3, 4])
    cache.set('at g', 9)
    expect(cache.get('at f2')).toBeUndefined()
    expect(cache.get('at g')).toBe(9)
  })
})
