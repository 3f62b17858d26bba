/** How the conformance suite runs its tests, seen through a runner that only collects them. */
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import type { Store } from '../../lib/types.js'
import { storeConformance, type ConformanceOptions } from '../../testing/index.js'

/** The suite's tests by title, to run one by one. */
function collect(makeStore: () => Store, cleanup?: ConformanceOptions['cleanup']): Map<string, () => Promise<void>> {
  const tests = new Map<string, () => Promise<void>>()
  storeConformance('collected', makeStore, { describe: (_name, fn) => fn(), it: (title, fn) => { tests.set(title, fn) }, cleanup })
  return tests
}

describe('storeConformance', () => {
  it('gives each test a fresh store and closes it after the test', async () => {
    const made: Array<{ closed: number }> = []
    const tests = collect(() => {
      const store = memoryStore()
      const seen = { closed: 0 }
      made.push(seen)
      return { ...store, close: async () => { seen.closed++ } }
    })
    expect(made).toEqual([])
    await tests.get('is true only for the first claim of a key')!()
    // a claim made in the first test is not standing in the second: its store is another
    await tests.get('is true only for the first claim of a key')!()
    expect(made).toEqual([{ closed: 1 }, { closed: 1 }])
  })

  it("cleans up after a failed test too, and reports the test's failure rather than the cleanup's", async () => {
    const cleaned: Store[] = []
    let made: Store | null = null
    const tests = collect(() => {
      made = { ...memoryStore(), record: async () => { throw new Error('the disk is gone') } }
      return made
    }, async (store) => {
      cleaned.push(store)
      throw new Error('cleanup failed too')
    })
    await expect(tests.get('creates an unresolved issue from the first event of a fingerprint')!()).rejects.toThrow('the disk is gone')
    expect(cleaned).toHaveLength(1)
    expect(cleaned[0]).toBe(made)
  })
})
