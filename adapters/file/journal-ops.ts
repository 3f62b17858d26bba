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
  /** the user's key and fields, for the affected-user list; the fields are left out of the journal when listed already */
  k?: string
  ud?: User
  /** the platform, when not 'node' */
  p?: 'javascript'
  /** the event's id, for the activity log's first_seen and regressed lines (left out of the journal when it cannot make either) */
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
    person: typeof op.k === 'string' ? { key: op.k, user: typeof op.ud === 'object' && op.ud !== null ? op.ud : undefined } : undefined,
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
 * The lines for a list of changes: batches of at most MAX_LINE_BYTES, each a JSON line. Lines are
 * applied in order, after everything the index holds, so a record leaves out what the index (or an
 * earlier change of the batch) will know by then: a storm on one issue writes about a hundred bytes
 * per event, and a full disk keeps room for thousands of them. See `leanRecord`.
 */
export function encodeBatches(ops: Op[], index: IssueIndex, newId: () => string): Array<{ id: string; text: string; ops: Op[] }> {
  const before = new BatchSoFar()
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
    // each line names its own new issues, so that it reads whole by itself
    before.named.clear()
  }
  for (const op of ops) {
    let json = JSON.stringify(op.o === 'r' ? leanRecord(op, index, before) : op)
    if (bytes + json.length > MAX_LINE_BYTES && members.length > 0) {
      close()
      if (op.o === 'r') json = JSON.stringify(leanRecord(op, index, before))
    }
    before.note(op)
    parts.push(json)
    members.push(op)
    bytes += json.length + 1
  }
  close()
  return out
}

/** What the changes of a batch before the one being encoded will have done to the index. */
class BatchSoFar {
  /** issues a record of the current line names (creating them) */
  readonly named = new Set<string>()
  readonly deleted = new Set<string>()
  /** issues whose status a change may have changed (an update, or any maintenance for all) */
  readonly restated = new Set<string>()
  maintained = false
  /** per issue, per user hash: the fields every record of the user so far carried, or null when they differed */
  readonly fields = new Map<string, Map<string, string | null>>()

  note(op: Op): void {
    if (op.o === 'd') {
      this.deleted.add(op.i)
      this.named.delete(op.i)
      this.fields.delete(op.i)
    } else if (op.o === 'u') {
      this.restated.add(op.i)
    } else if (op.o === 'm') {
      this.maintained = true
    } else if (op.o === 'r' && op.u !== undefined && op.ud !== undefined) {
      let users = this.fields.get(op.i)
      if (users === undefined) this.fields.set(op.i, (users = new Map()))
      const json = JSON.stringify(op.ud)
      const seen = users.get(op.u)
      users.set(op.u, seen === undefined || seen === json ? json : null)
    }
  }

  /** Will the issue list the user with these fields (as JSON) when the record is applied, whatever its time? */
  listsAlready(op: FactsOp, index: IssueIndex, inIndex: boolean, json: string): boolean {
    const earlier = this.fields.get(op.i)?.get(op.u!)
    if (earlier === null) return false
    const listed = inIndex ? index.listedUser(op.i, op.u!) : undefined
    const listedJson = listed === undefined ? undefined : JSON.stringify(listed)
    // what the index lists, unless an earlier record of the batch (maybe older, so not taken) carried other fields
    if (earlier === undefined) return listedJson === json
    return earlier === json && (listedJson === undefined || listedJson === json)
  }
}

/**
 * A record as its journal line carries it, leaving out:
 * - the issue's naming, when the issue exists by then (only its first record in a line creates it);
 * - the event's id, when the record can neither create the issue nor regress it (the id is for
 *   the log's first_seen and regressed lines): the issue exists, is not resolved in the index, and
 *   no change before it in the batch may have resolved it;
 * - the user's fields, when the issue will list the user with the same fields by then (the index
 *   lists them, or an earlier record of the batch carried them, and none carried others): the
 *   listed ones stay.
 */
function leanRecord(op: FactsOp, index: IssueIndex, before: BatchSoFar): FactsOp {
  const inIndex = index.has(op.i) && !before.deleted.has(op.i)
  const exists = inIndex || before.named.has(op.i)
  const lean: FactsOp = { ...op }
  if (lean.g !== undefined) {
    if (exists) delete lean.g
    else before.named.add(op.i)
  }
  const mayRegress = before.maintained || before.restated.has(op.i) || (inIndex && index.statusOf(op.i) === 'resolved')
  if (lean.id !== undefined && exists && !mayRegress) delete lean.id
  if (lean.ud !== undefined && lean.u !== undefined && exists && before.listsAlready(op, index, inIndex, JSON.stringify(lean.ud))) delete lean.ud
  return lean
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
