/**
 * Checks a file store's events files against its issues, once per process, under the write lock.
 * The journal keeps the two consistent (an event's body is written only after it is counted, an
 * issue's file removed before the issue), but a store written by an earlier version, or a file
 * restored by hand, may not be: an events file whose issue is missing gets its issue back, counted
 * from its events, and in a store from before the journal the events a crash left uncounted are
 * counted. An issue's count is then never below the events it lists.
 */
import { readdir } from 'node:fs/promises'
import { factsOf, type IssueIndex } from '../shared/issue-index.js'
import { isIssueId } from '../shared/arguments.js'
import type { EventEntry } from '../shared/event-list.js'
import { groupEvent, userKey } from '../../common/fingerprint.js'
import type { FaultlineEvent } from '../../lib/types.js'
import type { EventFiles } from './event-files.js'
import { factsOp, type FactsOp } from './journal-ops.js'

/** Issue ids that have an events file. */
async function idsWithFiles(files: EventFiles): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(files.dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw err
  }
  return names.filter((n) => n.endsWith('.jsonl')).map((n) => n.slice(0, -'.jsonl'.length)).filter(isIssueId)
}

/** Records counting stored events, their bodies already in their file, under the id of the file they are in. */
function recordsOf(id: string, entries: EventEntry[], now: number): FactsOp[] {
  return entries.map((entry) => {
    const event = JSON.parse(entry.json) as FaultlineEvent
    const grouping = { ...groupEvent(event), hash: id }
    return factsOp(factsOf({ event, grouping, userKey: userKey(event.user) }, now), now)
  })
}

/** Records that bring back the issues of events files whose issue is missing. */
export async function orphanRecords(files: EventFiles, index: IssueIndex, now: number): Promise<{ ops: FactsOp[]; issues: string[] }> {
  const orphans = (await idsWithFiles(files)).filter((id) => !index.has(id))
  const ops: FactsOp[] = []
  for (const id of orphans) ops.push(...recordsOf(id, await files.read(id), now))
  return { ops, issues: orphans }
}

/**
 * Records for the events of a store from before the journal that its document does not count: an
 * older version appended events before saving their counts, so a crash between the two left the
 * newest events of a file uncounted. They are the ones beyond what the document says it stored.
 */
export async function uncountedRecords(files: EventFiles, index: IssueIndex, now: number): Promise<FactsOp[]> {
  const ops: FactsOp[] = []
  for (const id of await idsWithFiles(files)) {
    if (!index.has(id)) continue
    // the last appended, which is not always the newest by time
    const entries = await files.readInFileOrder(id)
    const extra = entries.length - index.storedEvents(id).count
    if (extra > 0) ops.push(...recordsOf(id, entries.slice(-extra), now))
  }
  return ops
}
