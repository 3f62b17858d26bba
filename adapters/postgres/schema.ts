/**
 * The PostgreSQL store's tables and their migrations. Each migration runs once, in order, inside
 * one transaction under an advisory lock (see migrate.ts), so several instances starting at once
 * agree on one schema. Never edit a released migration: add the next one.
 */

import { MAX_ACTIVITY } from '../shared/issue-history.js'
/** Quoted, schema-qualified names of the store's tables. */
export interface Tables {
  schema: string
  migrations: string
  issues: string
  events: string
  users: string
  releases: string
  tagKeys: string
  tags: string
  hourly: string
  recent: string
  alerts: string
  activity: string
  settings: string
  ruleFirings: string
  /** the function that records one event, as this release calls it (see migration 3) */
  record: string
  /** the record functions of migrations 1 and 2, kept for instances still on the releases before */
  recordV1: string
  recordV2: string
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/

/** Builds the table names; `schema` and `prefix` must be plain lowercase identifiers. */
export function tableNames(schema: string, prefix: string): Tables {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
    throw new TypeError(`faultline: postgresStore: schema must be a lowercase identifier like 'public' or 'faultline', got ${JSON.stringify(schema)}`)
  }
  if (typeof prefix !== 'string' || !(prefix === '' || IDENTIFIER.test(prefix))) {
    throw new TypeError(`faultline: postgresStore: tablePrefix must be lowercase letters, digits and '_' like 'faultline_', got ${JSON.stringify(prefix)}`)
  }
  const name = (table: string) => `"${schema}"."${prefix}${table}"`
  return {
    schema: `"${schema}"`,
    migrations: name('migrations'),
    issues: name('issues'),
    events: name('events'),
    users: name('issue_users'),
    releases: name('issue_releases'),
    tagKeys: name('issue_tag_keys'),
    tags: name('issue_tags'),
    hourly: name('issue_hourly'),
    recent: name('issue_recent'),
    alerts: name('alerts'),
    activity: name('issue_activity'),
    settings: name('settings'),
    ruleFirings: name('rule_firings'),
    record: name('record_v3'),
    recordV1: name('record_v1'),
    recordV2: name('record_v2'),
  }
}

/**
 * Migrations by version. Counts live on the issue row and in counter tables (users, tags,
 * hourly, recent), never in `count(*)` over events, so pruning events keeps every count exact.
 */
