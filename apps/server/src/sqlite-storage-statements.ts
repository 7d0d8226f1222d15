/**
 * The SQL of `SqliteStorage`: row shapes and their mapping to the engine's records, scan SQL by shape,
 * and every prepared statement (tables in `schema.ts`).
 *
 * @module
 */
import { type JsonObject, type Operation, storedExpiresAtMs } from '@kv/core/protocol';
import type { ChangeRecord, StoredEntry } from '@kv/engine';
import type Database from 'better-sqlite3';
import { toBytes } from './store-rows.js';

export {
  isLive,
  messageParams,
  type QueueCountsRow,
  type QueueRow,
  type StoreRow,
  toBytes,
  toMessage,
  toQueueCounts,
  toStore,
} from './store-rows.js';

/** A row of `entries` (or the same columns of `history`/`changes`); `value` only when selected. */
export interface EntryRow {
  key: string;
  id: string;
  revision: number;
  content_type: string;
  metadata: string | null;
  scopes: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  resume: number;
  size: number;
  value?: Uint8Array;
}

/** A row of `history` or `changes`. */
export interface ChangeRow extends EntryRow {
  operation: Operation;
}

/** The empty value. */
export const EMPTY: Uint8Array = new Uint8Array(0);
/** Change rows are physically deleted once per this many revisions. */
export const TRIM_BATCH = 64;
const META_COLS =
  'key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size';
/** The columns of `queue_messages` after `store_id`, in the order of `messageParams` (store-rows.ts). */
const QUEUE_COLS =
  'id, visible_at, lease_expires_at, enqueued_at, attempts, lease_id, content_type, keys_if_undelivered, backoff_schedule_ms, value';
const RECORD_COLS = `store_id, key, revision, operation, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value`;
/**
 * The value of a row of `entries`, `history` or `changes` aliased `t`: inline, or from `blobs` when it
 * is longer than `INLINE_VALUE_MAX_BYTES` (schema.ts).
 */
const valueColumn = (t: string): string =>
  `CASE WHEN ${t}.blob_id IS NULL THEN ${t}.value ELSE (SELECT b.value FROM blobs b WHERE b.id = ${t}.blob_id) END AS value`;

/** A stored entry from its row. */
export function toEntry(row: EntryRow): StoredEntry {
  return {
    key: row.key,
    id: row.id,
    value: toBytes(row.value),
    contentType: row.content_type,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as JsonObject),
    scopes: JSON.parse(row.scopes) as string[],
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    // A value no reader can format (over the limits, or not a number) is clamped or read as none.
    expiresAt: storedExpiresAtMs(row.expires_at),
    resume: row.resume === 1,
    size: row.size,
  };
}

/** A history or change record from its row. */
export function toChange(row: ChangeRow): ChangeRecord {
  return { ...toEntry(row), operation: row.operation };
}

/** SQL of one scan shape (statements are cached per shape). */
export function scanSql(
  scoped: boolean,
  lowerOp: '>' | '>=' | undefined,
  upperOp: '<' | undefined,
  reverse: boolean,
  values: boolean,
): string {
  const t = scoped ? 'e.' : '';
  const k = scoped ? 's.key' : 'key';
  const cols = `${META_COLS.split(', ')
    .map((c) => t + c)
    .join(', ')}, ${values ? valueColumn(scoped ? 'e' : 'entries') : "X'' AS value"}`;
  const from = scoped
    ? 'entry_scopes s CROSS JOIN entries e ON e.store_id = s.store_id AND e.key = s.key'
    : 'entries';
  const where = [scoped ? 's.store_id = ? AND s.scope = ?' : 'store_id = ?'];
  if (lowerOp) where.push(`${k} ${lowerOp} ?`);
  if (upperOp) where.push(`${k} ${upperOp} ?`);
  where.push(`(${t}expires_at IS NULL OR ${t}expires_at > ?)`);
  return `SELECT ${cols} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${k} ${reverse ? 'DESC' : 'ASC'} LIMIT ?`;
}

/** Names of the single prepared statements (see {@link prepareStatements}). */
export type StatementName =
  | 'ping'
  | 'insertStore'
  | 'getStore'
  | 'getStoreId'
  | 'getStoreById'
  | 'listStores'
  | 'updateStore'
  | 'rotateSecret'
  | 'updateStoreCounters'
  | 'trimStoreHistory'
  | 'getWithStore'
  | 'getEntry'
  | 'getEntryMeta'
  | 'getById'
  | 'insertEntry'
  | 'overwriteEntry'
  | 'updateExpiry'
  | 'deleteEntry'
  | 'expiredEntries'
  | 'insertScope'
  | 'deleteScope'
  | 'firstScope'
  | 'nextScope'
  | 'scopeHasLive'
  | 'historyOf'
  | 'lastHistory'
  | 'historyFromEntry'
  | 'insertHistory'
  | 'trimHistory'
  | 'purgeHistory'
  | 'changeFromEntry'
  | 'insertChange'
  | 'changesAfter'
  | 'insertBlob'
  | 'minChange'
  | 'trimChanges'
  | 'getIdempotency'
  | 'putIdempotency'
  | 'deleteIdempotency'
  | 'deleteExpiredIdempotency'
  | 'getMessage'
  | 'dueMessages'
  | 'putMessage'
  | 'deleteMessage'
  | 'queueCounts';

