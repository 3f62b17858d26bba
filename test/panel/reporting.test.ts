/**
 * Panel failures reach onInternalError as the tracker's other repeating failures do: once per kind
 * every 10 s, then with a count of those left out. A store that is down fails every page an admin
 * opens and every refresh; a custom onInternalError (a pager, a chat hook) must not get each one.
 */
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import type { Store } from '../../lib/types.js'
import { panelServer, seededStore } from './helpers.js'

/** A store whose every read fails, as one whose database is down. */
function failingReads(store: Store): Store {
  for (const method of ['listIssues', 'countIssues', 'getIssue', 'listEvents', 'getEvent', 'eventNeighbors', 'histogram', 'tagBreakdown', 'countEventsSince'] as const) {
    ;(store as unknown as Record<string, unknown>)[method] = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
    }
  }
  return store
}

describe('panel failures reported to onInternalError', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reports 50 failing panel requests once, then the next one with how many were left out', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { ids } = await seededStore()
    const errors: Error[] = []
    const server = panelServer(failingReads(memoryStore()), { onInternalError: (e) => errors.push(e) })
    const paths = ['/errors', '/errors/api/issues', `/errors/issues/${ids.lookup}`, `/errors/api/issues/${ids.lookup}/events`, '/errors/?q=browser:chrome']
    for (let i = 0; i < 50; i++) await request(server).get(paths[i % paths.length]).expect(503)
    expect(errors.map((e) => e.message)).toEqual(['faultline: the store failed on listIssues: connect ECONNREFUSED 127.0.0.1:5432'])

    vi.setSystemTime(Date.now() + 10_001)
    await request(server).get('/errors/api/issues').expect(503)
    expect(errors).toHaveLength(2)
    expect(errors[1].message).toBe('faultline: the store failed on listIssues: connect ECONNREFUSED 127.0.0.1:5432 (49 more like this left out)')
  })

  it('says a panel.auth that throws on every request once, too', async () => {
    const errors: Error[] = []
    const server = panelServer(failingReads(memoryStore()), {
      panel: { auth: () => { throw new Error('session store down') } },
      onInternalError: (e) => errors.push(e),
    })
    for (let i = 0; i < 20; i++) await request(server).get('/errors').expect(403)
    expect(errors.map((e) => e.message)).toEqual(['faultline: panel.auth threw, so the request was denied: session store down'])
  })
})
