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

  it('refuses a malformed retention option', () => {
    expect(() => memoryStore({ retention: { maxEventsPerIssue: 0, maxAgeMs: 1 } })).toThrow(/maxEventsPerIssue/)
  })
})
