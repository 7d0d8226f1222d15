/**
 * What the server's SQL storages (SQLite, PostgreSQL) share about rows: the `stores` row and its
 * mapping to the engine's `StoreRecord`, the liveness test of an entry row (docs/protocol.md
 * "Expiry": an entry whose `expiresAt` has passed counts as absent), and the `queue_messages` row and
 * its mapping to the engine's `QueueMessage`. Both schemas name these columns alike
 * (`apps/server/src/schema.ts`, `apps/server/src/postgres/schema.ts`).
 *
 * @module
 */
import type { QueueCounts, QueueMessage, StoreRecord } from '@kv/engine';

/** The columns of a `stores` row; times are epoch ms, sizes bytes. */
export interface StoreRow {
  id: number;
  name: string;
  history: number;
  default_ttl_ms: number | null;
  max_value_bytes: number;
  revision: number;
  key_count: number;
  total_bytes: number;
  created_at: number;
  updated_at: number;
  signing_secret: string;
}

/** A `stores` row as the engine's {@link StoreRecord}. */
export function toStore(row: StoreRow): StoreRecord {
  return {
    name: row.name,
    history: row.history,
    defaultTtlMs: row.default_ttl_ms,
    maxValueBytes: row.max_value_bytes,
    revision: row.revision,
    keyCount: row.key_count,
    totalBytes: row.total_bytes,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    signingSecret: row.signing_secret,
  };
}

/**
 * Whether an entry row exists and is live at `nowMs` (no expiry, or one still ahead).
 *
 * @param row - any row with an `expires_at` column (epoch ms or null), or undefined
 * @param nowMs - "now", epoch ms
 */
export function isLive<R extends { expires_at: number | null }>(row: R | undefined, nowMs: number): row is R {
  return row !== undefined && (row.expires_at === null || row.expires_at > nowMs);
}

/**
 * The columns of a `queue_messages` row (one durable queue message; the `QueueMessage` contract in
 * `@kv/engine`'s `storage.ts`): times epoch ms, the two arrays as JSON text, the value as bytes.
 */
export interface QueueRow {
  id: string;
  visible_at: number;
  lease_expires_at: number | null;
  enqueued_at: number;
  attempts: number;
  lease_id: string | null;
  content_type: string;
  /** JSON array of keys. */
  keys_if_undelivered: string;
  /** JSON array of delays in ms. */
  backoff_schedule_ms: string;
  value: Uint8Array;
}

/** A `queue_messages` row as the engine's {@link QueueMessage} (the value is a view of the row's bytes, no copy). */
export function toMessage(row: QueueRow): QueueMessage {
  return {
    id: row.id,
    value: toBytes(row.value),
    contentType: row.content_type,
    enqueuedAt: row.enqueued_at,
    visibleAt: row.visible_at,
    attempts: row.attempts,
    leaseId: row.lease_id,
    leaseExpiresAt: row.lease_expires_at,
    keysIfUndelivered: JSON.parse(row.keys_if_undelivered) as string[],
    backoffScheduleMs: JSON.parse(row.backoff_schedule_ms) as number[],
  };
}

/**
 * The columns of `queue_messages` after `store_id`, in the order of {@link QueueRow}, as the values to
 * bind for `message` (the arrays as JSON text).
 */
export function messageParams(message: QueueMessage): unknown[] {
  return [
    message.id,
    message.visibleAt,
    message.leaseExpiresAt,
    message.enqueuedAt,
    message.attempts,
    message.leaseId,
    message.contentType,
    JSON.stringify(message.keysIfUndelivered),
    JSON.stringify(message.backoffScheduleMs),
    message.value,
  ];
}

/** The counts row of a queue (`ready`, `delayed`, `in_flight`, `next_visible_at`), as SQL aggregates answer it. */
export interface QueueCountsRow {
  ready: number | null;
  delayed: number | null;
  in_flight: number | null;
  next_visible_at: number | null;
}

/** A counts row as the engine's {@link QueueCounts} (an aggregate over no rows answers null: 0). */
export function toQueueCounts(row: QueueCountsRow | undefined): QueueCounts {
  return {
    ready: row?.ready ?? 0,
    delayed: row?.delayed ?? 0,
    inFlight: row?.in_flight ?? 0,
    nextVisibleAt: row?.next_visible_at ?? null,
  };
}

const EMPTY_BYTES = new Uint8Array(0);

/**
 * A plain `Uint8Array` view of a driver's `Buffer` (better-sqlite3 and `pg` both answer them), with no
 * copy; empty when absent.
 */
export function toBytes(buf: Uint8Array | undefined): Uint8Array {
  if (!buf || buf.byteLength === 0) return EMPTY_BYTES;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
