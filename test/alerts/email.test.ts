import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import { createAlerter, type AlerterTuning } from '../../lib/alerts/alerter.js'
import type { Store } from '../../lib/types.js'
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.js'
import { alertOptions, recordEvent, type RecordOptions } from './fixtures.js'
import type { Rule, TrackerOptions } from '../../lib/types.js'

const FAST: Partial<AlerterTuning> = { mail: { backoffMs: 50 }, webhook: { backoffMs: 50 } }

let smtp: SmtpTestServer
let store: Store
let errors: Error[]
let closers: Array<() => Promise<void>>

beforeEach(async () => {
  smtp = await startSmtp()
  store = memoryStore()
  errors = []
  closers = []
})

afterEach(async () => {
  for (const close of closers) await close()
  await smtp.close()
})

/** An alerter on the shared store, mailing the test SMTP server. */
function setup(rules?: Rule[], over: Partial<TrackerOptions> = {}, tuning: Partial<AlerterTuning> = FAST) {
  const options = alertOptions(store, {
    mail: { transport: smtp.url, to: 'team@example.com', baseUrl: 'https://shop.example.com' },
    ...(rules ? { rules } : {}),
    ...over,
  }, errors)
  const alerter = createAlerter({ store, options, tuning })
  closers.push(() => alerter.close())
  const record = (o: RecordOptions = {}) => recordEvent(store, alerter, options, o)
  return { alerter, options, record }
}

/** Waits for the alerter, then for mail that may still be on its way; returns the subjects. */
async function subjects(alerter: { flush(t?: number): Promise<boolean> }): Promise<string[]> {
  expect(await alerter.flush(5000)).toBe(true)
  return smtp.messages.map((m) => m.parsed.subject ?? '')
}

function failAt(where: string): Error {
  const err = new TypeError(`Cannot read properties of undefined (reading '${where}')`)
  return err
}

