/**
 * The SQLite schema of `SqliteStorage`, as an ordered list of migrations. The database's
 * `PRAGMA user_version` is the number of migrations applied; opening a database applies the missing
 * ones, each in its own transaction. Never edit a released migration: append a new one.
 *
 * Key columns are `TEXT` compared with SQLite's default `BINARY` collation, which is `memcmp` over the
 * UTF-8 bytes: `ORDER BY key` is kv's key order (docs/protocol.md "Conventions": keys are ordered by their UTF-8 bytes).
 *
 * @module
 */

/** One schema migration: `sql` is run as a script inside a transaction. */
export interface Migration {
  /** 1-based version this migration brings the database to. */
  version: number;
  /** What it does, for logs. */
  description: string;
  /** The SQL script. */
  sql: string;
}

/** Every migration, in order. `MIGRATIONS.length` is the current schema version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'stores, entries, entry_scopes, history, changes, idempotency',
    sql: `
CREATE TABLE stores (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  history INTEGER NOT NULL,
  default_ttl_ms INTEGER,
  max_value_bytes INTEGER NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0,
  key_count INTEGER NOT NULL DEFAULT 0,
  total_bytes INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  signing_secret TEXT NOT NULL
) STRICT;

-- The current state of each key (live, or expired and not yet swept), clustered by (store_id, key): a
-- write touches one b-tree page. The value comes last so that reading the other columns does not touch
-- its overflow pages.
CREATE TABLE entries (
  store_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  metadata TEXT,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  resume INTEGER NOT NULL,
  size INTEGER NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (store_id, key)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX entries_by_id ON entries (store_id, id);
CREATE INDEX entries_by_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;

-- One row per (entry, scope): scope filters and listScopes are range scans.
CREATE TABLE entry_scopes (
  store_id INTEGER NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (store_id, scope, key)
) STRICT, WITHOUT ROWID;

-- Past revisions of each key (superseded puts and tombstones); the live revision is in entries.
CREATE TABLE history (
  store_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  revision INTEGER NOT NULL,
  operation TEXT NOT NULL,
  id TEXT NOT NULL,
  content_type TEXT NOT NULL,
  metadata TEXT,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  resume INTEGER NOT NULL,
  size INTEGER NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (store_id, key, revision)
) STRICT, WITHOUT ROWID;

-- The change log of each store (watch): one row per revision. Trimmed in batches; reads hide the rows
-- older than the configured window.
CREATE TABLE changes (
  store_id INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  key TEXT NOT NULL,
  operation TEXT NOT NULL,
  id TEXT NOT NULL,
  content_type TEXT NOT NULL,
  metadata TEXT,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  resume INTEGER NOT NULL,
  size INTEGER NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (store_id, revision)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency (
  scope_key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  status INTEGER NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);
`,
  },
  {
    version: 2,
    description: 'tokens (access control: hashed bearer tokens with capabilities)',
    sql: `
-- Bearer tokens (docs/security.md): only the SHA-256 of each secret is stored. Revoked and expired rows
-- are kept for audit; the engine checks revoked_at and expires_at on every request.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT UNIQUE NOT NULL,
  capabilities TEXT NOT NULL, -- JSON array of capability strings
  description TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX tokens_by_created ON tokens (created_at, id);
`,
  },
  {
    version: 3,
    description: 'blobs: values over 512 bytes out of the clustered entries/history/changes b-trees',
    sql: `
-- Values longer than INLINE_VALUE_MAX_BYTES (512 at this version) live here, one row per distinct value,
-- shared by the entries, history and changes rows of the revision that wrote it (their blob_id; their own
-- value column is then empty). A rowid table keeps the large value in a leaf and its overflow chain, where
-- only a read of that value touches it; in the WITHOUT ROWID tables a long row can become a divider cell
-- of an interior page and every seek through that page would read its whole overflow chain
-- (docs/performance.md "Large values").
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY,
  value BLOB NOT NULL
) STRICT;
ALTER TABLE entries ADD COLUMN blob_id INTEGER;
ALTER TABLE history ADD COLUMN blob_id INTEGER;
ALTER TABLE changes ADD COLUMN blob_id INTEGER;

-- Move the large values of a file written by version 2 out, one blob per (store, key, revision): the rows
-- of the three tables that hold the same revision held the same value.
CREATE TABLE blob_moves (
  id INTEGER PRIMARY KEY,
  store_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  revision INTEGER NOT NULL,
  UNIQUE (store_id, key, revision)
) STRICT;
INSERT INTO blob_moves (store_id, key, revision)
  SELECT store_id, key, revision FROM entries WHERE length(value) > 512
  UNION SELECT store_id, key, revision FROM history WHERE length(value) > 512
  UNION SELECT store_id, key, revision FROM changes WHERE length(value) > 512;
INSERT INTO blobs (id, value)
  SELECT m.id, coalesce(
    (SELECT e.value FROM entries e
      WHERE e.store_id = m.store_id AND e.key = m.key AND e.revision = m.revision AND length(e.value) > 512),
    (SELECT h.value FROM history h
      WHERE h.store_id = m.store_id AND h.key = m.key AND h.revision = m.revision AND length(h.value) > 512),
    (SELECT c.value FROM changes c
      WHERE c.store_id = m.store_id AND c.revision = m.revision AND c.key = m.key AND length(c.value) > 512))
  FROM blob_moves m;
UPDATE entries SET blob_id = m.id, value = X'' FROM blob_moves m
  WHERE entries.store_id = m.store_id AND entries.key = m.key AND entries.revision = m.revision
    AND length(entries.value) > 512;
UPDATE history SET blob_id = m.id, value = X'' FROM blob_moves m
  WHERE history.store_id = m.store_id AND history.key = m.key AND history.revision = m.revision
    AND length(history.value) > 512;
UPDATE changes SET blob_id = m.id, value = X'' FROM blob_moves m
  WHERE changes.store_id = m.store_id AND changes.revision = m.revision AND changes.key = m.key
    AND length(changes.value) > 512;
DROP TABLE blob_moves;

-- Which rows still use a blob (only rows with one are indexed).
CREATE INDEX entries_by_blob ON entries (blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX history_by_blob ON history (blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX changes_by_blob ON changes (blob_id) WHERE blob_id IS NOT NULL;

-- A blob is deleted with the last row using it, whatever removes that row (overwrite, delete, expiry,
-- purge, history or change-log trimming, store deletion): no blob outlives its rows.
CREATE TRIGGER entries_blob_delete AFTER DELETE ON entries WHEN old.blob_id IS NOT NULL BEGIN
  DELETE FROM blobs WHERE id = old.blob_id
    AND NOT EXISTS (SELECT 1 FROM entries WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM history WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM changes WHERE blob_id = old.blob_id);
END;
CREATE TRIGGER entries_blob_update AFTER UPDATE OF blob_id ON entries
  WHEN old.blob_id IS NOT NULL AND old.blob_id IS NOT new.blob_id BEGIN
  DELETE FROM blobs WHERE id = old.blob_id
    AND NOT EXISTS (SELECT 1 FROM entries WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM history WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM changes WHERE blob_id = old.blob_id);
END;
CREATE TRIGGER history_blob_delete AFTER DELETE ON history WHEN old.blob_id IS NOT NULL BEGIN
  DELETE FROM blobs WHERE id = old.blob_id
    AND NOT EXISTS (SELECT 1 FROM entries WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM history WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM changes WHERE blob_id = old.blob_id);
END;
CREATE TRIGGER changes_blob_delete AFTER DELETE ON changes WHEN old.blob_id IS NOT NULL BEGIN
  DELETE FROM blobs WHERE id = old.blob_id
    AND NOT EXISTS (SELECT 1 FROM entries WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM history WHERE blob_id = old.blob_id)
    AND NOT EXISTS (SELECT 1 FROM changes WHERE blob_id = old.blob_id);
END;
`,
  },
  {
    version: 4,
    description: 'queue_messages (durable queues: one row per message, by store and id)',
    sql: `
-- The durable queue of each store (the QueueMessage contract in @kv/engine's storage.ts): one row per
-- message, keyed (store_id, id). A rowid table, not WITHOUT ROWID: a value (up to 64 KiB) stays in its
-- leaf and overflow chain, read only with its row, and never becomes a divider cell of an interior page
-- (schema version 3). The arrays are JSON text; ids compare with BINARY (memcmp over UTF-8), as keys do.
CREATE TABLE queue_messages (
  store_id INTEGER NOT NULL,
  id TEXT NOT NULL,
  visible_at INTEGER NOT NULL,
  lease_expires_at INTEGER,
  enqueued_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  lease_id TEXT,
  content_type TEXT NOT NULL,
  keys_if_undelivered TEXT NOT NULL,
  backoff_schedule_ms TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (store_id, id)
) STRICT;
-- Due messages in delivery order (visible_at, then id) are a range of this index; with lease_expires_at
-- it also covers the counts of queueStats (no table row, so no value, is read for them).
CREATE INDEX queue_messages_due ON queue_messages (store_id, visible_at, id, lease_expires_at);
`,
  },
  {
    version: 5,
    description: 'token rate limits (requests per window of seconds; null: no limit)',
    sql: `
-- A token's rate limit (docs/security.md "Rate limits"): both null (no limit, every token written before)
-- or both set. The counts themselves live in the server's memory: one process serves a SQLite file.
ALTER TABLE tokens ADD COLUMN rate_limit_requests INTEGER;
ALTER TABLE tokens ADD COLUMN rate_limit_per_seconds INTEGER;
`,
  },
];

/**
 * Longest value, in bytes, kept inline in the `value` column of `entries`, `history` and `changes`;
 * longer ones go to `blobs` (migration 3, which moved the longer values of older files with the same
 * bound). With SQLite's default 4096-byte pages an index b-tree cell keeps at most 1002 bytes on its
 * page before spilling to overflow pages ((4096 - 12) * 64 / 255 - 23, SQLite file format section
 * 1.6); 512 bytes of value plus a typical key and fields stays under it, so a clustered row never
 * needs an overflow page for its value and a page holds at least 6 rows (docs/performance.md
 * "Large values").
 */
export const INLINE_VALUE_MAX_BYTES = 512;
