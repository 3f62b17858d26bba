/**
 * What a journal line holds: one batch of changes, each a small JSON object, and how a batch is
 * applied to an IssueIndex. Every process applies every batch in journal order through `applyBatch`,
 * the committing process included (its results come from that same application), so all of them
 * reach the same state and the same answers: which event made an issue new, who won a claim.
 * Each change carries the times it depends on, so applying it later gives the same result.
 */
import type { CheckedUpdate } from '../shared/arguments.js'
import type { IssueIndex, RecordFacts } from '../shared/issue-index.js'
import type { Level, User } from '../../lib/types.js'
import { MAX_LINE_BYTES } from './journal.js'

/** An event counted: RecordFacts in short keys (a storm writes one of these per error). */
export interface FactsOp {
  o: 'r'
  i: string
  t: number
  l: Level
  u?: string
  tg?: Array<[string, string]>
  e?: string
  r?: string
  s?: string
  /** how to name the issue, when the writer did not know it yet */
  g?: RecordFacts['grouping']
  /** shed: counted, body not kept */
  x?: 1
  /** how many errors it counts, when more than one (RecordFacts.times) */
  c?: number
  /** when it was recorded (ignore ends are judged by it) */
  n: number
  /** the user's key and fields, for the affected-user list */
  k?: string
  ud?: User
  /** the platform, when not 'node' */
  p?: 'javascript'
  /** the event's id, for the activity log */
  id?: string
}

export type Op =
  | FactsOp
  | { o: 'u'; i: string; u: CheckedUpdate; n: number }
  | { o: 'd'; i: string }
  | { o: 'c'; k: string; i: string; x: number | null; n: number }
  | { o: 'm'; b: number | null; n: number }
  /** the issue's event file holds `c` events from `t` on (after a rewrite), `p` fewer than before, deleted at `n` by retention */
  | { o: 's'; i: string; c: number; t: number | null; p?: number; n?: number }
  /** a note on the issue's activity log */
  | { o: 'a'; i: string; tx: string; a: string; n: number }
  /** an alert rule fired at `t` */
  | { o: 'f'; k: string; t: number }
  /** a setting claimed: the first value for a name stays */
  | { o: 'k'; k: string; v: string }
  /** `c` bodies counted as kept were shed after all (the disk could not take them) */
  | { o: 'x'; i: string; c: number }

export interface Batch {
  /** unique per batch: the writer finds its own batch among the lines it reads back */
  id: string
  ops: Op[]
  /** the spool file this batch was handed over in (see spool.ts) */
  spool?: string
}

export function factsOp(facts: RecordFacts, now: number): FactsOp {
  const op: FactsOp = { o: 'r', i: facts.issueId, t: facts.t, l: facts.level, n: now }
  if (facts.user !== null) op.u = facts.user
  if (facts.tags.length > 0) op.tg = facts.tags
  if (facts.environment !== undefined) op.e = facts.environment
  if (facts.release !== undefined) op.r = facts.release
  if (facts.serverName !== undefined) op.s = facts.serverName
  if (facts.grouping !== undefined) op.g = facts.grouping
  if (facts.shed) op.x = 1
  if (facts.times > 1) op.c = facts.times
  if (facts.person !== undefined) {
    op.k = facts.person.key
    op.ud = facts.person.user
  }
  if (facts.platform === 'javascript') op.p = 'javascript'
  if (facts.eventId !== undefined) op.id = facts.eventId
  return op
}

function factsOf(op: FactsOp): RecordFacts {
  return {
    issueId: op.i,
    t: op.t,
    level: op.l,
    user: op.u ?? null,
    tags: Array.isArray(op.tg) ? op.tg : [],
    environment: op.e,
    release: op.r,
    serverName: op.s,
    grouping: op.g,
    shed: op.x === 1,
    times: Number.isSafeInteger(op.c) && op.c! > 1 ? op.c! : 1,
    person: typeof op.k === 'string' && typeof op.ud === 'object' && op.ud !== null ? { key: op.k, user: op.ud } : undefined,
    platform: op.p === 'javascript' ? 'javascript' : 'node',
    eventId: typeof op.id === 'string' ? op.id : undefined,
  }
}

/** What applying one change returns: a RecordResult, an Issue or null, a boolean, counts; an Error if it could not apply. */
export type OpResult = unknown

/** Applies a batch in order; a change that cannot apply (malformed) yields its Error and the rest go on. */
export function applyBatch(index: IssueIndex, batch: Batch): OpResult[] {
  return batch.ops.map((op) => {
    try {
      return applyOp(index, op)
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err))
    }
  })
}

function applyOp(index: IssueIndex, op: Op): OpResult {
  switch (op.o) {
    case 'r': return index.apply(factsOf(op), op.n)
    case 'u': return index.applyUpdate(op.i, op.u, op.n)
    case 'd': return index.delete(op.i)
    case 'c': return index.applyClaim(op.k, op.i, op.x, op.n)
    case 'm': return index.maintain(op.n, op.b)
    case 's': return index.setStoredEvents(op.i, op.c, op.t, op.p ?? 0, op.n ?? Date.now())
    case 'a': return index.applyNote(op.i, op.tx, op.a, op.n)
    case 'f': return index.applyRuleFired(op.k, op.t)
    case 'k': return index.applySetting(op.k, op.v)
    case 'x': return index.noteShed(op.i, op.c)
    default: throw new Error(`unknown journal change ${JSON.stringify((op as { o?: unknown }).o)}`)
  }
}

/**
 * The lines for a list of changes: batches of at most MAX_LINE_BYTES, each a JSON line. A record
 * carries its issue's naming only when the index does not know the issue (or the batch deletes it
 * first): a storm on one issue writes a few dozen bytes per event.
 */
export function encodeBatches(ops: Op[], index: IssueIndex, newId: () => string): Array<{ id: string; text: string; ops: Op[] }> {
  const deleted = new Set<string>()
  const out: Array<{ id: string; text: string; ops: Op[] }> = []
  let parts: string[] = []
  let members: Op[] = []
  let bytes = 0
  const close = () => {
    if (members.length === 0) return
    const id = newId()
    out.push({ id, text: `{"id":${JSON.stringify(id)},"ops":[${parts.join(',')}]}\n`, ops: members })
    parts = []
    members = []
    bytes = 0
  }
  for (const op of ops) {
    if (op.o === 'd') deleted.add(op.i)
    const lean = op.o === 'r' && op.g !== undefined && index.has(op.i) && !deleted.has(op.i) ? { ...op, g: undefined } : op
    const json = JSON.stringify(lean)
    if (bytes + json.length > MAX_LINE_BYTES) close()
    parts.push(json)
    members.push(op)
    bytes += json.length + 1
  }
  close()
  return out
}

/** A journal line as a batch, or null when it is not one (it is then skipped and reported). */
export function parseBatch(line: string): Batch | null {
  try {
    const batch = JSON.parse(line) as Batch
    return typeof batch?.id === 'string' && Array.isArray(batch.ops) ? batch : null
  } catch {
    return null
  }
}
