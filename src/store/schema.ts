/**
 * The local store's schema, as numbered migrations. PRAGMA user_version holds the number applied; each
 * process applies what is missing inside one IMMEDIATE transaction, so concurrent `pf` processes agree.
 * Append new migrations; never edit a released one.
 */
export const migrations: string[] = [
  // 1: spans, line runs (one row per trace root), the outbox of remote destinations.
  `
  CREATE TABLE spans (
    trace_id    TEXT NOT NULL,
    span_id     TEXT NOT NULL,
    parent_id   TEXT,
    name        TEXT NOT NULL,
    span_type   TEXT,
    start_time  TEXT NOT NULL,
    end_time    TEXT NOT NULL,
    status      TEXT NOT NULL,
    collection  TEXT NOT NULL,
    run         TEXT,
    line_run_id TEXT,
    data        TEXT NOT NULL,
    -- A rowid table: rows carry the whole span JSON (~1 KB), which a WITHOUT ROWID b-tree stores poorly
    -- (2.5× slower ingest, bench store-ingest).
    UNIQUE (trace_id, span_id)
  );
  CREATE INDEX spans_collection ON spans (collection, start_time);
  CREATE INDEX spans_run ON spans (run) WHERE run IS NOT NULL;

  CREATE TABLE line_runs (
    trace_id          TEXT PRIMARY KEY,
    root_span_id      TEXT NOT NULL,
    line_run_id       TEXT,
    collection        TEXT NOT NULL,
    run               TEXT,
    line_number       INTEGER,
    name              TEXT NOT NULL,
    kind              TEXT,
    status            TEXT NOT NULL,
    start_time        TEXT NOT NULL,
    end_time          TEXT NOT NULL,
    latency           REAL NOT NULL,
    inputs            TEXT,
    outputs           TEXT,
    error             TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    total_tokens      INTEGER
  );
  -- Keyset paging of trace lists (newest first, ties broken by trace id): overall, per collection, per run.
  CREATE INDEX line_runs_page ON line_runs (start_time, trace_id);
  CREATE INDEX line_runs_collection_page ON line_runs (collection, start_time, trace_id);
  CREATE INDEX line_runs_run_page ON line_runs (run, start_time, trace_id) WHERE run IS NOT NULL;
  CREATE INDEX line_runs_run ON line_runs (run, line_number) WHERE run IS NOT NULL;

  -- Where remote destinations live: enough to rebuild an exporter later (pf trace sync). No secrets.
  CREATE TABLE destinations (
    key        TEXT PRIMARY KEY,
    scheme     TEXT NOT NULL,
    value      TEXT NOT NULL,
    resolved   TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );

  -- One row per (remote destination, span): pending until delivered; parked when it can never be delivered.
  CREATE TABLE outbox (
    destination     TEXT NOT NULL,
    trace_id        TEXT NOT NULL,
    span_id         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    PRIMARY KEY (destination, trace_id, span_id)
  ) WITHOUT ROWID;
  CREATE INDEX outbox_due ON outbox (destination, state, next_attempt_at);
  `,
  // 2: batch runs (pf run create). Lines live in line_runs (run, line_number); outputs in the run's folder.
  `
  CREATE TABLE runs (
    name            TEXT PRIMARY KEY,
    display_name    TEXT,
    flow            TEXT NOT NULL,
    data            TEXT,
    base_run        TEXT,
    resume_from     TEXT,
    column_mapping  TEXT,
    status          TEXT NOT NULL CHECK (status IN ('NotStarted', 'Running', 'Completed', 'Failed', 'Canceled')),
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    total_lines     INTEGER,
    completed_lines INTEGER NOT NULL DEFAULT 0,
    failed_lines    INTEGER NOT NULL DEFAULT 0,
    output_path     TEXT NOT NULL,
    tags            TEXT,
    properties      TEXT,
    metrics         TEXT,
    error           TEXT,
    archived        INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX runs_created ON runs (created_at DESC);
  `,
  // 3: who holds an outbox claim ("pid:start"), so a claim of a process that died is taken back at once, not after its
  // lease; and the earliest retry the receiver allowed (Retry-After), which `pf trace sync` honours while it skips
  // pf's own backoff.
  `
  ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
  ALTER TABLE outbox ADD COLUMN retry_not_before INTEGER NOT NULL DEFAULT 0;
  `,
  // 4: full-text search of spans (the viewer's search) and trace lists sorted by latency / tokens.
  // One contentless FTS5 document per span, written by TraceStore (searchDocument in store.ts; since migration 7
  // later and in bulk, before it in the transaction that stored the span): its name; its inputs and output (the
  // first 64 KB of each); "key value" lines of its other scalar attributes (for key=value filters); its trace and
  // span ids, stored but not indexed. The rowid is the span's start in epoch ms << 20 | a sequence number, so hits
  // come newest first and a first page of a search reads only the newest hits (TraceReader). Triggers building the
  // document from the span JSON cost 3.5× the ingest time; in code it is the FTS insert alone (bench viewer-search).
  // The backfill indexes the spans stored before this migration, the same way in SQL.
  `
  CREATE VIRTUAL TABLE span_search USING fts5(name, body, attrs, trace_id UNINDEXED, span_id UNINDEXED,
    content='', contentless_delete=1, contentless_unindexed=1);
  INSERT OR REPLACE INTO span_search (rowid, name, body, attrs, trace_id, span_id) SELECT
    ((unixepoch(substr(s.start_time, 1, 19)) * 1000 + CAST(substr(s.start_time, 21, 3) AS INTEGER)) << 20) | (s.rowid & 1048575),
    s.name,
    (SELECT group_concat(substr(value, 1, 65536), char(10)) FROM json_each(s.data, '$.attributes') WHERE key IN ('inputs', 'output') AND type = 'text'),
    (SELECT group_concat(key || ' ' || substr(value, 1, 1024), char(10)) FROM json_each(s.data, '$.attributes')
       WHERE key NOT IN ('inputs', 'output') AND key NOT LIKE '\\_\\_computed\\_\\_.%' ESCAPE '\\' AND type IN ('text', 'integer', 'real', 'true', 'false')),
    s.trace_id, s.span_id
  FROM spans s;

  CREATE INDEX line_runs_latency_page ON line_runs (latency, trace_id);
  CREATE INDEX line_runs_tokens_page ON line_runs (COALESCE(total_tokens, -1), trace_id);
  `,
  // 5: run uploads (run tracking): one durable job per (run, remote destination). `steps` holds what is done,
  // with its result (asset ids, metrics sent, portal URL), so a crash or outage resumes at the first step not done.
  `
  CREATE TABLE run_uploads (
    run             TEXT NOT NULL,
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    steps           TEXT NOT NULL DEFAULT '{}',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    -- The pid holding the lease: a lease of a process that died is taken back at once.
    claimed_by      INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    done_at         INTEGER,
    PRIMARY KEY (run, destination)
  ) WITHOUT ROWID;
  CREATE INDEX run_uploads_pending ON run_uploads (state, next_attempt_at);
  `,
  // 6: the outbox in the order it is claimed (oldest first), so a claim reads its `limit` rows off the index instead of
  // sorting every pending row (10k pending spans: 6 ms a claim, 100k: 60 ms).
  `
  CREATE INDEX outbox_claim_order ON outbox (destination, state, created_at, trace_id, span_id);
  `,
  // 7: search documents are written later and in bulk (TraceStore.indexPendingSearch), not in the transaction that
  // stores a span: one FTS5 segment per commit of a few spans halved ingest. Spans get ever larger rowids, so one
  // number says how far the index has come; every span stored before this migration has its document (migration 4).
  `
  CREATE TABLE search_progress (
    id              INTEGER PRIMARY KEY CHECK (id = 0),
    indexed_through INTEGER NOT NULL
  );
  INSERT INTO search_progress (id, indexed_through) VALUES (0, (SELECT COALESCE(MAX(rowid), 0) FROM spans));
  `,
  // 8: a delivered outbox row is deleted (each destination keeps a count of what it was sent), so the outbox holds
  // only what waits: settling a batch removes its rows instead of rewriting them and moving their index entries, and
  // the table no longer grows with every span ever exported. outbox_due goes: every outbox query reads the
  // (destination, state) prefix of outbox_claim_order, and each span recorded for a remote destination and each
  // outcome had one more index to update. A span stored again after its delivery is queued again; sending it again
  // is harmless (item ids derive from the span, and Cosmos answers "already there"). The 'delivered' state and
  // delivered_at column stay in the table, unused: SQLite changes a CHECK only by rebuilding the table.
  `
  CREATE TABLE outbox_delivered (
    destination TEXT PRIMARY KEY,
    spans       INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO outbox_delivered (destination, spans)
    SELECT destination, COUNT(*) FROM outbox WHERE state = 'delivered' GROUP BY destination;
  DELETE FROM outbox WHERE state = 'delivered';
  DROP INDEX outbox_due;
  `,
]
