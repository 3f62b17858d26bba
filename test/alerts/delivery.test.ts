import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import { createAlerter, type AlerterTuning } from '../../lib/alerts/alerter.js'
import { ruleKeys } from '../../lib/alerts/rules.js'
import { createTransporter } from '../../lib/alerts/mailer.js'
import type { Store } from '../../lib/types.js'
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.js'
import { alertOptions, recordEvent } from './fixtures.js'
import type { MailOptions } from '../../lib/types.js'

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

function setup(mail: Partial<MailOptions> = {}, tuning: Partial<AlerterTuning> = { mail: { backoffMs: 50 } }) {
  const options = alertOptions(store, { mail: { transport: smtp.url, to: 'team@example.com', baseUrl: 'https://shop.example.com', ...mail } }, errors)
  const alerter = createAlerter({ store, options, tuning: { closeTimeoutMs: 1000, ...tuning } })
  closers.push(() => alerter.close())
  return { alerter, options, record: (o: Parameters<typeof recordEvent>[3] = {}) => recordEvent(store, alerter, options, o) }
}

/** Short SMTP timeouts, as an app would configure them, in transport options. */
function impatient(): MailOptions['transport'] {
  return { host: '127.0.0.1', port: smtp.port, secure: false, connectionTimeout: 300, greetingTimeout: 200, socketTimeout: 300 }
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('when the SMTP server misbehaves', () => {
  it('gives up at once on a permanent refusal (550) and reports it', async () => {
    smtp.setMode({ kind: 'refuse', code: 550 })
    const { alerter, record } = setup()
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.attempts).toBe(1)
    expect(errors).toHaveLength(1)
    expect(errors[0].message).toMatch(/^alert email failed \("\[shop\] New issue: .*" to team@example\.com\) after 1 try, not retried: the error is permanent: .*550/)
  })

  it('retries a temporary refusal (421) three times with backoff, then reports it', async () => {
    smtp.setMode({ kind: 'refuse', code: 421 })
    const { alerter, record } = setup()
    const started = Date.now()
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.attempts).toBe(3)
    // waits of 50ms then 200ms between the tries
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/after 3 tries: .*421/)])
  })

  it('delivers on a later try once the server accepts again', async () => {
    smtp.setMode({ kind: 'refuse', code: 421 })
    const { alerter, record } = setup({}, { mail: { backoffMs: 300 } })
    await record()
    await until(() => smtp.attempts === 1)
    smtp.setMode({ kind: 'accept' })
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    expect(errors).toEqual([])
  })

  it('retries a server that drops the connection, and reports it without crashing', async () => {
    smtp.setMode({ kind: 'drop' })
    const { alerter, record } = setup()
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.connections).toBe(3)
    expect(errors).toHaveLength(1)
    expect(errors[0].message).toMatch(/after 3 tries/)
  })

  it('keeps the app path instant and the queue bounded while the server hangs', async () => {
    smtp.setMode({ kind: 'hang' })
    const { alerter, options } = setup({ transport: impatient(), maxPerHour: 10_000 }, { mail: { backoffMs: 50, maxQueue: 50 } })
    const results = []
    for (let i = 0; i < 400; i++) results.push(await recordEvent(store, null, options, { error: new Error(`hang ${i}`), fingerprint: [`h-${i}`] }))
    const started = process.hrtime.bigint()
    for (const { result, event } of results) alerter.onRecorded(result, event)
    const onRecordedMs = Number(process.hrtime.bigint() - started) / 1e6
    expect(onRecordedMs).toBeLessThan(100)

    // a flush with a deadline comes back on time, saying not everything went out
    const flushStarted = Date.now()
    expect(await alerter.flush(700)).toBe(false)
    expect(Date.now() - flushStarted).toBeLessThan(1500)

    const stats = (alerter as unknown as { stats: { mail: { pending: number; dropped: number } } }).stats
    // 50 waiting at most, plus the two in flight or waiting to retry
    expect(stats.mail.pending).toBeLessThanOrEqual(54)
    expect(stats.mail.dropped).toBeGreaterThanOrEqual(400 - 54)
    await until(() => errors.some((e) => /Greeting never received|timed out|Timeout/i.test(e.message)), 5000)
    expect(errors.some((e) => /alert email queue is full \(50\)/.test(e.message))).toBe(true)
    // failures are reported rate limited, not one per email
    expect(errors.length).toBeLessThan(5)
    console.log(`hanging SMTP: 400 alerts decided in ${onRecordedMs.toFixed(1)}ms of onRecorded calls; queue ${stats.mail.pending}, dropped ${stats.mail.dropped}`)
  })

  it('gives up a hanging send after the configured timeouts', async () => {
    smtp.setMode({ kind: 'hang' })
    const { alerter, record } = setup({ transport: impatient() })
    const started = Date.now()
    await record()
    expect(await alerter.flush(10_000)).toBe(true)
    const took = Date.now() - started
    // three tries of about 200ms (the greeting timeout) with waits of 50ms and 200ms between them
    expect(took).toBeGreaterThanOrEqual(800)
    expect(took).toBeLessThan(4000)
    expect(smtp.connections).toBe(3)
    expect(errors[0].message).toMatch(/after 3 tries: .*(Greeting never received|Timeout)/i)
  })
})

