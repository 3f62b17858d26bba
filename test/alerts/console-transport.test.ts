/** consoleTransport: alert emails printed instead of sent, for apps without an SMTP server. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../adapters/memory.js'
import { consoleTransport, createTracker } from '../../lib/index.js'

const RULE = `\n${'='.repeat(72)}\n`

describe('consoleTransport', () => {
  it("prints a tracker's alert to the stream it is given: sender, recipients, subject, then the text", async () => {
    const printed: string[] = []
    const internal: Error[] = []
    const store = memoryStore()
    const tracker = createTracker({
      store,
      appName: 'shop',
      captureUncaught: false,
      captureUnhandledRejections: false,
      onInternalError: (err) => internal.push(err),
      mail: {
        transport: consoleTransport({ write: (text) => printed.push(text) }),
        from: 'Alerts <alerts@shop.example.com>',
        to: ['team@example.com', 'oncall@example.com'],
        baseUrl: 'https://shop.example.com',
      },
    })
    tracker.captureException(new RangeError('quota exceeded'), { tags: { tenant: 'acme' } })
    expect(await tracker.flush()).toBe(true)
    const [issue] = (await store.listIssues()).issues
    const [event] = (await store.listEvents(issue.id)).events
    await tracker.close()
    expect(internal).toEqual([])

    expect(printed).toHaveLength(1)
    const [before, headers, text, after] = printed[0].split(RULE)
    expect([before, after]).toEqual(['', ''])
    expect(headers).toBe('From: Alerts <alerts@shop.example.com>\nTo: team@example.com, oncall@example.com\nSubject: [shop] New issue: RangeError: quota exceeded')
    expect(text.split('\n')[0]).toBe('New issue: RangeError: quota exceeded')
    expect(text).toContain(`\nView the issue: https://shop.example.com/errors/issues/${issue.id}\n`)
    expect(text).toMatch(new RegExp(`^Event: +${event.event_id}$`, 'm'))
    expect(text).toMatch(/^ {2}tenant = acme$/m)
  })

  it('prints to stdout by default, exported by the package as an app imports it', () => {
    const script = fileURLToPath(new URL('../fixtures/console-alert.mjs', import.meta.url))
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    const [, headers, text] = result.stdout.split(RULE)
    expect(headers).toBe('From: faultline <faultline@localhost>\nTo: team@example.com\nSubject: [shop] New issue: Error: Invoice 7 has no amount')
    expect(text.split('\n')[0]).toBe('New issue: Error: Invoice 7 has no amount')
    expect(text).toMatch(/^in test\/fixtures\/console-alert\.mjs$/m)
  })
})
