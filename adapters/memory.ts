/**
 * The memory store: everything in this process, gone when it exits. For tests and for trying
 * faultline out; an app that must keep its errors uses the file or postgres store.
 */
import type { RecordInput, RecordResult, Retention, Store } from '../lib/types.js'
import { checkRecordInput, IssueIndex } from './shared/issue-index.js'
import { checkRetention, DEFAULT_RETENTION, isIssueId, maintainArguments } from './shared/arguments.js'
import { findEntry, insertEntry, neighborsOf, pageEntries, prunable, toEntry, type EventEntry } from './shared/event-list.js'

export interface MemoryStoreOptions {
  /** what record keeps between maintain sweeps (maintain may pass another); default 100 events, 90 days */
  retention?: Retention
}

/** A store that keeps issues and events in memory. */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  let retention = options.retention === undefined ? DEFAULT_RETENTION : checkRetention(options.retention)
  const index = new IssueIndex()
  const events = new Map<string, EventEntry[]>()

  const listOf = (id: unknown): EventEntry[] => (isIssueId(id) && events.get(id)) || []

  /** drops the oldest entries and tells the index what is left */
  function prune(id: string, list: EventEntry[], drop: number, now = Date.now()): number {
    if (drop > 0) list.splice(0, drop)
    index.setStoredEvents(id, list.length, list.length > 0 ? list[0].t : null, drop, now)
    return drop
  }

  function recordSync(input: RecordInput): RecordResult {
    const now = Date.now()
    checkRecordInput(input)
    // serialise first: an event JSON cannot hold must not leave the counts changed
    const entry = toEntry(input.event, now)
    const result = index.record(input, now)
    if (input.shed === true) return result
    const id = result.issue.id
    let list = events.get(id)
    if (list === undefined) events.set(id, (list = []))
    insertEntry(list, entry)
    // between sweeps an error storm must not grow memory without bound: trim at twice the cap
    if (list.length > 2 * retention.maxEventsPerIssue) prune(id, list, list.length - retention.maxEventsPerIssue, now)
    return result
  }

  return {
    async record(input) {
      return recordSync(input)
    },
    recordSync,
    async getIssue(id) {
      return index.get(id)
    },
    async listIssues(options) {
      return index.list(options)
    },
    async countIssues(q) {
      return index.count(q)
    },
    async listEvents(issueId, options) {
      return pageEntries(listOf(issueId), options)
    },
    async getEvent(issueId, eventId) {
      return findEntry(listOf(issueId), eventId)
    },
    async eventNeighbors(issueId, eventId) {
      return neighborsOf(listOf(issueId), eventId)
    },
    async updateIssue(id, update) {
      return index.update(id, update)
    },
    async deleteIssue(id) {
      if (!index.delete(id)) return false
      events.delete(id as string)
      return true
    },
    async histogram(issueId, options) {
      return index.histogram(issueId, options)
    },
    async countEventsSince(issueId, since) {
      return index.countSince(issueId, since)
    },
    async tagBreakdown(issueId, options) {
      return index.tagBreakdown(issueId, options)
    },
    async claimAlert(key, options) {
      return index.claim(key, options)
    },
    async maintain(options) {
      const args = maintainArguments(options, retention)
      retention = args.retention
      let prunedEvents = 0
      for (const [id, list] of events) prunedEvents += prune(id, list, prunable(list, retention, args.now), args.now)
      const { resolvedIssues, unignoredIssues } = index.maintain(args.now, args.autoResolveBefore)
      return { prunedEvents, resolvedIssues, unignoredIssues }
    },
    async listUsers(issueId, options) {
      return index.listUsers(issueId, options)
    },
    async listActivity(issueId, options) {
      return index.listActivity(issueId, options)
    },
    async addNote(issueId, note) {
      return index.addNote(issueId, note)
    },
    async noteRuleFired(ruleKey, at) {
      index.noteRuleFired(ruleKey, at)
    },
    async ruleFirings() {
      return index.ruleFirings()
    },
    async claimSetting(name, value) {
      return index.claimSetting(name, value)
    },
    async flush() {},
    flushSync() {},
    async close() {},
  }
}

export default memoryStore
