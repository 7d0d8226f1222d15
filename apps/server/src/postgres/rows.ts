/**
 * Rows of the PostgreSQL schema (`schema.ts`) and their mapping to the engine's records.
 *
 * @module
 */
import { type JsonObject, type Operation, storedExpiresAtMs } from '@kv/core/protocol';
import type { ChangeRecord, StoredEntry } from '@kv/engine';
import { toBytes } from '../store-rows.js';

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
} from '../store-rows.js';

/** The columns of an `entries` row (also of `history` and `changes`, which add `operation`). */
export interface EntryRow {
  key: string;
  id: string;
  revision: number;
  content_type: string;
  metadata: string | null;
  scopes: string[];
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  resume: boolean;
  size: number;
  /** Absent when the statement did not load values. */
  value?: Uint8Array;
}

/** A row of `history` or `changes`. */
export interface ChangeRow extends EntryRow {
  operation: Operation;
}

/** The entry columns but the value, comma-separated, each prefixed with `alias.`. */
export function metaCols(alias: string): string {
  return [
    'key',
    'id',
    'revision',
    'content_type',
    'metadata',
    'scopes',
    'created_at',
    'updated_at',
    'expires_at',
    'resume',
    'size',
  ]
    .map((c) => `${alias}.${c}`)
    .join(', ');
}

/** The entry columns of `alias`, with the value or an empty one. */
export function entryCols(alias: string, values = true): string {
  return `${metaCols(alias)}, ${values ? `${alias}.value` : "'\\x'::bytea AS value"}`;
}

/** An `entries` row as the engine's {@link StoredEntry}. */
export function toEntry(row: EntryRow): StoredEntry {
  return {
    key: row.key,
    id: row.id,
    value: toBytes(row.value),
    contentType: row.content_type,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as JsonObject),
    scopes: row.scopes,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: storedExpiresAtMs(row.expires_at),
    resume: row.resume,
    size: row.size,
  };
}

/** A `history` or `changes` row as the engine's {@link ChangeRecord}. */
export function toChange(row: ChangeRow): ChangeRecord {
  return { ...toEntry(row), operation: row.operation };
}