describe('what an attacker controls', () => {
  it('cannot add a header through the error message', async () => {
    const { alerter, record } = setup()
    await record({ error: new Error('boom\r\nBcc: attacker@example.com\r\nX-Evil: 1'), tags: { note: 'x\r\nBcc: attacker@example.com' }, request: { method: 'GET', url: '/a\r\nBcc: attacker@example.com' } })
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    const mail = smtp.messages[0]
    expect(mail.envelopeTo).toEqual(['team@example.com'])
    expect(mail.parsed.bcc).toBeUndefined()
    expect(mail.parsed.headers.has('x-evil')).toBe(false)
    const headerBlock = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n'))
    expect(headerBlock).not.toMatch(/^(Bcc|X-Evil):/im)
    expect(mail.parsed.subject).not.toMatch(/[\r\n]/)
  })

  it('cannot put a line break in the subject through an encoded-word', async () => {
    const { alerter, record } = setup()
    const quoted = '=?UTF-8?Q?=0D=0ABcc:_victim@example.com?='
    // "\r\nBcc: victim@example.com" in base64
    const base64 = '=?utf-8?b?DQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?='
    await record({ error: new Error(`bad input ${quoted} ${base64}`), tags: { note: quoted }, request: { method: 'GET', url: `/a?q=${base64}` } })
    expect(await alerter.flush(5000)).toBe(true)
    const mail = smtp.messages[0]
    // mailparser decodes encoded-words in headers, as a mail client does
    expect(mail.parsed.subject).not.toMatch(/[\r\n]/)
    expect(mail.parsed.subject).toBe('[shop] New issue: Error: bad input = ?UTF-8?Q?=0D=0ABcc:_victim@example.com?= = ?utf-8?b?DQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=')
    expect(mail.parsed.bcc).toBeUndefined()
    const headerBlock = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n'))
    expect(headerBlock).not.toMatch(/=\?[^?]*\?[bq]\?/i)
    // encoded-words mean nothing in a body, but none is left there either
    for (const body of [mail.parsed.text as string, mail.parsed.html as string]) {
      expect(body).not.toContain(quoted)
      expect(body).not.toContain(base64)
    }
    expect(mail.parsed.text).toContain('note = = ?UTF-8?Q?=0D=0ABcc:_victim@example.com?=')
  })

  it('escapes attacker text in the HTML part', async () => {
    const { alerter, record } = setup()
    await record({
      error: new Error('<script>alert(1)</script><img src=x onerror=alert(2)>'),
      tags: { '"><b>k</b>': '<i>v</i>' },
      request: { method: 'GET', url: 'https://shop.example.com/search?q="><svg/onload=alert(3)>' },
      user: { id: '<u>mallory</u>' },
    })
    expect(await alerter.flush(5000)).toBe(true)
    const html = smtp.messages[0].parsed.html as string
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;')
    expect(html).not.toMatch(/<script|<img|<svg|<b>k|<i>v|<u>mallory/i)
    expect(html).toContain('&lt;u&gt;mallory&lt;/u&gt;')
    expect(html).toContain('q=&#34;&gt;&lt;svg/onload=alert(3)&gt;')
  })
})

describe('createTransporter', () => {
  it('sets explicit timeouts on an SMTP URL, and lets the URL override them', () => {
    const plain = createTransporter('smtp://127.0.0.1:2525') as unknown as { transporter: { transporter: { options: Record<string, unknown> } } }
    expect(plain.transporter.transporter.options).toMatchObject({ host: '127.0.0.1', port: 2525, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 })
    const tuned = createTransporter('smtp://127.0.0.1:2525/?socketTimeout=5000') as unknown as { transporter: { transporter: { options: Record<string, unknown> } } }
    expect(tuned.transporter.transporter.options.socketTimeout).toBe(5000)
  })

  it('uses a ready transporter as it is', async () => {
    const sent: unknown[] = []
    const ready = { sendMail: async (m: unknown) => sent.push(m) }
    const { transporter, owned } = createTransporter(ready)
    expect(transporter).toBe(ready)
    expect(owned).toBe(false)
  })
})

describe('when a rule fires', () => {
  it('tells the store which rule fired and when, for the rules page', async () => {
    const { alerter, options, record } = setup()
    const before = Date.now()
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    const [newIssueRule] = ruleKeys(options.rules)
    const firings = await store.ruleFirings()
    expect(Object.keys(firings)).toEqual([newIssueRule])
    expect(Date.parse(firings[newIssueRule])).toBeGreaterThanOrEqual(before - 1000)
    expect(Date.parse(firings[newIssueRule])).toBeLessThanOrEqual(Date.now())
    expect(errors).toEqual([])
  })

  it('still sends the alert when the store cannot note the firing, and reports that', async () => {
    store.noteRuleFired = async () => {
      throw new Error('disk full')
    }
    const { alerter, record } = setup()
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(smtp.messages).toHaveLength(1)
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^could not note that alert rule \S+ fired: disk full$/)])
  })
})
