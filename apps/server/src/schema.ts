/**
 * The SQLite schema of `SqliteStorage`, as an ordered list of migrations. The database's
 * `PRAGMA user_version` is the number of migrations applied; opening a database applies the missing
 * ones, each in its own transaction. Never edit a released migration: append a new one.
 *
 * Key columns are `TEXT` compared with SQLite's default `BINARY` collation, which is `memcmp` over the
 * UTF-8 bytes: `ORDER BY key` is kv's key order (PRODUCT.md "Keys are ordered by their UTF-8 bytes").
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
];