export function migrations(t: Tables, limits: TagLimits): Array<{ version: number; statements: string[] }> {
  return [
    {
      version: 1,
      statements: [
        `CREATE TABLE ${t.issues} (
          id text PRIMARY KEY,
          fingerprint jsonb NOT NULL,
          title text NOT NULL,
          culprit text NOT NULL,
          type text NOT NULL,
          message text NOT NULL,
          level text NOT NULL,
          status text NOT NULL DEFAULT 'unresolved',
          regressed boolean NOT NULL DEFAULT false,
          count bigint NOT NULL,
          user_count bigint NOT NULL DEFAULT 0,
          first_seen timestamptz NOT NULL,
          last_seen timestamptz NOT NULL,
          first_release text,
          last_release text,
          -- times of the earliest and latest events that carried a release
          first_release_at timestamptz,
          last_release_at timestamptz,
          environments text[] NOT NULL,
          resolved_at timestamptz,
          regressed_at timestamptz,
          until_count bigint,
          until_users bigint,
          until_at timestamptz,
          count_since_regression bigint NOT NULL,
          users_since_regression bigint NOT NULL DEFAULT 0,
          -- bumped by each regression; issue_users rows of older generations count again once
          generation integer NOT NULL DEFAULT 0
        )`,
        // the list: one index per sort, led by status for the tabs; (value, id) is the keyset.
        // The 'all' tab merges the three statuses, so no index without status is needed.
        `CREATE INDEX ON ${t.issues} (status, last_seen, id)`,
        `CREATE INDEX ON ${t.issues} (status, first_seen, id)`,
        `CREATE INDEX ON ${t.issues} (status, count, id)`,
        `CREATE INDEX ON ${t.issues} (status, user_count, id)`,
        // maintain(): expired ignores
        `CREATE INDEX ON ${t.issues} (until_at) WHERE until_at IS NOT NULL`,

        `CREATE TABLE ${t.events} (
          event_id text PRIMARY KEY,
          -- checked at commit: record inserts the event first, as the gate that makes retries count once
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
          ts timestamptz NOT NULL,
          data jsonb NOT NULL
        )`,
        // newest first by (time, event id): the order every store pages events in
        `CREATE INDEX ON ${t.events} (issue_id, ts, event_id)`,
        `CREATE INDEX ON ${t.events} (ts)`,

        `CREATE TABLE ${t.users} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          -- a hash of the user's id, email, username or ip: exact counts without personal data
          user_key text NOT NULL,
          -- first_gen = generation only on the row's first insert: that is a new distinct user
          first_gen integer NOT NULL,
          generation integer NOT NULL,
          PRIMARY KEY (issue_id, user_key)
        )`,

        `CREATE TABLE ${t.releases} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          release text NOT NULL,
          PRIMARY KEY (issue_id, release)
        )`,
        `CREATE INDEX ON ${t.releases} (lower(release))`,

        // tag totals per key stay exact even when a key has more values than are kept
        `CREATE TABLE ${t.tagKeys} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          key text NOT NULL,
          total bigint NOT NULL,
          value_count integer NOT NULL,
          PRIMARY KEY (issue_id, key)
        )`,
        `CREATE TABLE ${t.tags} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          key text NOT NULL,
          value text NOT NULL,
          count bigint NOT NULL,
          PRIMARY KEY (issue_id, key, value)
        )`,
        `CREATE INDEX ON ${t.tags} (lower(key), lower(value))`,

        // histograms: one row per issue and hour (days are sums of hours, in UTC)
        `CREATE TABLE ${t.hourly} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          hour timestamptz NOT NULL,
          count bigint NOT NULL,
          PRIMARY KEY (issue_id, hour)
        )`,
        `CREATE INDEX ON ${t.hourly} (hour)`,

        // countEventsSince: counts per exact timestamp for the last day, so rule windows stay exact after pruning
        `CREATE TABLE ${t.recent} (
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          at timestamptz NOT NULL,
          count bigint NOT NULL,
          PRIMARY KEY (issue_id, at)
        )`,
        `CREATE INDEX ON ${t.recent} (at)`,

        `CREATE TABLE ${t.alerts} (
          key text PRIMARY KEY,
          issue_id text NOT NULL,
          claimed_at timestamptz NOT NULL,
          expires_at timestamptz
        )`,
        `CREATE INDEX ON ${t.alerts} (issue_id)`,
        recordFunctionV1(t, limits),
      ],
    },
    {
      // Events shed under load: counted in full, body not kept. A shed event still leaves a row
      // keyed by its event id, with no body, because that key is what makes a retry count once;
      // a separate table of shed ids would miss a retry that comes back shed after a first try
      // that was kept (or the other way round), so kept and shed share the one gate.
      version: 2,
      statements: [
        `ALTER TABLE ${t.issues} ADD COLUMN shed bigint NOT NULL DEFAULT 0`,
        // data IS NULL: a shed event, counted but never listed
        `ALTER TABLE ${t.events} ALTER COLUMN data DROP NOT NULL`,
        // in a storm most rows of a hot issue are shed: listing and pruning kept events must not walk past them
        `CREATE INDEX ON ${t.events} (issue_id, ts, event_id) WHERE data IS NOT NULL`,
        // maintain() drops shed rows once no retry can come; only they are in this index
        `CREATE INDEX ON ${t.events} (ts) WHERE data IS NULL`,
        recordFunctionV2(t, limits),
        // record_v1 stays: during a rolling upgrade the instances still on the release before call it
      ],
    },
    {
      // Who an issue affected, what happened to it, resolving in the next release, where its
      // events came from, and two small keyed tables for alert rules and settings.
      version: 3,
      statements: [
        // each user's count, times and fields as on their latest event (rows of record_v1 and v2 have none: count 0, no data);
        // key is the record's userKey as the tracker made it (id:42, email:...); user_key stays its hash, the row's identity
        `ALTER TABLE ${t.users}
           ADD COLUMN key text,
           ADD COLUMN data jsonb,
           ADD COLUMN count bigint NOT NULL DEFAULT 0,
           ADD COLUMN first_seen timestamptz,
           ADD COLUMN last_seen timestamptz,
           -- the generation before the row's last write, -1 when that write inserted it: tells record a new user from one back since a regression
           ADD COLUMN previous_generation integer NOT NULL DEFAULT -1`,
        // most rows are now updated by every event of their user: room on the page lets that update stay on it
        `ALTER TABLE ${t.users} SET (fillfactor = 80)`,
        // user.id:, user.email:, user.username: and user: search, case-insensitive
        `CREATE INDEX ON ${t.users} (lower(data->>'id'))`,
        `CREATE INDEX ON ${t.users} (lower(data->>'email'))`,
        `CREATE INDEX ON ${t.users} (lower(data->>'username'))`,

        // every event before this release came from Node: 'node' is right for the issues already there
        `ALTER TABLE ${t.issues} ADD COLUMN platforms text[] NOT NULL DEFAULT '{node}'`,
        // set while resolved in the next release: the release whose events keep the issue resolved
        `ALTER TABLE ${t.issues} ADD COLUMN resolved_in_release text`,

        // the log is read oldest first, by id: status changes, regressions and notes take theirs under the issue's row lock, so they follow the log's order
        `CREATE TABLE ${t.activity} (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          issue_id text NOT NULL REFERENCES ${t.issues} (id) ON DELETE CASCADE,
          kind text NOT NULL,
          at timestamptz NOT NULL,
          actor text NOT NULL,
          note text,
          until jsonb,
          event_id text,
          release text,
          resolved_at timestamptz,
          count bigint
        )`,
        `CREATE INDEX ON ${t.activity} (issue_id, id)`,

        `CREATE TABLE ${t.ruleFirings} (
          rule_key text PRIMARY KEY,
          fired_at timestamptz NOT NULL
        )`,
        `CREATE TABLE ${t.settings} (
          name text PRIMARY KEY,
          value text NOT NULL
        )`,
        recordFunctionV3(t, limits),
        // record_v1 and record_v2 stay, for instances still on the releases before during a rolling upgrade
      ],
    },
  ]
}

