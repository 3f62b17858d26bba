import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import { createAlerter, type AlerterTuning } from '../../lib/alerts/alerter.js'
import type { Store } from '../../lib/types.js'
import type { WebhookPayload } from '../../lib/alerts/webhook.js'
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.js'
import { alertOptions, recordEvent } from './fixtures.js'
import type { Rule, TrackerOptions } from '../../lib/types.js'

interface Hook {
  url: string
  bodies: WebhookPayload[]
  hits: number
  /** what the endpoint does with the next requests */
  behave: 'ok' | 'error' | 'not-found' | 'hang'
  close(): Promise<void>
}

async function startHook(): Promise<Hook> {
  const open = new Set<http.ServerResponse>()
  const hook: Hook = {
    url: '',
    bodies: [],
    hits: 0,
    behave: 'ok',
    close: async () => {
      for (const res of open) res.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      hook.hits++
      if (hook.behave === 'hang') {
        open.add(res)
        return
      }
      if (hook.behave === 'ok') hook.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      res.statusCode = hook.behave === 'ok' ? 200 : hook.behave === 'error' ? 500 : 404
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`
  return hook
}

let store: Store
let errors: Error[]
let hook: Hook
let closers: Array<() => Promise<void>>

beforeEach(async () => {
  store = memoryStore()
  errors = []
  closers = []
  hook = await startHook()
})

afterEach(async () => {
  for (const close of closers) await close()
  await hook.close()
})

// an endpoint that answers gets 2 s: on a machine busy with other tests, a shorter timeout fires
// while the answer is on its way, and the retry then posts the alert twice
const FAST: Partial<AlerterTuning> = { closeTimeoutMs: 500, mail: { backoffMs: 50 }, webhook: { backoffMs: 50, timeoutMs: 2000 } }

function setup(rules: Rule[], over: Partial<TrackerOptions> = {}, tuning = FAST) {
  const options = alertOptions(store, { rules, ...over }, errors)
  const alerter = createAlerter({ store, options, tuning })
  closers.push(() => alerter.close())
  return { alerter, record: (o: Parameters<typeof recordEvent>[3] = {}) => recordEvent(store, alerter, options, o) }
}

describe('webhooks', () => {
  it('POSTs the issue, the event summary, the rule and a Slack-compatible text', async () => {
    const { alerter, record } = setup([{ when: 'new', webhook: hook.url }], { panel: { path: '/ops/errors' } })
    const { result } = await record({
      error: new Error('Payment <declined> & retried'),
      tags: { job: 'billing' },
      request: { method: 'POST', url: 'https://shop.example.com/pay' },
    })
    expect(await alerter.flush(5000)).toBe(true)
    expect(hook.bodies).toHaveLength(1)
    const body = hook.bodies[0]
    expect(body.issue).toMatchObject({ id: result.issue.id, title: 'Error: Payment <declined> & retried', count: 1, status: 'unresolved', url: `/ops/errors/issues/${result.issue.id}` })
    expect(body.event).toMatchObject({ type: 'Error', value: 'Payment <declined> & retried', environment: 'production', release: '1.2.3', request: { method: 'POST', url: 'https://shop.example.com/pay' }, tags: { job: 'billing' } })
    expect(body.rule).toMatchObject({ when: 'new', headline: 'New issue' })
    // Slack treats < > & as markup: they arrive escaped
    expect(body.text.split('\n')[0]).toBe('*[shop] New issue*: Error: Payment &lt;declined&gt; &amp; retried')
    expect(body.text).toContain('1 event · 0 users · env production · release 1.2.3')
  })

  it('links to the issue when mail.baseUrl is set, and sends email beside the webhook', async () => {
    const smtp: SmtpTestServer = await startSmtp()
    closers.push(() => smtp.close())
    const { alerter, record } = setup([{ when: 'new', webhook: hook.url }], { mail: { transport: smtp.url, to: 'team@example.com', baseUrl: 'https://shop.example.com' } })
    const { result } = await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(hook.bodies[0].text).toContain(`<https://shop.example.com/errors/issues/${result.issue.id}|View the issue>`)
    expect(smtp.messages).toHaveLength(1)
  })

  it('retries an endpoint that answers 500, then reports it', async () => {
    hook.behave = 'error'
    const { alerter, record } = setup([{ when: 'new', webhook: hook.url }])
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(hook.hits).toBe(3)
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^webhook to 127\.0\.0\.1:\d+ failed .* after 3 tries: the endpoint answered HTTP 500/)])
  })

  it('does not retry a 404', async () => {
    hook.behave = 'not-found'
    const { alerter, record } = setup([{ when: 'new', webhook: hook.url }])
    await record()
    expect(await alerter.flush(5000)).toBe(true)
    expect(hook.hits).toBe(1)
    expect(errors[0].message).toMatch(/not retried: the error is permanent: the endpoint answered HTTP 404/)
  })

  it('reports an endpoint that is down without blocking or throwing', async () => {
    const down = await startHook()
    const url = down.url
    await down.close()
    const { alerter, record } = setup([{ when: 'new', webhook: url }])
    const started = Date.now()
    await record()
    expect(Date.now() - started).toBeLessThan(200)
    expect(await alerter.flush(5000)).toBe(true)
    expect(errors).toHaveLength(1)
    expect(errors[0].message).toMatch(/after 3 tries: fetch failed/)
  })

  it('gives up on a slow endpoint after its timeout, while email and other endpoints go out at once', async () => {
    const smtp: SmtpTestServer = await startSmtp()
    const fast = await startHook()
    closers.push(() => smtp.close(), () => fast.close())
    hook.behave = 'hang'
    const { alerter, record } = setup(
      [{ when: 'new', webhook: hook.url }, { when: 'new', webhook: fast.url, email: false }],
      { mail: { transport: smtp.url, to: 'team@example.com' } },
      { ...FAST, webhook: { backoffMs: 50, timeoutMs: 300 } },
    )
    const started = Date.now()
    await record()
    await smtp.waitFor(1, 2000)
    expect(Date.now() - started).toBeLessThan(1000)
    while (fast.bodies.length === 0) await new Promise((r) => setTimeout(r, 10))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await alerter.flush(5000)).toBe(true)
    // three tries of 300ms each, with waits of 50ms and 200ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(1100)
    expect(hook.hits).toBe(3)
    expect(errors[0].message).toMatch(/after 3 tries: timed out after 300ms/)
  })
})
