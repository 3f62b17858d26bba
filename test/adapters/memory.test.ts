import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import defaultExport from '../../adapters/memory.js'
import { storeConformance, makeInput, issueId } from '../../testing/index.js'

storeConformance('memory', () => memoryStore(), { describe, it })

describe('memoryStore', () => {
  it('is also the default export', () => {
    expect(defaultExport).toBe(memoryStore)
  })

  it('trims an issue to its retention when an error storm doubles it between sweeps', async () => {
    const store = memoryStore({ retention: { maxEventsPerIssue: 10, maxAgeMs: 86_400_000 } })
    for (let i = 0; i < 21; i++) await store.record(makeInput({ time: Date.now() + i }))
    const { events } = await store.listEvents(issueId('checkout'), { limit: 100 })
    expect(events).toHaveLength(10)
    expect((await store.getIssue(issueId('checkout')))!.count).toBe(21)
  })

  it('details at most 1,000 users of an issue, the busiest kept, while userCount stays exact', async () => {
    const store = memoryStore()
    const t = Date.now() - 60_000
    for (let i = 0; i < 3; i++) await store.record(makeInput({ time: t, user: 'regular' }))
    for (let i = 0; i < 1500; i++) await store.record({ ...makeInput({ time: t + i, user: `visitor${i}` }), shed: true })
    expect((await store.getIssue(issueId('checkout')))!.userCount).toBe(1501)
    const keys: string[] = []
    let cursor: string | null = null
    do {
      const page: Awaited<ReturnType<typeof store.listUsers>> = await store.listUsers(issueId('checkout'), { limit: 100, cursor })
      keys.push(...page!.users.map((u) => u.key))
      cursor = page!.nextCursor
    } while (cursor !== null)
    expect(keys.length).toBeGreaterThanOrEqual(1000)
    expect(keys.length).toBeLessThanOrEqual(1100)
    expect(keys[0]).toBe('regular')
    // the most recent of the visitors are the ones kept
    expect(keys).toContain('visitor1499')
    expect(keys).not.toContain('visitor0')
  })

  it('refuses a malformed retention option', () => {
    expect(() => memoryStore({ retention: { maxEventsPerIssue: 0, maxAgeMs: 1 } })).toThrow(/maxEventsPerIssue/)
  })
})