describe('alert rules, by email', () => {
  it('emails the first event of a new issue once, with a link to it in the panel', async () => {
    const { alerter, record } = setup()
    // the same failure twice from one call site: one issue
    const recorded = []
    for (const more of [{ request: { method: 'GET', url: 'https://shop.example.com/users/42?tab=orders' }, tags: { route: 'users' } }, {}]) {
      recorded.push(await record({ error: failAt('id'), ...more }))
    }
    const { result } = recorded[0]
    expect(await subjects(alerter)).toEqual(["[shop] New issue: TypeError: Cannot read properties of undefined (reading 'id')"])
    const mail = smtp.messages[0]
    expect(mail.envelopeTo).toEqual(['team@example.com'])
    const link = `https://shop.example.com/errors/issues/${result.issue.id}`
    expect(mail.parsed.text).toContain(`View the issue: ${link}`)
    expect(mail.parsed.html).toContain(`href="${link}"`)
    // why it fired, where it happened (with the source line), and the context
    expect(mail.parsed.text).toContain('seen for the first time')
    expect(mail.parsed.text).toContain('test/alerts/email.test.ts')
    expect(mail.parsed.text).toContain("new TypeError(`Cannot read properties of undefined (reading '${where}')`)")
    expect(mail.parsed.text).toContain('Request:    GET https://shop.example.com/users/42?tab=orders')
    expect(mail.parsed.text).toContain('Environment: production')
    expect(mail.parsed.text).toContain('Release: 1.2.3')
    expect(mail.parsed.text).toContain('route = users')
    expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated')
  })

  it('emails when an issue reaches its event threshold, once, and again counting from a regression', async () => {
    const { alerter, record } = setup([{ when: { events: 5 } }, { when: 'regression' }])
    let id = ''
    for (let i = 0; i < 9; i++) id = (await record()).result.issue.id
    expect(await subjects(alerter)).toEqual(["[shop] 5 events: TypeError: Cannot read properties of undefined (reading 'id')"])
    expect(smtp.messages[0].parsed.text).toContain('reached 5 events since it was first seen')

    await store.updateIssue(id, { status: 'resolved' })
    for (let i = 0; i < 4; i++) await record()
    expect((await subjects(alerter)).slice(1)).toEqual(["[shop] Regression: TypeError: Cannot read properties of undefined (reading 'id')"])
    await record()
    const all = await subjects(alerter)
    expect(all).toHaveLength(3)
    expect(all[2]).toBe("[shop] 5 events: TypeError: Cannot read properties of undefined (reading 'id')")
    expect(smtp.messages[2].parsed.text).toMatch(/reached 5 events since it regressed on/)
  })

  it('sends one email per milestone', async () => {
    const { alerter, record } = setup([{ when: { events: [2, 4, 8] } }])
    for (let i = 0; i < 10; i++) await record()
    expect((await subjects(alerter)).map((s) => s.split(':')[0])).toEqual(['[shop] 2 events', '[shop] 4 events', '[shop] 8 events'])
  })

  it('fires a sliding window only when enough events fall inside it', async () => {
    const { alerter, record } = setup([{ when: { events: 3, within: '1h' } }])
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000)
    for (let i = 0; i < 3; i++) await record({ timestamp: twoHoursAgo })
    await record()
    await record()
    expect(await subjects(alerter)).toEqual([])
    await record()
    expect(await subjects(alerter)).toEqual(["[shop] 3 events in 1h: TypeError: Cannot read properties of undefined (reading 'id')"])
    expect(smtp.messages[0].parsed.text).toContain('3 events in the last 1h')
    // the window's claim stands for the window: more events inside it send nothing more
    for (let i = 0; i < 5; i++) await record()
    expect(await subjects(alerter)).toHaveLength(1)
  })

  it('counts a short window from its exact start, not from the start of its first minute', async () => {
    // only Date is faked: 00:01:30, so the one-minute window starts at 00:00:30, inside the minute from 00:00
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(new Date('2026-01-01T00:01:30Z'))
      const { alerter, record } = setup([{ when: { events: 3, within: '1m' } }])
      const beforeTheWindow = new Date('2026-01-01T00:00:10Z')
      for (let i = 0; i < 2; i++) await record({ timestamp: beforeTheWindow })
      await record({ timestamp: new Date('2026-01-01T00:01:20Z') })
      // three events in minutes 00:00 and 00:01, but one inside the last minute
      expect(await subjects(alerter)).toEqual([])
      await record({ timestamp: new Date('2026-01-01T00:01:25Z') })
      await record({ timestamp: new Date('2026-01-01T00:01:29Z') })
      expect((await subjects(alerter)).map((s) => s.split(':')[0])).toEqual(['[shop] 3 events in 1m'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('emails when an issue affects enough distinct users', async () => {
    const { alerter, record } = setup([{ when: { users: 3 } }])
    for (let i = 0; i < 5; i++) await record({ user: { id: i % 2 } })
    await record()
    expect(await subjects(alerter)).toEqual([])
    await record({ user: { email: 'third@example.com' } })
    await record({ user: { id: 'fourth' } })
    expect(await subjects(alerter)).toEqual(["[shop] 3 users: TypeError: Cannot read properties of undefined (reading 'id')"])
    expect(smtp.messages[0].parsed.text).toContain('3 distinct users affected')
  })

  it('fires a combined rule only when all of its keys hold', async () => {
    const { alerter, record } = setup([{ when: { events: 3, users: 2 } }])
    for (let i = 0; i < 4; i++) await record({ user: { id: 'same' } })
    expect(await subjects(alerter)).toEqual([])
    await record({ user: { id: 'other' } })
    expect(await subjects(alerter)).toEqual(["[shop] 3 events, 2 users: TypeError: Cannot read properties of undefined (reading 'id')"])
  })

  it('applies filters on environment, level and tags', async () => {
    const { alerter, record } = setup([
      { when: 'new', filter: { environment: ['production', 'staging'], tags: { job: 'billing' } } },
      { when: 'new', filter: { level: 'fatal' }, to: 'oncall@example.com' },
    ])
    // each its own issue, so each is a first event
    await record({ error: new Error('dev only'), fingerprint: ['f1'], environment: 'development', tags: { job: 'billing' } })
    await record({ error: new Error('untagged'), fingerprint: ['f2'] })
    await record({ error: new Error('other job'), fingerprint: ['f3'], tags: { job: 'mailer' } })
    await record({ error: new Error('billing broke'), fingerprint: ['f4'], environment: 'staging', tags: { job: 'billing' } })
    await record({ error: new RangeError('fatal crash'), fingerprint: ['f5'], level: 'fatal' })
    expect(await subjects(alerter)).toEqual(expect.arrayContaining(['[shop] New issue: Error: billing broke', '[shop] New issue: RangeError: fatal crash']))
    expect(smtp.messages).toHaveLength(2)
    const fatal = smtp.messages.find((m) => m.parsed.subject?.includes('fatal crash'))!
    expect(fatal.envelopeTo).toEqual(['oncall@example.com'])
  })

  it('throttles a rule to one alert per issue in its period', async () => {
    const { alerter, record } = setup([{ when: { events: [1, 2, 3] }, throttle: '1h' }])
    for (let i = 0; i < 4; i++) await record()
    await record({ error: new Error('another issue') })
    expect(await subjects(alerter)).toEqual([
      "[shop] 1 event: TypeError: Cannot read properties of undefined (reading 'id')",
      '[shop] 1 event: Error: another issue',
    ])
  })

  it('never alerts for an ignored issue', async () => {
    const { alerter, record } = setup([{ when: { events: 3 } }, { when: 'regression' }])
    const { result } = await record()
    await store.updateIssue(result.issue.id, { status: 'ignored' })
    for (let i = 0; i < 5; i++) await record()
    expect(await subjects(alerter)).toEqual([])
  })

  it('sends each alert once when two instances share the store', async () => {
    const a = setup([{ when: 'new' }, { when: { events: 3 } }])
    const b = setup([{ when: 'new' }, { when: { events: 3 } }])
    for (let i = 0; i < 5; i++) {
      const { result, event } = await recordEvent(store, null, a.options)
      a.alerter.onRecorded(result, event)
      b.alerter.onRecorded(result, event)
    }
    await b.alerter.flush(5000)
    expect((await subjects(a.alerter)).map((s) => s.split(':')[0]).sort()).toEqual(['[shop] 3 events', '[shop] New issue'])
  })

  it('does not send an alert again after a restart on the same store', async () => {
    const first = setup([{ when: { events: 3 } }])
    for (let i = 0; i < 3; i++) await first.record()
    await first.alerter.flush(5000)
    await first.alerter.close()
    const second = setup([{ when: { events: 3 } }])
    for (let i = 0; i < 3; i++) await second.record()
    expect(await subjects(second.alerter)).toHaveLength(1)
  })

  it('uses the subject prefix in place of the app name', async () => {
    const { alerter, record } = setup(undefined, {
      mail: { transport: smtp.url, to: 'team@example.com', subjectPrefix: '[ALERT shop-eu]' },
    })
    await record({ error: new Error('prefixed') })
    expect(await subjects(alerter)).toEqual(['[ALERT shop-eu] New issue: Error: prefixed'])
    // without mail.baseUrl the link is the panel path, and the email says how to make it absolute
    expect(smtp.messages[0].parsed.text).toMatch(/View the issue: \/errors\/issues\/[0-9a-f]{16}\n\(set mail.baseUrl/)
  })
})

describe('an error storm', () => {
  it('sends at most the hourly cap, then one summary of what was held back', async () => {
    const { alerter, record } = setup()
    const started = Date.now()
    for (let i = 0; i < 10_000; i++) await record({ error: new Error(`failure ${i}`), fingerprint: [`storm-${i}`] })
    const recordMs = Date.now() - started
    expect(await alerter.flush(20_000)).toBe(true)
    expect(smtp.messages).toHaveLength(20)
    expect(smtp.messages.every((m) => m.parsed.subject?.startsWith('[shop] New issue: Error: failure '))).toBe(true)
    await alerter.close()
    await smtp.waitFor(21)
    await new Promise((r) => setTimeout(r, 200))
    expect(smtp.messages).toHaveLength(21)
    const summary = smtp.messages[20].parsed
    expect(summary.subject).toBe('[shop] 9980 more alerts held back by the hourly limit')
    expect(summary.text).toContain('New issue: Error: failure 20 (1 event, production)')
    expect(summary.text).toContain('and 9930 more not listed here.')
    console.log(`storm: 10000 distinct errors recorded and checked in ${recordMs}ms; ${smtp.messages.length} emails`)
  }, 120_000)

  it('starts a new period with the summary when the cap period ends', async () => {
    const { alerter, record } = setup(undefined, { mail: { transport: smtp.url, to: 'team@example.com', maxPerHour: 2 } }, { ...FAST, mail: { backoffMs: 50, periodMs: 2000 } })
    for (let i = 0; i < 5; i++) await record({ error: new Error(`burst ${i}`), fingerprint: [`b-${i}`] })
    await alerter.flush(5000)
    expect(smtp.messages).toHaveLength(2)
    await smtp.waitFor(3, 5000)
    expect(smtp.messages[2].parsed.subject).toBe('[shop] 3 more alerts held back by the hourly limit')
    // the summary counts as the first send of the new period: one more alert fits, then it folds again
    await new Promise((r) => setTimeout(r, 50))
    for (let i = 5; i < 7; i++) await record({ error: new Error(`burst ${i}`), fingerprint: [`b-${i}`] })
    await alerter.flush(5000)
    expect(smtp.messages.map((m) => m.parsed.subject)).toContain('[shop] New issue: Error: burst 5')
    expect(smtp.messages).toHaveLength(4)
  })

  it("sends each rule's held-back alerts in a summary to that rule's recipients only", async () => {
    const rules: Rule[] = [
      { when: 'new', filter: { tags: { job: 'billing' } }, to: ['billing@example.com', 'cfo@example.com'] },
      { when: 'new', filter: { tags: { job: 'web' } }, to: 'web@example.com' },
    ]
    const { alerter, record } = setup(rules, { mail: { transport: smtp.url, to: 'team@example.com', maxPerHour: 2 } })
    const fail = (job: string, i: number) => record({ error: new Error(`${job} failure ${i}`), fingerprint: [`${job}-${i}`], tags: { job } })
    // one alert of each rule uses up the hour; the rest are held back
    await fail('billing', 0)
    expect(await alerter.flush(5000)).toBe(true)
    await fail('web', 0)
    expect(await alerter.flush(5000)).toBe(true)
    for (let i = 1; i <= 3; i++) await fail('billing', i)
    for (let i = 1; i <= 2; i++) await fail('web', i)
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(2)
    await alerter.close()
    await new Promise((r) => setTimeout(r, 200))

    // everything each address received, alerts and summaries alike, names only its own rule's failures
    const own: Record<string, string> = { 'billing@example.com': 'billing', 'cfo@example.com': 'billing', 'web@example.com': 'web' }
    for (const m of smtp.messages) {
      const headerTo = (Array.isArray(m.parsed.to) ? m.parsed.to : [m.parsed.to]).flatMap((a) => a?.value.map((v) => v.address) ?? [])
      expect([...headerTo].sort()).toEqual([...m.envelopeTo].sort())
      for (const addr of m.envelopeTo) {
        expect(own[addr]).toBeDefined()
        const other = own[addr] === 'billing' ? 'web' : 'billing'
        expect(m.parsed.text).not.toContain(`${other} failure`)
        expect(String(m.parsed.html)).not.toContain(`${other} failure`)
      }
    }
    // one summary per rule's list, counting and listing that rule's held-back alerts
    const summaries = smtp.messages.slice(2).map((m) => ({ to: [...m.envelopeTo].sort(), subject: m.parsed.subject, text: m.parsed.text ?? '' }))
    summaries.sort((a, b) => a.to[0].localeCompare(b.to[0]))
    expect(summaries.map((s) => [s.to, s.subject])).toEqual([
      [['billing@example.com', 'cfo@example.com'], '[shop] 3 more alerts held back by the hourly limit'],
      [['web@example.com'], '[shop] 2 more alerts held back by the hourly limit'],
    ])
    for (let i = 1; i <= 3; i++) expect(summaries[0].text).toContain(`New issue: Error: billing failure ${i} (1 event, production)`)
    for (let i = 1; i <= 2; i++) expect(summaries[1].text).toContain(`New issue: Error: web failure ${i} (1 event, production)`)
  })

  it('counts each summary of a new period as one of its sends', async () => {
    const rules: Rule[] = [
      { when: 'new', filter: { tags: { job: 'billing' } }, to: 'billing@example.com' },
      { when: 'new', filter: { tags: { job: 'web' } }, to: 'web@example.com' },
    ]
    const { alerter, record } = setup(rules, { mail: { transport: smtp.url, to: 'team@example.com', maxPerHour: 3 } }, { ...FAST, mail: { backoffMs: 50, periodMs: 2000 } })
    const fail = (job: string, i: number) => record({ error: new Error(`${job} failure ${i}`), fingerprint: [`${job}-${i}`], tags: { job } })
    // three alerts use up the period; then one of each rule is held back
    for (let i = 0; i < 3; i++) await fail('billing', i)
    expect(await alerter.flush(5000)).toBe(true)
    await fail('billing', 3)
    await fail('web', 0)
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(3)
    await smtp.waitFor(5, 5000)
    expect(smtp.messages.slice(3).map((m) => m.envelopeTo.join()).sort()).toEqual(['billing@example.com', 'web@example.com'])
    // two summaries opened the period: one more alert of its three fits, then they fold again
    await new Promise((r) => setTimeout(r, 50))
    for (let i = 1; i <= 2; i++) {
      await fail('web', i)
      expect(await alerter.flush(5000)).toBe(true)
    }
    expect(smtp.messages).toHaveLength(6)
    expect(smtp.messages[5].parsed.subject).toBe('[shop] New issue: Error: web failure 1')
  })
})
