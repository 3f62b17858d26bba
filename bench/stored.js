import { fileStore } from 'faultline/adapters/file'

/** Counts the events a faultline file store holds: the issues' exact counts, read back from disk. */
export async function countStored(storePath) {
  const store = fileStore({ path: storePath })
  let events = 0
  let issues = 0
  let cursor = null
  do {
    const page = await store.listIssues({ status: 'all', limit: 100, cursor })
    for (const issue of page.issues) events += issue.count
    issues += page.issues.length
    cursor = page.nextCursor
  } while (cursor)
  await store.close()
  return { events, issues }
}
