/**
 * The PostgreSQL schema of `PostgresStorage`, as an ordered list of migrations. Table `kv_migrations`
 * records the versions applied; starting a server applies the missing ones (see `migrate.ts`), each in
 * its own transaction, under an advisory lock so that several instances starting at once apply each
 * migration exactly once. Never edit a released migration: append a new one.
 *
 * Keys, store names and scopes are `text COLLATE "C"`: in a UTF-8 database the `C` collation compares
 * with `memcmp` over the UTF-8 bytes, so `ORDER BY key` and the range bounds of scans are kv's key order
 * (`compareKeys` in `@kv/core`; docs/architecture.md "Decisions"). Times are epoch milliseconds in
 * `bigint`; values are `bytea` (PostgreSQL moves long ones out of line by itself: TOAST). Metadata is the
 * JSON text exactly as written (`jsonb` would reorder its keys).
 *
 * @module
 */

/** One schema migration: `sql` is run as one script inside a transaction. */
export interface PgMigration {
  /** 1-based version this migration brings the database to. */
  version: number;
  /** What it does, for logs and `kv_migrations`. */
  description: string;
  /** The SQL script. */
  sql: string;
}

/** Every migration, in order. `PG_MIGRATIONS.length` is the current schema version. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: 'stores, entries, entry_scopes, history, changes, idempotency, tokens',
    sql: `
CREATE TABLE stores (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  history integer NOT NULL,
  default_ttl_ms bigint,
  max_value_bytes bigint NOT NULL,
  -- The store's revision sequence: a commit locks this row (SELECT ... FOR UPDATE), so revisions are
  -- taken in commit order, gap-free, across every instance.
  revision bigint NOT NULL DEFAULT 0,
  key_count bigint NOT NULL DEFAULT 0,
  total_bytes bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  signing_secret text NOT NULL
);

-- The current state of each key (live, or expired and not yet swept).
CREATE TABLE entries (
  store_id bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  key text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  revision bigint NOT NULL,
  content_type text NOT NULL,
  metadata text,
  scopes text[] NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expires_at bigint,
  resume boolean NOT NULL,
  size integer NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (store_id, key)
);
CREATE UNIQUE INDEX entries_by_id ON entries (store_id, id);
CREATE INDEX entries_by_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;

-- One row per (entry, scope): scope filters and listScopes are index range scans.
CREATE TABLE entry_scopes (
  store_id bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  scope text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  PRIMARY KEY (store_id, scope, key)
);

-- Past revisions of each key (superseded puts and tombstones); the live revision is in entries.
CREATE TABLE history (
  store_id bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  key text COLLATE "C" NOT NULL,
  revision bigint NOT NULL,
  operation text NOT NULL CHECK (operation IN ('put', 'delete', 'purge', 'expire')),
  id text COLLATE "C" NOT NULL,
  content_type text NOT NULL,
  metadata text,
  scopes text[] NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expires_at bigint,
  resume boolean NOT NULL,
  size integer NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (store_id, key, revision)
);

-- The change log of each store (watch, on every instance): one row per revision, written in the
-- commit's transaction. Trimmed in batches; reads hide rows older than the configured window.
CREATE TABLE changes (
  store_id bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  revision bigint NOT NULL,
  key text COLLATE "C" NOT NULL,
  operation text NOT NULL CHECK (operation IN ('put', 'delete', 'purge', 'expire')),
  id text COLLATE "C" NOT NULL,
  content_type text NOT NULL,
  metadata text,
  scopes text[] NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expires_at bigint,
  resume boolean NOT NULL,
  size integer NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (store_id, revision)
);

-- The first response to a write carrying Idempotency-Key, shared by every instance.
CREATE TABLE idempotency (
  scope_key text COLLATE "C" PRIMARY KEY,
  fingerprint text NOT NULL,
  status integer NOT NULL,
  headers text NOT NULL,
  body bytea NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

-- Bearer tokens (docs/security.md): only the SHA-256 of each secret is stored. Revoked and expired rows
-- are kept for audit; the engine checks revoked_at and expires_at on every request.
CREATE TABLE tokens (
  id text COLLATE "C" PRIMARY KEY,
  hash text COLLATE "C" UNIQUE NOT NULL,
  capabilities text NOT NULL, -- JSON array of capability strings
  description text,
  created_at bigint NOT NULL,
  expires_at bigint,
  revoked_at bigint
);
CREATE INDEX tokens_by_created ON tokens (created_at, id);

-- Bumped by every token insert and revocation (in the same transaction): instances compare it with the
-- value their token cache was filled at, so a revocation made anywhere is seen everywhere.
CREATE TABLE token_version (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version bigint NOT NULL
);
INSERT INTO token_version (version) VALUES (0);
`,
  },
  {
    version: 2,
    description: 'queue_messages (durable queues: one row per message, by store and id)',
    sql: `
-- The durable queue of each store (the QueueMessage contract in @kv/engine's storage.ts): one row per
-- message, keyed (store_id, id); written in the store's transactions (the store row locked FOR UPDATE),
-- so one lease of a message at a time across every instance. The arrays are JSON text; ids compare by
-- bytes (COLLATE "C"), as keys do; the value is bytea (TOAST moves long ones out of line).
CREATE TABLE queue_messages (
  store_id bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  id text COLLATE "C" NOT NULL,
  visible_at bigint NOT NULL,
  lease_expires_at bigint,
  enqueued_at bigint NOT NULL,
  attempts integer NOT NULL,
  lease_id text COLLATE "C",
  content_type text NOT NULL,
  keys_if_undelivered text NOT NULL, -- JSON array of keys
  backoff_schedule_ms text NOT NULL, -- JSON array of delays, ms
  value bytea NOT NULL,
  PRIMARY KEY (store_id, id)
);
-- Due messages in delivery order (visible_at, then id) are a range of this index; with lease_expires_at
-- it also covers the counts of queueStats (an index-only scan where the visibility map allows).
CREATE INDEX queue_messages_due ON queue_messages (store_id, visible_at, id, lease_expires_at);
`,
  },
  {
    version: 3,
    description: 'token rate limits and their shared request counts',
    sql: `
-- A token's rate limit (docs/security.md "Rate limits"): both null (no limit, every token written before)
-- or both set.
ALTER TABLE tokens ADD COLUMN rate_limit_requests integer;
ALTER TABLE tokens ADD COLUMN rate_limit_per_seconds integer;

-- Requests of rate-limited tokens per fixed window, shared by every instance on the database: one
-- INSERT ... ON CONFLICT DO UPDATE ... RETURNING per request. Rows of ended windows are deleted by
-- PostgresTokenStore (window_end is indexed for it); no foreign key, so counting never locks a token row.
CREATE TABLE token_request_counts (
  token_id text COLLATE "C" NOT NULL,
  window_start bigint NOT NULL,
  window_end bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (token_id, window_start)
);
CREATE INDEX token_request_counts_by_end ON token_request_counts (window_end);
`,
  },
];
