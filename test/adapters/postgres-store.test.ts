/** What only the PostgreSQL store has: its tables, migrations, SQL-side retention and input PostgreSQL refuses. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresStore } from '../../adapters/postgres.js'
import { migrations, tableNames } from '../../adapters/postgres/schema.js'
import { MAX_TAG_KEYS, MAX_TAG_VALUES } from '../../adapters/shared/issue-index.js'
import type { RecordInput, Store } from '../../lib/types.js'
import { testPostgres } from '../helpers/postgres.js'
import { recordInput } from './postgres-fixtures.js'

const pg = await testPostgres()

describe.skipIf(!pg.available)('postgresStore', () => {
  const schema = pg.newSchema()
  let store: Store

  beforeAll(() => {
    store = postgresStore({ connectionString: pg.url, schema })
  })
  afterAll(async () => {
    await store?.close()
    await pg.dropSchema(schema)
  })

  it('creates its schema and tables on first use and records the migration once', async () => {
    await store.countIssues()
    const { rows } = await pg.query(`SELECT version FROM "${schema}".faultline_migrations ORDER BY version`)
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3])
    const tables = await pg.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'faultline_alerts', 'faultline_events', 'faultline_issue_activity', 'faultline_issue_hourly', 'faultline_issue_recent', 'faultline_issue_releases',
      'faultline_issue_tag_keys', 'faultline_issue_tags', 'faultline_issue_users', 'faultline_issues', 'faultline_migrations',
      'faultline_rule_firings', 'faultline_settings',
    ])
  })

  it('tells a new issue from an existing one and counts events and distinct users', async () => {
    const first = await store.record(recordInput({ hash: 'basic0000000001', user: 'u1' }))
    expect(first.isNew).toBe(true)
    expect(first.issue).toMatchObject({ id: 'basic0000000001', count: 1, userCount: 1, status: 'unresolved', regressed: false })
    const second = await store.record(recordInput({ hash: 'basic0000000001', user: 'u1' }))
    const third = await store.record(recordInput({ hash: 'basic0000000001', user: 'u2' }))
    const anonymous = await store.record(recordInput({ hash: 'basic0000000001', user: null }))
    expect([second.isNew, third.isNew, anonymous.isNew]).toEqual([false, false, false])
    expect(anonymous.issue).toMatchObject({ count: 4, userCount: 2, countSinceRegression: 4, usersSinceRegression: 2 })
  })

  it('reopens a resolved issue as a regression and counts users again from the regression', async () => {
    const hash = 'regress00000001'
    await store.record(recordInput({ hash, user: 'u1' }))
    await store.record(recordInput({ hash, user: 'u2' }))
    await store.updateIssue(hash, { status: 'resolved' })
    const back = await store.record(recordInput({ hash, user: 'u1' }))
    expect(back).toMatchObject({ isNew: false, isRegression: true })
    expect(back.issue).toMatchObject({ status: 'unresolved', regressed: true, count: 3, userCount: 2, countSinceRegression: 1, usersSinceRegression: 1 })
    const again = await store.record(recordInput({ hash, user: 'u1' }))
    expect(again.isRegression).toBe(false)
    expect(again.issue).toMatchObject({ count: 4, userCount: 2, countSinceRegression: 2, usersSinceRegression: 1 })
  })

  it('ends an ignore when its event target is reached and says so once', async () => {
    const hash = 'ignore000000001'
    await store.record(recordInput({ hash }))
    const ignored = await store.updateIssue(hash, { status: 'ignored', until: { events: 2 } })
    expect(ignored?.ignoreUntil).toEqual({ count: 3 })
    const during = await store.record(recordInput({ hash }))
    expect(during).toMatchObject({ unignored: false, issue: { status: 'ignored' } })
    const ends = await store.record(recordInput({ hash }))
    expect(ends).toMatchObject({ unignored: true, issue: { status: 'unresolved', ignoreUntil: null } })
  })

  it('ends an ignore when its user target is reached', async () => {
    const hash = 'ignoreusers0001'
    await store.record(recordInput({ hash, user: 'a' }))
    await store.updateIssue(hash, { status: 'ignored', until: { users: 2 } })
    expect((await store.record(recordInput({ hash, user: 'a' }))).unignored).toBe(false)
    expect((await store.record(recordInput({ hash, user: 'b' }))).unignored).toBe(false)
    const ends = await store.record(recordInput({ hash, user: 'c' }))
    expect(ends).toMatchObject({ unignored: true, issue: { status: 'unresolved', userCount: 3 } })
  })

  it('counts a retried event once (the same event id recorded twice)', async () => {
    const input = recordInput({ hash: 'retry0000000001', user: 'u1' })
    await store.record(input)
    const retried = await store.record(input)
    expect(retried).toMatchObject({ isNew: false, issue: { count: 1, userCount: 1 } })
    expect((await store.listEvents('retry0000000001')).events).toHaveLength(1)
  })

  it('stores events holding NUL characters and lone surrogates, which PostgreSQL text and jsonb refuse', async () => {
    const input = recordInput({ hash: 'nul000000000001', message: 'bad\u0000byte \ud800 here', tags: { 'k\u0000': 'v\udc00' } })
    input.event.extra = { raw: 'a\\u0000b', nested: { s: '\u0000' } }
    const { issue } = await store.record(input)
    expect(issue.message).toBe('bad\uFFFDbyte \ud800 here'.replace('\ud800', '\uFFFD'))
    const stored = await store.getEvent(issue.id, input.event.event_id)
    expect(stored?.extra).toEqual({ raw: 'a\\u0000b', nested: { s: '\uFFFD' } })
    expect(stored?.message).toBe('bad\uFFFDbyte \uFFFD here')
  })

  it('prunes events beyond maxEventsPerIssue in batches, keeping the newest, while counts stay exact', async () => {
    const hash = 'prune0000000001'
    const total = 1100 // more than one delete batch of 1,000
    const base = Date.now() - 60_000
    // 8 at a time, as the tracker records
    for (let i = 0; i < total; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, total - i) }, (_, j) => store.record(recordInput({ hash, user: `u${(i + j) % 40}`, at: new Date(base + i + j) }))))
    }
    const result = await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 86_400_000 } })
    expect(result.prunedEvents).toBe(total - 10)
    const page = await store.listEvents(hash, { limit: 100 })
    expect(page.events.map((e) => e.timestamp)).toEqual(Array.from({ length: 10 }, (_, i) => new Date(base + total - 1 - i).toISOString()))
    expect(await store.getIssue(hash)).toMatchObject({ count: total, userCount: 40 })
    expect((await store.histogram(hash, { interval: 'day', buckets: 2 })).reduce((a, b) => a + b)).toBe(total)
    expect(await store.tagBreakdown(hash)).toEqual([
      { key: 'environment', total: total, values: [{ value: 'production', count: total }] },
      { key: 'level', total: total, values: [{ value: 'error', count: total }] },
    ])
    expect(await store.countEventsSince(hash, new Date(base))).toBe(total)
    expect((await store.maintain({ retention: { maxEventsPerIssue: 10, maxAgeMs: 86_400_000 } })).prunedEvents).toBe(0)
    // the two batches make one line in the log, and the users keep their counts
    expect((await store.listActivity(hash))!.activity).toMatchObject([{ kind: 'first_seen' }, { kind: 'events_pruned', actor: 'faultline', count: total - 10 }])
    const users = (await store.listUsers(hash, { limit: 100 }))!.users
    expect(users).toHaveLength(40)
    expect(users.reduce((sum, user) => sum + user.count, 0)).toBe(total)
  }, 60_000)

  it('prunes events older than maxAgeMs and lifts expired ignores in one sweep', async () => {
    const hash = 'oldevents000001'
    const now = Date.now()
    await store.record(recordInput({ hash, at: new Date(now - 3 * 86_400_000) }))
    await store.record(recordInput({ hash, at: new Date(now - 1000) }))
    await store.updateIssue(hash, { status: 'ignored', until: { for: '1h' } })
    const result = await store.maintain({ now: new Date(now + 2 * 3_600_000), retention: { maxEventsPerIssue: 100, maxAgeMs: 86_400_000 } })
    expect(result.prunedEvents).toBeGreaterThanOrEqual(1)
    expect(result.unignoredIssues).toBe(1)
    expect(await store.getIssue(hash)).toMatchObject({ status: 'unresolved', count: 2, ignoreUntil: null })
    expect((await store.listEvents(hash)).events).toHaveLength(1)
  })

  it('caps tag counting at 50 keys and 200 values per key while key totals stay exact', async () => {
    const hash = 'tagcaps00000001'
    for (let i = 0; i < 210; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => store.record(recordInput({ hash, tags: { request: `r${i + j}`, [`k${(i + j) % 60}`]: 'x' } }))))
    }
    const tags = await store.tagBreakdown(hash, { limit: 1000 })
    expect(tags.length).toBe(50)
    const request = tags.find((t) => t.key === 'request')!
    expect(request.total).toBe(210)
    expect(request.values).toHaveLength(200)
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "${schema}".faultline_issue_tags WHERE issue_id = $1`, [hash])
    expect(rows[0].n).toBeLessThanOrEqual(50 * 200)
  }, 30_000)

  it('counts a retried shed event once, whether its first try was shed or kept', async () => {
    const hash = 'shedretry000001'
    const shed: RecordInput = { ...recordInput({ hash, user: 'u1', tags: { browser: 'chrome' } }), shed: true }
    await store.record(shed)
    const retried = await store.record(shed)
    expect(retried).toMatchObject({ isNew: false, issue: { count: 1, shed: 1, userCount: 1 } })
    // kept first, then retried shed (the queue lightened it meanwhile): still one event, still listed
    const kept = recordInput({ hash, user: 'u2' })
    await store.record(kept)
    await store.record({ ...kept, shed: true })
    expect(await store.getIssue(hash)).toMatchObject({ count: 2, shed: 1, userCount: 2 })
    expect((await store.listEvents(hash)).events.map((e) => e.event_id)).toEqual([kept.event.event_id])
    expect((await store.tagBreakdown(hash)).find((t) => t.key === 'browser')).toMatchObject({ total: 1 })
    // the shed row holds the event id and nothing of its body
    const { rows } = await pg.query(`SELECT data FROM "${schema}".faultline_events WHERE event_id = $1`, [shed.event.event_id])
    expect(rows).toEqual([{ data: null }])
  })

  it('passes shed per event when many are written in one statement', async () => {
    const hash = 'shedbatch000001'
    await store.record(recordInput({ hash }))
    // recorded at once: they wait behind the first write and go together into the next statements
    const inputs = Array.from({ length: 60 }, (_, i) => ({ ...recordInput({ hash, user: `u${i}` }), shed: i % 3 === 0 }))
    await Promise.all(inputs.map((input) => store.record(input)))
    expect(await store.getIssue(hash)).toMatchObject({ count: 61, shed: 20, userCount: 60 })
    const listed = (await store.listEvents(hash, { limit: 100 })).events.map((e) => e.event_id).sort()
    expect(listed).toHaveLength(41)
    for (const input of inputs) expect(listed.includes(input.event.event_id)).toBe(!input.shed)
  })

  it('drops body-less rows of shed events a day old in maintain, not counting them as pruned events', async () => {
    // a schema of its own: what maintain() prunes of the other tests' events must not count here
    const own = pg.newSchema()
    const fresh = postgresStore({ connectionString: pg.url, schema: own })
    try {
      const hash = 'shedprune000001'
      const now = Date.now()
      const old: RecordInput = { ...recordInput({ hash, at: new Date(now - 25 * 3_600_000) }), shed: true }
      const recent: RecordInput = { ...recordInput({ hash, at: new Date(now - 23 * 3_600_000) }), shed: true }
      const kept = recordInput({ hash, at: new Date(now - 25 * 3_600_000) })
      for (const input of [old, recent, kept]) await fresh.record(input)
      const result = await fresh.maintain({ now: new Date(now), retention: { maxEventsPerIssue: 100, maxAgeMs: 7 * 86_400_000 } })
      expect(result.prunedEvents).toBe(0)
      const { rows } = await pg.query(`SELECT event_id FROM "${own}".faultline_events ORDER BY ts`)
      expect(rows.map((r) => r.event_id)).toEqual([kept.event.event_id, recent.event.event_id])
      // a retry of the recent one still counts once; the counts stay exact after the old row went
      await fresh.record(recent)
      expect(await fresh.getIssue(hash)).toMatchObject({ count: 3, shed: 2 })
    } finally {
      await fresh.close()
      await pg.dropSchema(own)
    }
  })

  it('migrates a database of the release before: its events stay, its issues count shed events from then on', async () => {
    const old = pg.newSchema()
    const t = tableNames(old, 'faultline_')
    try {
      // the schema as the release before left it: migration 1 only, and an event its record_v1 wrote
      await pg.query(`CREATE SCHEMA "${old}"`)
      await pg.query(`CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
      for (const statement of migrations(t, { keys: MAX_TAG_KEYS, values: MAX_TAG_VALUES })[0].statements) await pg.query(statement)
      await pg.query(`INSERT INTO ${t.migrations} (version) VALUES (1)`)
      const before = recordInput({ hash: 'upgraded0000001', user: 'u1' })
      await pg.query(`SELECT ${t.recordV1}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 'production', 'k1', '[]', date_trunc('hour', $3::timestamptz), now())`, [
        before.event.event_id, 'upgraded0000001', before.event.timestamp, JSON.stringify(before.event), JSON.stringify(before.grouping.fingerprint),
        before.grouping.title, before.grouping.culprit, before.grouping.type, before.grouping.message, 'error'])

      const upgraded = postgresStore({ connectionString: pg.url, schema: old })
      try {
        expect(await upgraded.getIssue('upgraded0000001')).toMatchObject({ count: 1, shed: 0 })
        const { rows } = await pg.query(`SELECT version FROM ${t.migrations} ORDER BY version`)
        expect(rows.map((r) => r.version)).toEqual([1, 2, 3])
        await upgraded.record({ ...recordInput({ hash: 'upgraded0000001', user: 'u2' }), shed: true })
        expect(await upgraded.getIssue('upgraded0000001')).toMatchObject({ count: 2, shed: 1, userCount: 2 })
        expect((await upgraded.listEvents('upgraded0000001')).events.map((e) => e.event_id)).toEqual([before.event.event_id])
        // an instance still on the release before keeps recording through record_v1
        const during = recordInput({ hash: 'upgraded0000001' })
        await pg.query(`SELECT ${t.recordV1}($1, $2, now(), $3, '[]', 't', 'c', 'T', 'm', 'error', NULL, NULL, NULL, '[]', date_trunc('hour', now()), now())`,
          [during.event.event_id, 'upgraded0000001', JSON.stringify(during.event)])
        expect(await upgraded.getIssue('upgraded0000001')).toMatchObject({ count: 3, shed: 1 })
      } finally {
        await upgraded.close()
      }
    } finally {
      await pg.dropSchema(old)
    }
  })

  it('migrates a database of the release before to users with details, the activity log and platforms, and keeps record_v2 working', async () => {
    const old = pg.newSchema()
    const t = tableNames(old, 'faultline_')
    const hash = 'upgradedv200001'
    const v2 = (input: RecordInput, user: string | null) => pg.query(
      `SELECT ${t.recordV2}($1, $2, $3, $4, false, $5, 't', 'c', 'T', 'm', 'error', NULL, 'production', $6, '[]', date_trunc('hour', $3::timestamptz), now())`,
      [input.event.event_id, hash, input.event.timestamp, JSON.stringify(input.event), JSON.stringify(input.grouping.fingerprint), user])
    try {
      // the schema as the release before left it (migrations 1 and 2), with a resolved issue its record_v2 wrote
      await pg.query(`CREATE SCHEMA "${old}"`)
      await pg.query(`CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
      for (const migration of migrations(t, { keys: MAX_TAG_KEYS, values: MAX_TAG_VALUES }).slice(0, 2)) {
        for (const statement of migration.statements) await pg.query(statement)
        await pg.query(`INSERT INTO ${t.migrations} (version) VALUES ($1)`, [migration.version])
      }
      await v2(recordInput({ hash, user: 'old-user' }), 'old-user-hash')
      await pg.query(`UPDATE ${t.issues} SET status = 'resolved', resolved_at = now() WHERE id = $1`, [hash])

      const upgraded = postgresStore({ connectionString: pg.url, schema: old })
      try {
        // the issue of the release before: from Node, not resolved in a release, with a log that starts now
        expect(await upgraded.getIssue(hash)).toMatchObject({ count: 1, userCount: 1, status: 'resolved', platforms: ['node'], resolvedInRelease: null })
        expect((await pg.query(`SELECT version FROM ${t.migrations} ORDER BY version`)).rows.map((r) => r.version)).toEqual([1, 2, 3])
        expect(await upgraded.listActivity(hash)).toEqual({ activity: [], nextCursor: null })
        // a user counted before has no details to show; counted again, it gets them
        expect(await upgraded.listUsers(hash)).toEqual({ users: [], nextCursor: null })
        const back = { ...recordInput({ hash, user: 'new-user' }), event: { ...recordInput().event, user: { id: 'new-user', email: 'New@Example.com' }, platform: 'javascript' as const } }
        const result = await upgraded.record(back)
        expect(result).toMatchObject({ isRegression: true, issue: { count: 2, userCount: 2, platforms: ['node', 'javascript'] } })
        expect((await upgraded.listUsers(hash))!.users).toMatchObject([{ key: 'new-user', user: { id: 'new-user', email: 'New@Example.com' }, count: 1 }])
        expect((await upgraded.listActivity(hash))!.activity).toMatchObject([{ kind: 'regressed', eventId: back.event.event_id }])
        expect((await upgraded.listIssues({ q: 'user.email:new@example.com', status: 'all' })).issues.map((i) => i.id)).toEqual([hash])
        // an instance still on the release before keeps recording through record_v2, and its user counts once
        await v2(recordInput({ hash }), 'old-user-hash')
        expect(await upgraded.getIssue(hash)).toMatchObject({ count: 3, userCount: 2 })
      } finally {
        await upgraded.close()
      }
    } finally {
      await pg.dropSchema(old)
    }
  })

  it('keeps each user in one row with their count and latest fields, and finds them through an index', async () => {
    const hash = 'usersrow0000001'
    for (const [at, fields] of [[2000, { id: 7, email: 'a@x.example' }], [1000, { id: 7, email: 'old@x.example' }], [3000, { id: 7, name: 'Seven' }]] as const) {
      const input = recordInput({ hash, user: 'id:7', at: new Date(Date.now() - 10_000 + at) })
      input.event.user = fields
      await store.record(input)
    }
    const { rows } = await pg.query(`SELECT key, data, count FROM "${schema}".faultline_issue_users WHERE issue_id = $1`, [hash])
    expect(rows).toEqual([{ key: 'id:7', data: { id: 7, name: 'Seven' }, count: '3' }])
    // the search's subquery on a table too big to scan: PostgreSQL takes the index on each field
    const plan = await pg.query(`BEGIN; SET LOCAL enable_seqscan = off;
      EXPLAIN SELECT 1 FROM "${schema}".faultline_issue_users u WHERE lower(u.data->>'id') = '7' OR lower(u.data->>'email') = '7' OR lower(u.data->>'username') = '7';
      ROLLBACK`) as unknown as Array<{ rows: Array<Record<string, string>> }>
    const text = plan[2].rows.map((r) => Object.values(r)[0]).join('\n')
    expect(text.match(/Bitmap Index Scan on faultline_issue_users_lower_idx/g)).toHaveLength(3)
    for (const field of ['id', 'email', 'username']) expect(text).toContain(`Index Cond: (lower((data ->> '${field}'::text)) = '7'::text)`)
  })

  it('gives each alert key to one claimer until its claim expires', async () => {
    const until = new Date(Date.now() + 200)
    expect(await store.claimAlert('k1', { issueId: 'x', expiresAt: until })).toBe(true)
    expect(await store.claimAlert('k1', { issueId: 'x', expiresAt: until })).toBe(false)
    await new Promise((r) => setTimeout(r, 250))
    expect(await store.claimAlert('k1', { issueId: 'x' })).toBe(true)
    expect(await store.claimAlert('k1', { issueId: 'x' })).toBe(false)
  })
})
