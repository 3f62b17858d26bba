import { describe, expect, it } from 'vitest'
import { alertSubject, oneLine, slackEscape } from '../../lib/alerts/message.js'
import { formatDuration } from '../../common/duration.js'

describe('alertSubject', () => {
  it('names what happened after the prefix', () => {
    expect(alertSubject('[shop]', { kind: 'new', key: '' }, 'TypeError: x is undefined')).toBe('[shop] New issue: TypeError: x is undefined')
    expect(alertSubject('[shop]', { kind: 'regression', key: '' }, 'E: y')).toBe('[shop] Regression: E: y')
    expect(alertSubject('[shop]', { kind: 'threshold', events: 100, key: '' }, 'E: y')).toBe('[shop] 100 events: E: y')
    expect(alertSubject('[shop]', { kind: 'threshold', users: 100, key: '' }, 'E: y')).toBe('[shop] 100 users: E: y')
    expect(alertSubject('[shop]', { kind: 'threshold', events: 50, withinMs: 3_600_000, key: '' }, 'E: y')).toBe('[shop] 50 events in 1h: E: y')
  })

  it('is one line without control characters and at most 150 characters', () => {
    const s = alertSubject('[shop]', { kind: 'new', key: '' }, 'Error: a\r\nBcc: attacker@example.com\u0000\u001b[31m' + 'x'.repeat(500))
    expect(s).not.toMatch(/[\r\n\u0000-\u001f]/)
    expect(s.length).toBeLessThanOrEqual(150)
    expect(s.startsWith('[shop] New issue: Error: a Bcc: attacker@example.com')).toBe(true)
  })
})

describe('helpers', () => {
  it('folds line separators and control characters into single spaces', () => {
    expect(oneLine('a\u2028b\r\n\tc  d')).toBe('a b c d')
    // a right-to-left override would make 'invoice\u202Efdp.exe' read as 'invoiceexe.pdf'
    expect(alertSubject('[shop]', { kind: 'new', key: '' }, 'Error: invoice\u202Efdp.exe\u2066x\u200f')).toBe('[shop] New issue: Error: invoicefdp.exex')
  })
  it('breaks the opener of an encoded-word in any case, also one joined by removing a hidden character', () => {
    expect(oneLine('a =?utf-8?q?=0D=0A?= b =?UTF-8?B?DQo=?=')).toBe('a = ?utf-8?q?=0D=0A?= b = ?UTF-8?B?DQo=?=')
    expect(oneLine('=\u202e?UTF-8?Q?=0A?=')).toBe('= ?UTF-8?Q?=0A?=')
    // placeholders in SQL are no encoded-word: left as written
    expect(oneLine('WHERE id=? AND name=?')).toBe('WHERE id=? AND name=?')
  })
  it('writes durations in the largest whole unit', () => {
    expect(formatDuration(3_600_000)).toBe('1h')
    expect(formatDuration(90_000)).toBe('90s')
    expect(formatDuration(1500)).toBe('1500ms')
  })
  it("escapes Slack's control characters", () => {
    expect(slackEscape('<!channel> & <http://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;http://x|y&gt;')
  })
})
