import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import request from 'supertest'
import os from 'node:os'
import path from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { fileStore, type FileStore } from '../../adapters/file.js'
import { capture, failingLookup, panelServer, paymentError } from './helpers.js'
import { historyPages } from './history-pages.js'

describe('the panel over the file store', () => {
  let dir: string
  let store: FileStore

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-panel-'))
    store = fileStore({ path: path.join(dir, 'errors.json') })
    for (let i = 0; i < 3; i++) await capture(store, { error: failingLookup(i), tags: { browser: 'Chrome' }, user: { id: `u${i}` } })
    await capture(store, { error: paymentError(), tags: { browser: 'Safari' } })
    await store.flush()
  })

  afterAll(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists, searches, shows an issue with its events, and resolves it through the API', async () => {
    const app = panelServer(store)
    const list = await request(app).get('/errors').expect(200)
    expect(list.text).toContain('TypeError: Cannot read properties of undefined')
    const safari = await request(app).get('/errors?q=browser:safari').expect(200)
    expect(safari.text).toContain('Error: Payment failed')
    expect(safari.text).not.toContain('TypeError: Cannot read')

    const { issues } = (await request(app).get('/errors/api/issues?sort=events').expect(200)).body
    const id = issues[0].id
    const page = await request(app).get(`/errors/issues/${id}`).expect(200)
    expect(page.text).toContain('Latest event')
    expect(page.text).toMatch(/Chrome<\/a>\s*<span class="muted">100%<\/span>/)
    await request(app).patch(`/errors/api/issues/${id}`).send({ status: 'resolved' }).expect(200)
    await store.flush()
    expect((await store.getIssue(id))!.status).toBe('resolved')
    await request(app).get('/errors/issues/__proto__').expect(404)
  })
})

// the same pages as on the memory store, each over a file store of its own
const dirs = new Map<FileStore, string>()
historyPages('file store', {
  async open() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'faultline-panel-history-'))
    const store = fileStore({ path: path.join(dir, 'errors.json') })
    dirs.set(store, dir)
    return store
  },
  async close(store) {
    await store.close()
    await rm(dirs.get(store as FileStore)!, { recursive: true, force: true })
  },
})
