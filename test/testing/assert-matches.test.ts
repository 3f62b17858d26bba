import { AssertionError } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { assertMatches } from '../../testing/assert-matches.js'

const issue = { id: 'a1', count: 3, status: 'ignored', ignoreUntil: { count: 5 }, environments: ['production', 'staging'], resolvedAt: null }

describe('assertMatches, the partial match of the conformance suite', () => {
  it('passes when every named property has its value, at any depth, whatever else is there', () => {
    expect(() => assertMatches(issue, { count: 3, ignoreUntil: { count: 5 }, resolvedAt: null })).not.toThrow()
    expect(() => assertMatches({ issues: [issue, { ...issue, id: 'b2' }] }, { issues: [{ id: 'a1' }, { id: 'b2' }] })).not.toThrow()
    expect(() => assertMatches(issue, { environments: ['production', 'staging'] })).not.toThrow()
  })

  it('fails on a different value, naming it', () => {
    expect(() => assertMatches(issue, { status: 'ignored', count: 4 })).toThrow(AssertionError)
    expect(() => assertMatches(issue, { count: 4 })).toThrow(/count: 3[\s\S]*count: 4/)
    // the same value of another type is another value
    expect(() => assertMatches(issue, { count: '3' })).toThrow(AssertionError)
  })

  it('fails on a missing property, even one expected to be undefined or null', () => {
    expect(() => assertMatches(issue, { shed: 0 })).toThrow(/shed/)
    expect(() => assertMatches(issue, { shed: undefined })).toThrow(AssertionError)
    expect(() => assertMatches({ ...issue, resolvedAt: undefined }, { resolvedAt: null })).toThrow(AssertionError)
  })

  it('fails on a nested mismatch, and where an object was expected but null came', () => {
    expect(() => assertMatches(issue, { ignoreUntil: { count: 6 } })).toThrow(AssertionError)
    expect(() => assertMatches(issue, { ignoreUntil: { users: 5 } })).toThrow(AssertionError)
    expect(() => assertMatches({ ...issue, ignoreUntil: null }, { ignoreUntil: { count: 5 } })).toThrow(AssertionError)
    expect(() => assertMatches(null, { count: 3 })).toThrow(AssertionError)
  })

  it('fails on arrays of another length or with another item, in order', () => {
    expect(() => assertMatches(issue, { environments: ['production'] })).toThrow(AssertionError)
    expect(() => assertMatches(issue, { environments: ['staging', 'production'] })).toThrow(AssertionError)
    expect(() => assertMatches({ issues: [issue] }, { issues: [{ id: 'a1' }, { id: 'b2' }] })).toThrow(AssertionError)
    expect(() => assertMatches({ issues: [issue] }, { issues: [{ id: 'zz' }] })).toThrow(AssertionError)
  })
})
