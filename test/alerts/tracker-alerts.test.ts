import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import express from 'express'
import request from 'supertest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fileStore } from '../../adapters/file.js'
import { memoryStore } from '../../adapters/memory.js'
import { createAlerter } from '../../lib/alerts/alerter.js'
import { createTracker, type Tracker, type TrackerOptions } from '../../lib/index.js'
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.js'
import { alertOptions, recordEvent } from './fixtures.js'

let smtp: SmtpTestServer
let trackers: Tracker[]

beforeEach(async () => {
  smtp = await startSmtp()
  trackers = []
})

afterEach(async () => {
  for (const t of trackers) await t.close()
  await smtp.close()
})

function newTracker(options: Partial<TrackerOptions> = {}): Tracker {
  const tracker = createTracker({
    store: memoryStore(),
    appName: 'shop',
    captureUncaught: false,
    captureUnhandledRejections: false,
    mail: { transport: smtp.url, to: 'team@example.com', baseUrl: 'https://shop.example.com' },
    ...options,
  })
  trackers.push(tracker)
  return tracker
}

describe('alerts through the tracker', () => {
  it('keeps close() to its timeout while the mail server hangs, and says how many alerts it dropped', async () => {
    smtp.setMode({ kind: 'hang' })
    const internal: string[] = []
    const tracker = newTracker({ onInternalError: (err) => internal.push(err.message) })
    for (const name of ['a', 'b', 'c']) tracker.captureException(new Error(`failure ${name}`), { fingerprint: [name] })
    const started = Date.now()
    await tracker.close(1500)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(internal.some((m) => /close\(\): [1-3] alerts were not sent within 1500 ms and are dropped/.test(m))).toBe(true)
  }, 15_000)


  it('emails a captured exception once flush resolves', async () => {
    const tracker = newTracker()
    tracker.captureException(new RangeError('quota exceeded'), { tags: { tenant: 'acme' } })
    expect(await tracker.flush()).toBe(true)
    expect(smtp.messages.map((m) => m.parsed.subject)).toEqual(['[shop] New issue: RangeError: quota exceeded'])
    expect(smtp.messages[0].parsed.text).toContain('tenant = acme')
  })

  it('follows a route from first failure to the 100th event to a regression, with links the panel serves', async () => {
    const tracker = newTracker({ rules: [{ when: 'new' }, { when: { events: 100 } }, { when: 'regression' }] })
    const app = express()
    app.use(tracker.express())
    app.get('/checkout', () => {
      throw new TypeError("Cannot read properties of undefined (reading 'cart')")
    })

    await request(app).get('/checkout?step=1').expect(500)
    expect(await tracker.flush()).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    const first = smtp.messages[0].parsed
    expect(first.subject).toBe("[shop] New issue: TypeError: Cannot read properties of undefined (reading 'cart')")
    expect(first.text).toMatch(/Request: {4}GET http:\/\/127\.0\.0\.1:\d+\/checkout\?step=1/)
    const link = /View the issue: (https:\/\/shop\.example\.com(\/errors\/issues\/[0-9a-f]+))/.exec(first.text ?? '')
    expect(link).not.toBeNull()
    // the link leads to the issue's page in the panel
    const page = await request(app).get(link![2]).expect(200)
    expect(page.text).toContain('Cannot read properties of undefined (reading &#39;cart&#39;)')

    for (let i = 0; i < 98; i++) await request(app).get('/checkout').expect(500)
    expect(await tracker.flush()).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    await request(app).get('/checkout').expect(500)
    expect(await tracker.flush()).toBe(true)
    expect(smtp.messages.map((m) => m.parsed.subject)).toEqual([
      "[shop] New issue: TypeError: Cannot read properties of undefined (reading 'cart')",
      "[shop] 100 events: TypeError: Cannot read properties of undefined (reading 'cart')",
    ])

    const id = link![2].split('/').pop()!
    await tracker.store.updateIssue(id, { status: 'resolved' })
    await request(app).get('/checkout').expect(500)
    expect(await tracker.flush()).toBe(true)
    expect(smtp.messages[2]?.parsed.subject).toBe("[shop] Regression: TypeError: Cannot read properties of undefined (reading 'cart')")
    expect(smtp.messages).toHaveLength(3)
  }, 60_000)

  it('keeps an error storm to the hourly cap plus one summary', async () => {
    const tracker = newTracker()
    const started = process.hrtime.bigint()
    for (let i = 0; i < 10_000; i++) tracker.captureException(new Error(`storm ${i}`), { fingerprint: [`storm-${i}`] })
    const captureMs = Number(process.hrtime.bigint() - started) / 1e6
    expect(await tracker.flush(60_000)).toBe(true)
    expect(smtp.messages).toHaveLength(20)
    await tracker.close()
    await smtp.waitFor(21)
    await new Promise((r) => setTimeout(r, 200))
    expect(smtp.messages).toHaveLength(21)
    expect(smtp.messages[20].parsed.subject).toMatch(/^\[shop\] \d+ more alerts held back by the hourly limit$/)
    console.log(`tracker storm: 10000 captureException calls took ${captureMs.toFixed(0)}ms; ${smtp.messages.length} emails; summary: ${smtp.messages[20].parsed.subject}; ${/could not be checked/.test(smtp.messages[20].parsed.text ?? "") ? "some checks dropped" : "no checks dropped"}`)
  }, 120_000)
})

describe('after a restart on the file store', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-alerts-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('does not send the same alert again', async () => {
    const file = path.join(dir, 'errors.json')
    const rules = [{ when: 'new' as const }, { when: { events: 3 } }]
    const mail = { transport: smtp.url, to: 'team@example.com' }

    const store1 = fileStore({ path: file })
    const options1 = alertOptions(store1, { mail, rules })
    const alerter1 = createAlerter({ store: store1, options: options1 })
    for (let i = 0; i < 3; i++) await recordEvent(store1, alerter1, options1)
    expect(await alerter1.flush(5000)).toBe(true)
    await alerter1.close()
    await store1.close()
    expect(smtp.messages.map((m) => m.parsed.subject?.split(':')[0])).toEqual(['[shop] New issue', '[shop] 3 events'])

    const store2 = fileStore({ path: file })
    const options2 = alertOptions(store2, { mail, rules })
    const alerter2 = createAlerter({ store: store2, options: options2 })
    for (let i = 0; i < 3; i++) await recordEvent(store2, alerter2, options2)
    expect(await alerter2.flush(5000)).toBe(true)
    await alerter2.close()
    expect((await store2.listIssues()).issues[0].count).toBe(6)
    await store2.close()
    expect(smtp.messages).toHaveLength(2)
  })
})
