/**
 * Builds a big file store quickly for scale tests: the issues go through the real IssueIndex
 * and document writer, and each issue's events are written as one JSON Lines file (recording
 * 100,000 events one by one would test the disk more than the store).
 */
import { mkdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { IssueIndex } from '../../adapters/shared/issue-index.js'
import { IndexDocument } from '../../adapters/file/document.js'
import { issueId, makeInput } from '../../testing/index.js'

/** Writes a store of `issues` issues with `eventsPerIssue` events each, one second apart from `start`; returns `start`. */
export async function fillFileStore(file: string, { issues, eventsPerIssue }: { issues: number; eventsPerIssue: number }): Promise<number> {
  const index = new IssueIndex()
  const dir = path.join(path.dirname(file), `${path.basename(file, '.json')}.events`)
  mkdirSync(dir, { recursive: true })
  const start = Date.now() - 2 * 86_400_000
  const files: Array<[string, string]> = []
  for (let i = 0; i < issues; i++) {
    const lines: string[] = []
    let oldest = Infinity
    for (let n = 0; n < eventsPerIssue; n++) {
      const time = start + (i * eventsPerIssue + n) * 1000
      const input = makeInput({ issue: `issue${i}`, time, user: `user${(i + n) % 500}`, release: `1.${n % 3}.0`, tags: { browser: ['chrome', 'firefox', 'safari'][n % 3], route: `/orders/${i % 40}` } })
      // every event goes through the index, as record would; the event lines are written in bulk below
      index.record(input, time)
      lines.push(`\n${JSON.stringify(input.event)}`)
      oldest = Math.min(oldest, time)
    }
    files.push([issueId(`issue${i}`), lines.join('')])
    index.setStoredEvents(issueId(`issue${i}`), eventsPerIssue, oldest)
  }
  await new IndexDocument(file).write({ index, journal: 1, offset: 0, adopted: [], legacy: false })
  const queue = [...files]
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let f = queue.pop(); f !== undefined; f = queue.pop()) await writeFile(path.join(dir, `${f[0]}.jsonl`), f[1])
  }))
  return start
}
