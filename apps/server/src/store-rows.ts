/**
 * What the server's SQL storages (SQLite, PostgreSQL) share about rows: the `stores` row and its
 * mapping to the engine's `StoreRecord`, and the liveness test of an entry row (docs/protocol.md
 * "Expiry": an entry whose `expiresAt` has passed counts as absent). Both schemas name these columns
 * alike (`apps/server/src/schema.ts`, `apps/server/src/postgres/schema.ts`).
 *
 * @module
 */
import type { StoreRecord } from '@kv/engine';

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