/** The prepared statements of a `SqliteStorage`: one per name, and the deletes of a store's data. */
export type Statements = Record<StatementName, Database.Statement> & {
  /** Deletes every row of one store, table by table (the store row last). */
  deleteStoreData: Database.Statement[];
};

/** Prepares every fixed statement of the storage on `db`. */
export function prepareStatements(db: Database.Database): Statements {
  const p = (sql: string): Database.Statement => db.prepare(sql);
  return {
    // Reads the stores table itself (not its covering name index; SELECT 1 would read nothing).
    ping: p('SELECT revision FROM stores LIMIT 1'),
    insertStore: p(
      `INSERT INTO stores (name, history, default_ttl_ms, max_value_bytes, created_at, updated_at, signing_secret)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ),
    getStore: p('SELECT * FROM stores WHERE name = ?'),
    getStoreId: p('SELECT id FROM stores WHERE name = ?'),
    getStoreById: p('SELECT * FROM stores WHERE id = ?'),
    listStores: p('SELECT * FROM stores ORDER BY name'),
    updateStore: p(
      `UPDATE stores SET history = ?, default_ttl_ms = ?, max_value_bytes = ?, updated_at = ? WHERE id = ? RETURNING *`,
    ),
    rotateSecret: p('UPDATE stores SET signing_secret = ?, updated_at = ? WHERE name = ? RETURNING *'),
    updateStoreCounters: p(
      'UPDATE stores SET revision = ?, key_count = key_count + ?, total_bytes = total_bytes + ? WHERE id = ?',
    ),
    deleteStoreData: [
      p('DELETE FROM entry_scopes WHERE store_id = ?'),
      p('DELETE FROM entries WHERE store_id = ?'),
      p('DELETE FROM history WHERE store_id = ?'),
      p('DELETE FROM changes WHERE store_id = ?'),
      p('DELETE FROM queue_messages WHERE store_id = ?'),
      p('DELETE FROM stores WHERE id = ?'),
    ],
    // Keeps, per key, the newest `depth` rows minus one when the key has a live entry (that is its newest revision).
    trimStoreHistory: p(
      `DELETE FROM history WHERE (store_id, key, revision) IN (
         SELECT ranked.store_id, ranked.key, ranked.revision FROM (
           SELECT store_id, key, revision,
                  row_number() OVER (PARTITION BY key ORDER BY revision DESC) AS rn
           FROM history WHERE store_id = ?
         ) ranked
         WHERE ranked.rn > ? - EXISTS (
           SELECT 1 FROM entries e WHERE e.store_id = ranked.store_id AND e.key = ranked.key))`,
    ),

    getWithStore: p(
      `SELECT s.id AS sid, ${META_COLS.split(', ')
        .map((c) => `e.${c}`)
        .join(', ')}, ${valueColumn('e')}
       FROM stores s LEFT JOIN entries e ON e.store_id = s.id AND e.key = ? WHERE s.name = ?`,
    ),
    getEntry: p(`SELECT ${META_COLS}, ${valueColumn('e')} FROM entries e WHERE store_id = ? AND key = ?`),
    getEntryMeta: p(`SELECT ${META_COLS} FROM entries WHERE store_id = ? AND key = ?`),
    getById: p(`SELECT ${META_COLS}, ${valueColumn('e')} FROM entries e WHERE store_id = ? AND id = ?`),
    insertEntry: p(
      `INSERT INTO entries (store_id, key, id, revision, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    overwriteEntry: p(
      `UPDATE entries SET revision = ?, content_type = ?, metadata = ?, scopes = ?,
       updated_at = ?, expires_at = ?, resume = ?, size = ?, value = ?, blob_id = ? WHERE store_id = ? AND key = ?`,
    ),
    updateExpiry: p(
      'UPDATE entries SET revision = ?, updated_at = ?, expires_at = ? WHERE store_id = ? AND key = ?',
    ),
    deleteEntry: p('DELETE FROM entries WHERE store_id = ? AND key = ?'),
    // Oldest expiry first, ties by store name then key bytes (the order MemoryStorage sweeps in).
    expiredEntries: p(
      `SELECT s.name AS store, e.key, e.expires_at AS expiresAt
       FROM entries e JOIN stores s ON s.id = e.store_id
       WHERE e.expires_at IS NOT NULL AND e.expires_at <= ? ORDER BY e.expires_at, s.name, e.key LIMIT ?`,
    ),

    insertScope: p('INSERT OR IGNORE INTO entry_scopes (store_id, scope, key) VALUES (?, ?, ?)'),
    deleteScope: p('DELETE FROM entry_scopes WHERE store_id = ? AND scope = ? AND key = ?'),
    firstScope: p('SELECT scope FROM entry_scopes WHERE store_id = ? ORDER BY scope LIMIT 1'),
    nextScope: p('SELECT scope FROM entry_scopes WHERE store_id = ? AND scope > ? ORDER BY scope LIMIT 1'),
    scopeHasLive: p(
      `SELECT 1 FROM entry_scopes s CROSS JOIN entries e ON e.store_id = s.store_id AND e.key = s.key
       WHERE s.store_id = ? AND s.scope = ? AND (e.expires_at IS NULL OR e.expires_at > ?) LIMIT 1`,
    ),

    historyOf: p(
      `SELECT ${META_COLS}, operation, ${valueColumn('h')} FROM history h WHERE store_id = ? AND key = ?
       ORDER BY revision DESC LIMIT ?`,
    ),
    lastHistory: p(
      `SELECT ${META_COLS}, operation FROM history WHERE store_id = ? AND key = ? ORDER BY revision DESC LIMIT 1`,
    ),
    historyFromEntry: p(
      `INSERT INTO history (${RECORD_COLS}, blob_id)
       SELECT store_id, key, revision, ?, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id
       FROM entries WHERE store_id = ? AND key = ?`,
    ),
    insertHistory: p(
      `INSERT INTO history (${RECORD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Keeps the newest `?` rows of one key.
    trimHistory: p(
      `DELETE FROM history WHERE store_id = ? AND key = ? AND revision <= (
         SELECT revision FROM history WHERE store_id = ? AND key = ? ORDER BY revision DESC LIMIT 1 OFFSET ?)`,
    ),
    purgeHistory: p('DELETE FROM history WHERE store_id = ? AND key = ?'),

    changeFromEntry: p(
      `INSERT INTO changes (${RECORD_COLS}, blob_id)
       SELECT store_id, key, revision, ?, id, content_type, metadata, scopes, created_at, updated_at, expires_at, resume, size, value, blob_id
       FROM entries WHERE store_id = ? AND key = ?`,
    ),
    insertChange: p(`INSERT INTO changes (${RECORD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    changesAfter: p(
      `SELECT ${META_COLS}, operation, ${valueColumn('c')} FROM changes c WHERE store_id = ? AND revision > ?
       ORDER BY revision LIMIT ?`,
    ),
    insertBlob: p('INSERT INTO blobs (value) VALUES (?)'),
    minChange: p('SELECT min(revision) AS rev FROM changes WHERE store_id = ?'),
    trimChanges: p('DELETE FROM changes WHERE store_id = ? AND revision <= ?'),

    getIdempotency: p('SELECT * FROM idempotency WHERE scope_key = ?'),
    putIdempotency: p(
      `INSERT INTO idempotency (scope_key, fingerprint, status, headers, body, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (scope_key) DO NOTHING`,
    ),
    deleteIdempotency: p('DELETE FROM idempotency WHERE scope_key = ? AND expires_at = ?'),
    deleteExpiredIdempotency: p(
      `DELETE FROM idempotency WHERE scope_key IN (
         SELECT scope_key FROM idempotency WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),

    // Queue messages (schema version 4); the columns after store_id are those of `messageParams`.
    getMessage: p(`SELECT ${QUEUE_COLS} FROM queue_messages WHERE store_id = ? AND id = ?`),
    // A range of queue_messages_due, already in delivery order.
    dueMessages: p(
      `SELECT ${QUEUE_COLS} FROM queue_messages WHERE store_id = ? AND visible_at <= ?
       ORDER BY visible_at, id LIMIT ?`,
    ),
    putMessage: p(
      `INSERT INTO queue_messages (store_id, ${QUEUE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (store_id, id) DO UPDATE SET visible_at = excluded.visible_at,
         lease_expires_at = excluded.lease_expires_at, enqueued_at = excluded.enqueued_at,
         attempts = excluded.attempts, lease_id = excluded.lease_id, content_type = excluded.content_type,
         keys_if_undelivered = excluded.keys_if_undelivered,
         backoff_schedule_ms = excluded.backoff_schedule_ms, value = excluded.value`,
    ),
    deleteMessage: p('DELETE FROM queue_messages WHERE store_id = ? AND id = ?'),
    // The QueueCounts definitions (storage.ts) at "now" = the first parameter; covered by queue_messages_due.
    queueCounts: p(
      `SELECT
         sum(q.visible_at <= n.now AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= n.now)) AS ready,
         sum(q.visible_at > n.now AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= n.now)) AS delayed,
         sum(q.lease_expires_at IS NOT NULL AND q.lease_expires_at > n.now) AS in_flight,
         min(q.visible_at) AS next_visible_at
       FROM (SELECT ? AS now) n CROSS JOIN queue_messages q WHERE q.store_id = ?`,
    ),
  };
}