/**
 * Deletes the log lines beyond first_seen and the latest MAX_ACTIVITY of each issue in
 * `issueIds`, SQL for a text[] (ARRAY[p_issue_id], $1::text[]).
 */
export function trimActivity(t: Tables, issueIds: string): string {
  return `DELETE FROM ${t.activity} WHERE id IN (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY issue_id ORDER BY id DESC) AS n
                    FROM ${t.activity} WHERE issue_id = ANY (${issueIds}) AND kind <> 'first_seen') x
    WHERE n > ${MAX_ACTIVITY})`
}

/** Caps on tag counting per issue, the same as the other stores keep (key totals stay exact). */
export interface TagLimits {
  keys: number
  values: number
}

/**
 * Records one event in one round trip and one transaction (the statement that calls it). The
 * issue upsert takes the issue's row lock, so concurrent records of one issue run one after
 * the other from there on, and each sees the counts the previous one left. Returns
 * { issue, is_new, is_regression, unignored } as jsonb.
 *
 * Released in migration 1 and kept as it ran: recordFunctionV3 is the one this release calls.
 */
function recordFunctionV1(t: Tables, limits: TagLimits): string {
  return `CREATE FUNCTION ${t.recordV1}(
      p_event_id text, p_issue_id text, p_ts timestamptz, p_data jsonb, p_fingerprint jsonb, p_title text, p_culprit text,
      p_type text, p_message text, p_level text, p_release text, p_environment text, p_user text, p_tags jsonb,
      p_hour timestamptz, p_now timestamptz)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_issue ${t.issues}%ROWTYPE;
      v_new boolean;
      v_regression boolean;
      v_fresh boolean;
      v_users integer := 0;
      v_users_since integer := 0;
      v_ends boolean;
      v_key text;
      v_value text;
      v_values integer;
    BEGIN
      -- the event id is the gate: a retry of an event already stored counts nothing
      INSERT INTO ${t.events} (event_id, issue_id, ts, data) VALUES (p_event_id, p_issue_id, p_ts, p_data)
        ON CONFLICT (event_id) DO NOTHING;
      IF NOT FOUND THEN
        SELECT * INTO v_issue FROM ${t.issues} WHERE id = p_issue_id;
        RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', false, 'is_regression', false, 'unignored', false);
      END IF;

      -- new issue, or one more event: a resolved issue comes back as a regression and starts a new
      -- generation; level and last release follow the latest event by time, first release the earliest
      INSERT INTO ${t.issues} AS i (id, fingerprint, title, culprit, type, message, level, count, first_seen, last_seen,
          first_release, last_release, first_release_at, last_release_at, environments, count_since_regression)
        VALUES (p_issue_id, p_fingerprint, p_title, p_culprit, p_type, p_message, p_level, 1, p_ts, p_ts,
          p_release, p_release, CASE WHEN p_release IS NOT NULL THEN p_ts END, CASE WHEN p_release IS NOT NULL THEN p_ts END,
          CASE WHEN p_environment IS NULL THEN '{}'::text[] ELSE ARRAY[p_environment] END, 1)
        ON CONFLICT (id) DO UPDATE SET
          count = i.count + 1,
          first_seen = least(i.first_seen, p_ts),
          last_seen = greatest(i.last_seen, p_ts),
          level = CASE WHEN p_ts >= i.last_seen THEN p_level ELSE i.level END,
          first_release = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_release ELSE i.first_release END,
          first_release_at = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_ts ELSE i.first_release_at END,
          last_release = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_release ELSE i.last_release END,
          last_release_at = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_ts ELSE i.last_release_at END,
          environments = CASE WHEN p_environment IS NULL OR p_environment = ANY (i.environments) OR cardinality(i.environments) >= 100
            THEN i.environments ELSE i.environments || p_environment END,
          status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END,
          regressed = i.regressed OR i.status = 'resolved',
          regressed_at = CASE WHEN i.status = 'resolved' THEN p_ts ELSE i.regressed_at END,
          generation = i.generation + CASE WHEN i.status = 'resolved' THEN 1 ELSE 0 END,
          count_since_regression = CASE WHEN i.status = 'resolved' THEN 1 ELSE i.count_since_regression + 1 END,
          users_since_regression = CASE WHEN i.status = 'resolved' THEN 0 ELSE i.users_since_regression END
        RETURNING * INTO v_issue;
      -- count = 1 only for the insert; count_since_regression = 1 on an update only for a regression
      v_new := v_issue.count = 1;
      v_regression := v_issue.count > 1 AND v_issue.count_since_regression = 1;

      -- distinct users: a row per issue and user; a row of an older generation counts again since the regression
      IF p_user IS NOT NULL THEN
        INSERT INTO ${t.users} AS u (issue_id, user_key, first_gen, generation)
          VALUES (p_issue_id, p_user, v_issue.generation, v_issue.generation)
          ON CONFLICT (issue_id, user_key) DO UPDATE SET generation = excluded.generation
            WHERE u.generation < excluded.generation
          RETURNING u.first_gen = u.generation INTO v_fresh;
        IF FOUND THEN
          v_users_since := 1;
          v_users := CASE WHEN v_fresh THEN 1 ELSE 0 END;
        END IF;
      END IF;

      -- tags: the issue row lock serialises this per issue, so plain reads and writes are safe
      FOR v_key, v_value IN SELECT kv->>0, kv->>1 FROM jsonb_array_elements(p_tags) AS kv LOOP
        UPDATE ${t.tagKeys} SET total = total + 1 WHERE issue_id = p_issue_id AND key = v_key RETURNING value_count INTO v_values;
        IF NOT FOUND THEN
          CONTINUE WHEN (SELECT count(*) FROM ${t.tagKeys} WHERE issue_id = p_issue_id) >= ${limits.keys};
          INSERT INTO ${t.tagKeys} (issue_id, key, total, value_count) VALUES (p_issue_id, v_key, 1, 0);
          v_values := 0;
        END IF;
        UPDATE ${t.tags} SET count = count + 1 WHERE issue_id = p_issue_id AND key = v_key AND value = v_value;
        IF NOT FOUND AND v_values < ${limits.values} THEN
          INSERT INTO ${t.tags} (issue_id, key, value, count) VALUES (p_issue_id, v_key, v_value, 1);
          UPDATE ${t.tagKeys} SET value_count = value_count + 1 WHERE issue_id = p_issue_id AND key = v_key;
        END IF;
      END LOOP;

      IF p_release IS NOT NULL THEN
        INSERT INTO ${t.releases} (issue_id, release) VALUES (p_issue_id, p_release) ON CONFLICT DO NOTHING;
      END IF;
      INSERT INTO ${t.hourly} AS h (issue_id, hour, count) VALUES (p_issue_id, p_hour, 1)
        ON CONFLICT (issue_id, hour) DO UPDATE SET count = h.count + 1;
      INSERT INTO ${t.recent} AS r (issue_id, at, count) VALUES (p_issue_id, p_ts, 1)
        ON CONFLICT (issue_id, at) DO UPDATE SET count = r.count + 1;

      -- an ignore ends when its event or user target is reached, or its time has passed
      v_ends := v_issue.status = 'ignored' AND coalesce(v_issue.count >= v_issue.until_count
        OR v_issue.user_count + v_users >= v_issue.until_users OR v_issue.until_at <= greatest(p_ts, p_now), false);
      IF v_users_since > 0 OR v_ends THEN
        UPDATE ${t.issues} SET
            user_count = user_count + v_users,
            users_since_regression = users_since_regression + v_users_since,
            status = CASE WHEN v_ends THEN 'unresolved' ELSE status END,
            until_count = CASE WHEN v_ends THEN NULL ELSE until_count END,
            until_users = CASE WHEN v_ends THEN NULL ELSE until_users END,
            until_at = CASE WHEN v_ends THEN NULL ELSE until_at END
          WHERE id = p_issue_id
          RETURNING * INTO v_issue;
      END IF;
      RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', v_new, 'is_regression', v_regression, 'unignored', v_ends);
    END
    $fn$`
}

