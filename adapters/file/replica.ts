/**
 * A process's copy of a file store's issues: the document it started from, with every journal
 * line since applied in order. Every process sharing the store keeps one and reaches the same
 * state. A writer registers the id of each batch it appends and gets that batch's results when
 * the line is applied: the results are the journal's, whoever wrote before it.
 */
import { IssueIndex } from '../shared/issue-index.js'
import type { Checkpoint } from './document.js'
import type { JournalPosition } from './journal.js'
import { applyBatch, parseBatch, type OpResult } from './journal-ops.js'

export class Replica {
  index: IssueIndex
  /** how far the journal has been applied */
  position: JournalPosition
  /** spool files whose batches have been applied (kept until the files are gone) */
  adopted: Set<string>
  /** from a document written before the journal existed */
  legacy: boolean
  #waiting: Map<string, (results: OpResult[]) => void>
  #onBadLine: (line: string) => void

  constructor(checkpoint: Checkpoint | null, onBadLine: (line: string) => void, waiting = new Map<string, (results: OpResult[]) => void>()) {
    this.index = checkpoint?.index ?? new IssueIndex()
    this.position = { gen: checkpoint?.journal ?? 1, offset: checkpoint?.offset ?? 0 }
    this.adopted = new Set(checkpoint?.adopted ?? [])
    this.legacy = checkpoint?.legacy ?? false
    this.#onBadLine = onBadLine
    this.#waiting = waiting
  }

  /** A replica of a newer document, taking over the batches still awaited. */
  reloaded(checkpoint: Checkpoint | null): Replica {
    return new Replica(checkpoint, this.#onBadLine, this.#waiting)
  }

  /** Calls `settle` with the batch's results once its line is applied. */
  expect(batchId: string, settle: (results: OpResult[]) => void): void {
    this.#waiting.set(batchId, settle)
  }

  applyLine(line: string): void {
    const batch = parseBatch(line)
    if (batch === null) {
      this.#onBadLine(line)
      return
    }
    const results = applyBatch(this.index, batch)
    if (typeof batch.spool === 'string') this.adopted.add(batch.spool)
    const settle = this.#waiting.get(batch.id)
    if (settle === undefined) return
    this.#waiting.delete(batch.id)
    settle(results)
  }
}
