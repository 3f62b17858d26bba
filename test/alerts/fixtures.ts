import { fileURLToPath } from 'node:url'
import { buildEvent } from '../../lib/event.js'
import { groupEvent, userKey } from '../../common/fingerprint.js'
import { resolveOptions, type ResolvedOptions } from '../../lib/options.js'
import type { Alerter } from '../../lib/alerts/alerter.js'
import type { FaultlineEvent, RecordResult, Store } from '../../lib/types.js'
import type { CaptureContext, ScopeData, TrackerOptions } from '../../lib/types.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** Options as the tracker would resolve them: an app called 'shop' in production. */
export function alertOptions(store: Store, overrides: Partial<TrackerOptions> = {}, errors: Error[] = []): ResolvedOptions {
  return resolveOptions({
    store,
    root: repoRoot,
    appName: 'shop',
    environment: 'production',
    release: '1.2.3',
    serverName: 'web-1',
    onInternalError: (err: Error) => errors.push(err),
    ...overrides,
  })
}

function emptyScope(): ScopeData {
  return { tags: {}, extra: {}, user: null, contexts: {}, level: null, fingerprint: null, breadcrumbs: [], request: null, transaction: null }
}

let seq = 0

export interface RecordOptions extends CaptureContext {
  error?: unknown
  environment?: string
  timestamp?: Date
}

/** Builds an event as the tracker does, records it in the store and hands the result to the alerter. */
export async function recordEvent(
  store: Store,
  alerter: Alerter | null,
  options: ResolvedOptions,
  { error, environment, timestamp, ...ctx }: RecordOptions = {},
): Promise<{ result: RecordResult; event: FaultlineEvent }> {
  seq++
  // The default error is one issue wherever a test records it from: grouping hashes every in-app
  // frame, and the test's own call sites would otherwise tell the events apart.
  if (error === undefined && ctx.fingerprint === undefined) ctx.fingerprint = ['the default test error']
  const event = buildEvent({
    eventId: (seq.toString(16) + '0'.repeat(32)).slice(0, 32).padStart(32, '0'),
    timestamp,
    error: error ?? new TypeError("Cannot read properties of undefined (reading 'id')"),
    scope: emptyScope(),
    ctx,
    options,
  })
  if (environment) event.environment = environment
  const result = await store.record({ event, grouping: groupEvent(event), userKey: userKey(event.user) })
  alerter?.onRecorded(result, event)
  return { result, event }
}