/**
 * The record function of migration 2: recordFunctionV1 with `p_shed`. A shed event counts in
 * everything (count, users, tags, histograms, releases, ignore ends) exactly as a kept one, adds
 * to the issue's `shed`, and leaves a row without its body, so that a retry of it counts once.
 *
 * Released in migration 2 and kept as it ran (named record_v2 whatever Tables.record is now).
 */
function recordFunctionV2(t: Tables, limits: TagLimits): string {
  return `CREATE FUNCTION ${t.recordV2}(
      p_event_id text, p_issue_id text, p_ts timestamptz, p_data jsonb, p_shed boolean, p_fingerprint jsonb, p_title text, p_culprit text,
      p_type text, p_message text, p_level text, p_release text, p_environment text, p_user text, p_tags jsonb,
      p_hour timestamptz, p_now timestamptz)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_issue ${t.issues}%ROWTYPE;
      v_new boolean;
      v_regression boolean;
      v_fresh boolean;
      v_users integer := 0;
      v_users_since integer := 0;
      v_ends boolean;
      v_key text;
      v_value text;
      v_values integer;
    BEGIN
      -- the event id is the gate: a retry of an event already stored counts nothing, shed or kept
      INSERT INTO ${t.events} (event_id, issue_id, ts, data) VALUES (p_event_id, p_issue_id, p_ts, CASE WHEN p_shed THEN NULL ELSE p_data END)
        ON CONFLICT (event_id) DO NOTHING;
      IF NOT FOUND THEN
        SELECT * INTO v_issue FROM ${t.issues} WHERE id = p_issue_id;
        RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', false, 'is_regression', false, 'unignored', false);
      END IF;

      -- new issue, or one more event: a resolved issue comes back as a regression and starts a new
      -- generation; level and last release follow the latest event by time, first release the earliest
      INSERT INTO ${t.issues} AS i (id, fingerprint, title, culprit, type, message, level, count, first_seen, last_seen,
          first_release, last_release, first_release_at, last_release_at, environments, count_since_regression, shed)
        VALUES (p_issue_id, p_fingerprint, p_title, p_culprit, p_type, p_message, p_level, 1, p_ts, p_ts,
          p_release, p_release, CASE WHEN p_release IS NOT NULL THEN p_ts END, CASE WHEN p_release IS NOT NULL THEN p_ts END,
          CASE WHEN p_environment IS NULL THEN '{}'::text[] ELSE ARRAY[p_environment] END, 1, CASE WHEN p_shed THEN 1 ELSE 0 END)
        ON CONFLICT (id) DO UPDATE SET
          count = i.count + 1,
          shed = i.shed + CASE WHEN p_shed THEN 1 ELSE 0 END,
          first_seen = least(i.first_seen, p_ts),
          last_seen = greatest(i.last_seen, p_ts),
          level = CASE WHEN p_ts >= i.last_seen THEN p_level ELSE i.level END,
          first_release = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_release ELSE i.first_release END,
          first_release_at = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_ts ELSE i.first_release_at END,
          last_release = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_release ELSE i.last_release END,
          last_release_at = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_ts ELSE i.last_release_at END,
          environments = CASE WHEN p_environment IS NULL OR p_environment = ANY (i.environments) OR cardinality(i.environments) >= 100
            THEN i.environments ELSE i.environments || p_environment END,
          status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END,
          regressed = i.regressed OR i.status = 'resolved',
          regressed_at = CASE WHEN i.status = 'resolved' THEN p_ts ELSE i.regressed_at END,
          generation = i.generation + CASE WHEN i.status = 'resolved' THEN 1 ELSE 0 END,
          count_since_regression = CASE WHEN i.status = 'resolved' THEN 1 ELSE i.count_since_regression + 1 END,
          users_since_regression = CASE WHEN i.status = 'resolved' THEN 0 ELSE i.users_since_regression END
        RETURNING * INTO v_issue;
      -- count = 1 only for the insert; count_since_regression = 1 on an update only for a regression
      v_new := v_issue.count = 1;
      v_regression := v_issue.count > 1 AND v_issue.count_since_regression = 1;

      -- distinct users: a row per issue and user; a row of an older generation counts again since the regression
      IF p_user IS NOT NULL THEN
        INSERT INTO ${t.users} AS u (issue_id, user_key, first_gen, generation)
          VALUES (p_issue_id, p_user, v_issue.generation, v_issue.generation)
          ON CONFLICT (issue_id, user_key) DO UPDATE SET generation = excluded.generation
            WHERE u.generation < excluded.generation
          RETURNING u.first_gen = u.generation INTO v_fresh;
        IF FOUND THEN
          v_users_since := 1;
          v_users := CASE WHEN v_fresh THEN 1 ELSE 0 END;
        END IF;
      END IF;

      -- tags: the issue row lock serialises this per issue, so plain reads and writes are safe
      FOR v_key, v_value IN SELECT kv->>0, kv->>1 FROM jsonb_array_elements(p_tags) AS kv LOOP
        UPDATE ${t.tagKeys} SET total = total + 1 WHERE issue_id = p_issue_id AND key = v_key RETURNING value_count INTO v_values;
        IF NOT FOUND THEN
          CONTINUE WHEN (SELECT count(*) FROM ${t.tagKeys} WHERE issue_id = p_issue_id) >= ${limits.keys};
          INSERT INTO ${t.tagKeys} (issue_id, key, total, value_count) VALUES (p_issue_id, v_key, 1, 0);
          v_values := 0;
        END IF;
        UPDATE ${t.tags} SET count = count + 1 WHERE issue_id = p_issue_id AND key = v_key AND value = v_value;
        IF NOT FOUND AND v_values < ${limits.values} THEN
          INSERT INTO ${t.tags} (issue_id, key, value, count) VALUES (p_issue_id, v_key, v_value, 1);
          UPDATE ${t.tagKeys} SET value_count = value_count + 1 WHERE issue_id = p_issue_id AND key = v_key;
        END IF;
      END LOOP;

      IF p_release IS NOT NULL THEN
        INSERT INTO ${t.releases} (issue_id, release) VALUES (p_issue_id, p_release) ON CONFLICT DO NOTHING;
      END IF;
      INSERT INTO ${t.hourly} AS h (issue_id, hour, count) VALUES (p_issue_id, p_hour, 1)
        ON CONFLICT (issue_id, hour) DO UPDATE SET count = h.count + 1;
      INSERT INTO ${t.recent} AS r (issue_id, at, count) VALUES (p_issue_id, p_ts, 1)
        ON CONFLICT (issue_id, at) DO UPDATE SET count = r.count + 1;

      -- an ignore ends when its event or user target is reached, or its time has passed
      v_ends := v_issue.status = 'ignored' AND coalesce(v_issue.count >= v_issue.until_count
        OR v_issue.user_count + v_users >= v_issue.until_users OR v_issue.until_at <= greatest(p_ts, p_now), false);
      IF v_users_since > 0 OR v_ends THEN
        UPDATE ${t.issues} SET
            user_count = user_count + v_users,
            users_since_regression = users_since_regression + v_users_since,
            status = CASE WHEN v_ends THEN 'unresolved' ELSE status END,
            until_count = CASE WHEN v_ends THEN NULL ELSE until_count END,
            until_users = CASE WHEN v_ends THEN NULL ELSE until_users END,
            until_at = CASE WHEN v_ends THEN NULL ELSE until_at END
          WHERE id = p_issue_id
          RETURNING * INTO v_issue;
      END IF;
      RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', v_new, 'is_regression', v_regression, 'unignored', v_ends);
    END
    $fn$`
}

