/** Record inputs for the PostgreSQL store's own tests (the conformance suite has its own). */
import { randomBytes } from 'node:crypto'
import type { FaultlineEvent, RecordInput } from '../../lib/types.js'

export interface InputOptions {
  hash?: string
  user?: string | null
  at?: string | Date
  tags?: Record<string, string>
  environment?: string
  release?: string
  message?: string
}

/** One event of the issue `hash` as the tracker would hand it to `store.record`. */
export function recordInput(o: InputOptions = {}): RecordInput {
  const hash = o.hash ?? 'a1b2c3d4e5f60718'
  const message = o.message ?? 'Cannot read properties of undefined (reading \'id\')'
  const event: FaultlineEvent = {
    event_id: randomBytes(16).toString('hex'),
    timestamp: new Date(o.at ?? Date.now()).toISOString(),
    level: 'error',
    exception: { type: 'TypeError', value: message, stacktrace: { frames: [{ function: 'getUser', filename: 'routes/users.js', lineno: 12, colno: 5, in_app: true }] } },
    message,
    tags: o.tags ?? {},
    extra: {},
    user: o.user ? { id: o.user } : undefined,
    contexts: {},
    breadcrumbs: [],
    environment: o.environment ?? 'production',
    release: o.release,
    fingerprint: ['{{ default }}'],
  }
  return {
    event,
    grouping: { hash, fingerprint: ['TypeError', 'routes/users.js', 'getUser'], title: `TypeError: ${message}`, culprit: 'getUser (routes/users.js)', type: 'TypeError', message, level: 'error' },
    userKey: o.user ?? null,
  }
}
