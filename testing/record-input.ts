/**
 * Record inputs for store tests: what the tracker hands a store's `record`, built from a short
 * description (which issue, when, which user, release, tags...).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { FaultlineEvent, Issue, Level, RecordInput, RecordResult, Store, User } from '../lib/types.js'

/** A stable 16-hex issue id for a readable name, as grouping would make. */
export function issueId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 16)
}

export interface EventSpec {
  /** the issue's name (its id is issueId(issue)); default 'checkout' */
  issue?: string
  time?: number | string | Date
  user?: string | null
  release?: string
  environment?: string
  level?: Level
  tags?: Record<string, string>
  title?: string
  culprit?: string
  type?: string
  message?: string
  serverName?: string
  /** the event's user block; default { id: user, email: `${user}@example.com` } when `user` is set */
  userFields?: User
  /** 'node' or 'javascript'; absent by default (a server event) */
  platform?: 'node' | 'javascript'
}

/** A realistic RecordInput, as the tracker would hand it to a store. */
export function makeInput(spec: EventSpec = {}): RecordInput {
  const name = spec.issue ?? 'checkout'
  const type = spec.type ?? 'TypeError'
  const message = spec.message ?? `Cannot read properties of undefined (reading '${name}')`
  const time = spec.time === undefined ? Date.now() : new Date(spec.time).getTime()
  const user = spec.user === undefined ? null : spec.user
  const level = spec.level ?? 'error'
  const event: FaultlineEvent = {
    event_id: randomBytes(16).toString('hex'),
    timestamp: new Date(time).toISOString(),
    level,
    exception: {
      type,
      value: message,
      stacktrace: {
        frames: [
          { function: 'processTicksAndRejections', filename: 'node:internal/process/task_queues', lineno: 95, colno: 5, in_app: false },
          { function: 'handle', filename: 'routes/orders.js', lineno: 41, colno: 12, in_app: true, pre_context: ['async function handle (req, res) {', '  const order = await load(req.params.id)'], context_line: `  res.json(order.${name}.total)`, post_context: ['}'] },
        ],
      },
      mechanism: { type: 'middleware', handled: false },
    },
    message: undefined,
    tags: spec.tags ?? {},
    extra: { orderId: 1234, cart: { items: 3 } },
    user: spec.userFields ?? (user === null ? undefined : { id: user, email: `${user}@example.com` }),
    request: { method: 'GET', url: `https://shop.example.com/orders/1234`, headers: { 'user-agent': 'Mozilla/5.0', accept: 'application/json' }, query_string: 'expand=items' },
    contexts: { runtime: { name: 'node', version: process.version } },
    breadcrumbs: [{ timestamp: new Date(time - 1000).toISOString(), category: 'http', message: 'GET /orders/1234', level: 'info' }],
    environment: spec.environment ?? 'production',
    release: spec.release,
    server_name: spec.serverName ?? 'web-1',
    fingerprint: ['{{ default }}'],
    transaction: 'GET /orders/:id',
  }
  if (spec.platform !== undefined) event.platform = spec.platform
  return {
    event,
    grouping: {
      hash: issueId(name),
      fingerprint: [type, 'routes/orders.js', 'handle'],
      title: spec.title ?? `${type}: ${message}`,
      culprit: spec.culprit ?? `handle (routes/orders.js)`,
      type,
      message,
      level,
    },
    userKey: user,
  }
}

export const iso = (ms: number) => new Date(ms).toISOString()
export const ids = (issues: Issue[]) => issues.map((i) => i.id)

/** Records one event per spec, in order, and returns the results. */
export async function recordAll(store: Store, specs: EventSpec[]): Promise<RecordResult[]> {
  const results = []
  for (const spec of specs) results.push(await store.record(makeInput(spec)))
  return results
}