/**
 * The record function of migration 3: recordFunctionV2, and also
 * - the user's row keeps their event count, first and last times and fields (as on their latest event);
 * - an issue resolved in the next release stays resolved for events of that release or of none,
 *   which count as usual; an event of another release regresses it;
 * - the issue collects the platforms of its events ('node' when the event names none);
 * - the activity log gets first_seen, regressed and unignored lines, in the same transaction.
 */
function recordFunctionV3(t: Tables, limits: TagLimits): string {
  // a resolved issue reopens unless it is resolved in a release and the event is of that release or of none
  const reopens = `(i.status = 'resolved' AND (i.resolved_in_release IS NULL OR (p_release IS NOT NULL AND p_release <> i.resolved_in_release)))`
  return `CREATE FUNCTION ${t.record}(
      p_event_id text, p_issue_id text, p_ts timestamptz, p_data jsonb, p_shed boolean, p_fingerprint jsonb, p_title text, p_culprit text,
      p_type text, p_message text, p_level text, p_release text, p_environment text, p_platform text, p_user text, p_user_key text,
      p_user_data jsonb, p_tags jsonb, p_hour timestamptz, p_now timestamptz)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_issue ${t.issues}%ROWTYPE;
      v_new boolean;
      v_regression boolean;
      v_inserted boolean;
      v_back boolean;
      v_users integer := 0;
      v_users_since integer := 0;
      v_ends boolean;
      v_key text;
      v_value text;
      v_values integer;
    BEGIN
      -- the event id is the gate: a retry of an event already stored counts nothing, shed or kept
      INSERT INTO ${t.events} (event_id, issue_id, ts, data) VALUES (p_event_id, p_issue_id, p_ts, CASE WHEN p_shed THEN NULL ELSE p_data END)
        ON CONFLICT (event_id) DO NOTHING;
      IF NOT FOUND THEN
        SELECT * INTO v_issue FROM ${t.issues} WHERE id = p_issue_id;
        RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', false, 'is_regression', false, 'unignored', false);
      END IF;

      -- new issue, or one more event: a resolved issue comes back as a regression and starts a new
      -- generation; level and last release follow the latest event by time, first release the earliest
      INSERT INTO ${t.issues} AS i (id, fingerprint, title, culprit, type, message, level, count, first_seen, last_seen,
          first_release, last_release, first_release_at, last_release_at, environments, platforms, count_since_regression, shed)
        VALUES (p_issue_id, p_fingerprint, p_title, p_culprit, p_type, p_message, p_level, 1, p_ts, p_ts,
          p_release, p_release, CASE WHEN p_release IS NOT NULL THEN p_ts END, CASE WHEN p_release IS NOT NULL THEN p_ts END,
          CASE WHEN p_environment IS NULL THEN '{}'::text[] ELSE ARRAY[p_environment] END, ARRAY[p_platform], 1, CASE WHEN p_shed THEN 1 ELSE 0 END)
        ON CONFLICT (id) DO UPDATE SET
          count = i.count + 1,
          shed = i.shed + CASE WHEN p_shed THEN 1 ELSE 0 END,
          first_seen = least(i.first_seen, p_ts),
          last_seen = greatest(i.last_seen, p_ts),
          level = CASE WHEN p_ts >= i.last_seen THEN p_level ELSE i.level END,
          first_release = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_release ELSE i.first_release END,
          first_release_at = CASE WHEN p_release IS NOT NULL AND (i.first_release_at IS NULL OR p_ts < i.first_release_at) THEN p_ts ELSE i.first_release_at END,
          last_release = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_release ELSE i.last_release END,
          last_release_at = CASE WHEN p_release IS NOT NULL AND (i.last_release_at IS NULL OR p_ts >= i.last_release_at) THEN p_ts ELSE i.last_release_at END,
          environments = CASE WHEN p_environment IS NULL OR p_environment = ANY (i.environments) OR cardinality(i.environments) >= 100
            THEN i.environments ELSE i.environments || p_environment END,
          platforms = CASE WHEN p_platform = ANY (i.platforms) THEN i.platforms ELSE i.platforms || p_platform END,
          status = CASE WHEN ${reopens} THEN 'unresolved' ELSE i.status END,
          resolved_in_release = CASE WHEN ${reopens} THEN NULL ELSE i.resolved_in_release END,
          regressed = i.regressed OR ${reopens},
          regressed_at = CASE WHEN ${reopens} THEN p_ts ELSE i.regressed_at END,
          generation = i.generation + CASE WHEN ${reopens} THEN 1 ELSE 0 END,
          count_since_regression = CASE WHEN ${reopens} THEN 1 ELSE i.count_since_regression + 1 END,
          users_since_regression = CASE WHEN ${reopens} THEN 0 ELSE i.users_since_regression END
        RETURNING * INTO v_issue;
      -- count = 1 only for the insert; count_since_regression = 1 on an update only for a regression
      v_new := v_issue.count = 1;
      v_regression := v_issue.count > 1 AND v_issue.count_since_regression = 1;

      -- distinct users: a row per issue and user, counting its events; a row of an older generation
      -- counts again since the regression. Its fields follow the user's latest event.
      IF p_user IS NOT NULL THEN
        INSERT INTO ${t.users} AS u (issue_id, user_key, first_gen, generation, previous_generation, key, data, count, first_seen, last_seen)
          VALUES (p_issue_id, p_user, v_issue.generation, v_issue.generation, -1, p_user_key, p_user_data, 1, p_ts, p_ts)
          ON CONFLICT (issue_id, user_key) DO UPDATE SET
            previous_generation = u.generation,
            generation = excluded.generation,
            count = u.count + 1,
            first_seen = least(u.first_seen, excluded.first_seen),
            last_seen = greatest(u.last_seen, excluded.last_seen),
            key = CASE WHEN u.last_seen IS NULL OR excluded.last_seen >= u.last_seen THEN excluded.key ELSE u.key END,
            data = CASE WHEN u.last_seen IS NULL OR excluded.last_seen >= u.last_seen THEN excluded.data ELSE u.data END
          RETURNING u.previous_generation = -1, u.previous_generation < u.generation INTO v_inserted, v_back;
        v_users := CASE WHEN v_inserted THEN 1 ELSE 0 END;
        v_users_since := CASE WHEN v_inserted OR v_back THEN 1 ELSE 0 END;
      END IF;

      -- tags: the issue row lock serialises this per issue, so plain reads and writes are safe
      FOR v_key, v_value IN SELECT kv->>0, kv->>1 FROM jsonb_array_elements(p_tags) AS kv LOOP
        UPDATE ${t.tagKeys} SET total = total + 1 WHERE issue_id = p_issue_id AND key = v_key RETURNING value_count INTO v_values;
        IF NOT FOUND THEN
          CONTINUE WHEN (SELECT count(*) FROM ${t.tagKeys} WHERE issue_id = p_issue_id) >= ${limits.keys};
          INSERT INTO ${t.tagKeys} (issue_id, key, total, value_count) VALUES (p_issue_id, v_key, 1, 0);
          v_values := 0;
        END IF;
        UPDATE ${t.tags} SET count = count + 1 WHERE issue_id = p_issue_id AND key = v_key AND value = v_value;
        IF NOT FOUND AND v_values < ${limits.values} THEN
          INSERT INTO ${t.tags} (issue_id, key, value, count) VALUES (p_issue_id, v_key, v_value, 1);
          UPDATE ${t.tagKeys} SET value_count = value_count + 1 WHERE issue_id = p_issue_id AND key = v_key;
        END IF;
      END LOOP;

      IF p_release IS NOT NULL THEN
        INSERT INTO ${t.releases} (issue_id, release) VALUES (p_issue_id, p_release) ON CONFLICT DO NOTHING;
      END IF;
      INSERT INTO ${t.hourly} AS h (issue_id, hour, count) VALUES (p_issue_id, p_hour, 1)
        ON CONFLICT (issue_id, hour) DO UPDATE SET count = h.count + 1;
      INSERT INTO ${t.recent} AS r (issue_id, at, count) VALUES (p_issue_id, p_ts, 1)
        ON CONFLICT (issue_id, at) DO UPDATE SET count = r.count + 1;

      -- an ignore ends when its event or user target is reached, or its time has passed
      v_ends := v_issue.status = 'ignored' AND coalesce(v_issue.count >= v_issue.until_count
        OR v_issue.user_count + v_users >= v_issue.until_users OR v_issue.until_at <= greatest(p_ts, p_now), false);
      IF v_users_since > 0 OR v_ends THEN
        UPDATE ${t.issues} SET
            user_count = user_count + v_users,
            users_since_regression = users_since_regression + v_users_since,
            status = CASE WHEN v_ends THEN 'unresolved' ELSE status END,
            until_count = CASE WHEN v_ends THEN NULL ELSE until_count END,
            until_users = CASE WHEN v_ends THEN NULL ELSE until_users END,
            until_at = CASE WHEN v_ends THEN NULL ELSE until_at END
          WHERE id = p_issue_id
          RETURNING * INTO v_issue;
      END IF;

      -- the activity log, under the issue's row lock like everything above (rare: not on most events)
      IF v_new THEN
        INSERT INTO ${t.activity} (issue_id, kind, at, actor, event_id) VALUES (p_issue_id, 'first_seen', p_ts, 'faultline', p_event_id);
      END IF;
      IF v_regression THEN
        -- resolved_at is left as it was by the regression: it says when the issue had been resolved
        INSERT INTO ${t.activity} (issue_id, kind, at, actor, event_id, release, resolved_at)
          VALUES (p_issue_id, 'regressed', p_ts, 'faultline', p_event_id, p_release, v_issue.resolved_at);
      END IF;
      IF v_ends THEN
        INSERT INTO ${t.activity} (issue_id, kind, at, actor) VALUES (p_issue_id, 'unignored', greatest(p_ts, p_now), 'faultline');
      END IF;
      IF v_regression OR v_ends THEN
        ${trimActivity(t, 'ARRAY[p_issue_id]')};
      END IF;
      RETURN jsonb_build_object('issue', to_jsonb(v_issue), 'is_new', v_new, 'is_regression', v_regression, 'unignored', v_ends);
    END
    $fn$`
}
