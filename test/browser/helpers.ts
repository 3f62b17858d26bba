/** What the browser ingest tests send: Sentry events and envelopes as the browser SDK writes them. */

export const KEY = 'publickey0123456789'

export function sentryEvent(overrides: Record<string, unknown> = {}) {
  return {
    event_id: 'a'.repeat(32),
    platform: 'javascript',
    level: 'error',
    exception: {
      values: [{
        type: 'TypeError',
        value: 'Cannot read properties of undefined (reading \'total\')',
        mechanism: { type: 'onerror', handled: false },
        stacktrace: {
          frames: [
            { filename: 'https://cdn.other.example/lib.js', function: 'dispatch', lineno: 1, colno: 10 },
            { filename: 'http://127.0.0.1/static/app.js?v=3', function: 'checkout', lineno: 1, colno: 2042 },
          ],
        },
      }],
    },
    request: { url: 'http://127.0.0.1/cart?token=secret123&page=2', headers: { 'User-Agent': 'from the event' } },
    user: { id: 'u-42', email: 'ann@example.com', ip_address: '{{auto}}' },
    tags: { page: 'cart' },
    breadcrumbs: { values: [{ timestamp: 1_700_000_000.5, category: 'ui.click', message: 'button#pay' }, { timestamp: 1_700_000_001, category: 'fetch', data: { url: '/api/cart', status_code: 500 } }] },
    environment: 'staging',
    release: 'web@1.2.3',
    ...overrides,
  }
}

export function envelope(event: object, { withLength = false, header = {} as Record<string, unknown>, extra = [] as Buffer[] } = {}): Buffer {
  const payload = Buffer.from(JSON.stringify(event))
  const itemHeader = withLength ? { type: 'event', length: payload.length } : { type: 'event' }
  return Buffer.concat([
    Buffer.from(`${JSON.stringify({ event_id: 'a'.repeat(32), sent_at: new Date().toISOString(), ...header })}\n`),
    ...extra,
    Buffer.from(`${JSON.stringify(itemHeader)}\n`),
    payload,
    Buffer.from('\n'),
  ])
}

export const ENVELOPE = `/faultline/api/1/envelope/?sentry_version=7&sentry_key=${KEY}&sentry_client=sentry.javascript.browser%2F11.0.0`
export const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
