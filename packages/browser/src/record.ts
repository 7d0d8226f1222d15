/**
 * The cached form of an entry and its conversions: from an entry response (headers + body bytes), from a
 * decoded value (watch events, bulk reads, write-through), to a decoded {@link KvEntry}, and back to the
 * response the protocol would send (for a `304 Not Modified`, which keeps the cached bytes). Header names
 * and their encodings are `@kv/core`'s `HEADERS` (docs/protocol.md "Entry headers").
 *
 * @module
 */
import {
  decodeValue,
  type EntryMeta,
  entryFromHeaders,
  entryToHeaders,
  formatEtag,
  HEADERS,
  isJsonContentType,
  type KvEntry,
  utf8Encode,
} from '@kv/core/protocol';

/**
 * One cached entry, as the IndexedDB cache stores it (per namespace, store and key). A record with
 * `present: false` is a tombstone: the key is known to have no live entry as of `revision`.
 */
export interface CacheRecord extends EntryMeta {
  /** The store the entry belongs to. */
  store: string;
  /** False for a tombstone (key known absent); the other entry fields are then placeholders. */
  present: boolean;
  /** The value bytes (empty for a tombstone). */
  bytes: Uint8Array;
  /**
   * True when `bytes` are the server's bytes. False when they were rebuilt from a decoded value (a JSON
   * value from a watch event or bulk read, re-serialized): decoded reads may use them, raw reads
   * (`getBytes`, `getText`, `getStream`) fetch the exact bytes.
   */
  exact: boolean;
  /** Strong ETag of the revision, `"<revision>"`; sent as `If-None-Match` to revalidate. */
  etag: string;
  /** When the record was last confirmed by the server (response, 304, or watch event), epoch ms. */
  cachedAt: number;
  /** When the record was last read or written, epoch ms: the LRU order of eviction. */
  lastAccess: number;
  /**
   * True while the record holds a write queued offline that the server has not applied yet; it is
   * served without revalidation and never evicted until the write is replayed.
   */
  pending: boolean;
}

/** A {@link CacheRecord} without the times the cache sets itself. */
export type NewCacheRecord = Omit<CacheRecord, 'cachedAt' | 'lastAccess'> & {
  cachedAt?: number;
  lastAccess?: number;
};

const UTF8_CHARSET = /;\s*charset\s*=\s*"?utf-?8"?\s*(;|$)/i;

/**
 * Builds a record from a `200` entry response (`GET /v1/stores/{store}/entries/{key}` or `.../ids/{id}`):
 * the fields are read by `@kv/core`'s `entryFromHeaders` (docs/protocol.md "Entry headers"), the value
 * is `bytes`.
 *
 * @param key - the key the request named, or `undefined` for a read by id (the key is then `Kv-Key`)
 * @returns the record, or `undefined` when the headers are not a readable entry (no revision, bad
 *   `Kv-Metadata`/`Kv-Scopes`/`Kv-Key`, or a read by id without `Kv-Key`): the client rejects such a
 *   response, so it is not cached either
 */
export function recordFromResponse(
  store: string,
  key: string | undefined,
  headers: Headers,
  bytes: Uint8Array,
): NewCacheRecord | undefined {
  let meta: EntryMeta;
  try {
    meta = entryFromHeaders(key, headers, bytes.byteLength);
  } catch {
    return undefined;
  }
  if (meta.key === '') return undefined;
  return {
    ...meta,
    store,
    present: true,
    bytes,
    exact: true,
    etag: formatEtag(meta.revision),
    pending: false,
  };
}

/**
 * Refreshes `record`'s fields in place from the entry headers of a `304 Not Modified` for the same
 * revision (the engine sends every entry header but `Content-Type` on a 304), read by `@kv/core`'s
 * `entryFromHeaders`. Headers without `Kv-Id` are not entry headers, and headers it cannot read are not
 * trusted: nothing changes then. Absent optional headers mean null (`Kv-Metadata`, `Kv-Expires-At`) or
 * empty (`Kv-Scopes`), as on a `200`.
 */
export function refreshFields(record: CacheRecord, headers: Headers): void {
  if (headers.get(HEADERS.id) === null) return;
  let meta: EntryMeta;
  try {
    meta = entryFromHeaders(record.key, headers, record.size);
  } catch {
    return;
  }
  record.id = meta.id;
  record.metadata = meta.metadata;
  record.scopes = meta.scopes;
  record.expiresAt = meta.expiresAt;
  if (headers.get(HEADERS.createdAt) !== null) record.createdAt = meta.createdAt;
  if (headers.get(HEADERS.updatedAt) !== null) record.updatedAt = meta.updatedAt;
  if (headers.get(HEADERS.resume) !== null) record.resume = meta.resume;
}

/**
 * The headers of the `200` response that {@link recordFromResponse} would read back into `record`
 * (`@kv/core`'s `entryToHeaders`, with `Kv-Key` and the cached bytes' `Content-Length`): used to answer
 * a request from the cache (a fresh hit, or a `304` that keeps the cached bytes).
 */
export function responseHeadersFor(record: CacheRecord): Headers {
  return new Headers(entryToHeaders({ ...metaOf(record), size: record.bytes.byteLength }));
}

/**
 * Rebuilds value bytes from a value decoded by `decodeValue` (watch events and bulk reads carry values
 * decoded already). Bytes and UTF-8 text round-trip exactly; a JSON value is re-serialized, which keeps
 * its meaning but not necessarily its bytes (whitespace, key order of the original text), so it is
 * marked inexact. Text in another charset cannot be rebuilt: `undefined`.
 */
export function bytesFromDecoded(
  value: unknown,
  contentType: string,
): { bytes: Uint8Array; exact: boolean } | undefined {
  if (value instanceof Uint8Array) return { bytes: value, exact: true };
  if (isJsonContentType(contentType)) {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : { bytes: utf8Encode(json), exact: false };
  }
  if (typeof value === 'string') {
    const hasCharset = /;\s*charset\s*=/i.test(contentType);
    if (hasCharset && !UTF8_CHARSET.test(contentType)) return undefined;
    return { bytes: utf8Encode(value), exact: true };
  }
  return undefined;
}

/** A record made from an entry's fields and its decoded value, or `undefined` when the bytes cannot be rebuilt. */
export function recordFromDecoded(
  store: string,
  meta: EntryMeta,
  value: unknown,
): NewCacheRecord | undefined {
  const rebuilt = bytesFromDecoded(value, meta.contentType);
  if (rebuilt === undefined) return undefined;
  return {
    store,
    key: meta.key,
    present: true,
    bytes: rebuilt.bytes,
    exact: rebuilt.exact,
    id: meta.id,
    revision: meta.revision,
    etag: formatEtag(meta.revision),
    contentType: meta.contentType,
    metadata: meta.metadata,
    scopes: [...meta.scopes],
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    expiresAt: meta.expiresAt,
    resume: meta.resume,
    size: meta.size,
    pending: false,
  };
}

/** A tombstone: `key` is known to have no live entry as of `revision`. */
export function tombstone(store: string, key: string, revision: number, pending = false): NewCacheRecord {
  return {
    store,
    key,
    present: false,
    bytes: new Uint8Array(0),
    exact: true,
    id: '',
    revision,
    etag: formatEtag(revision),
    contentType: 'application/octet-stream',
    metadata: null,
    scopes: [],
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    expiresAt: null,
    resume: false,
    size: 0,
    pending,
  };
}

/** The entry's fields (no value) of a present record. */
export function metaOf(record: CacheRecord): EntryMeta {
  return {
    key: record.key,
    id: record.id,
    revision: record.revision,
    contentType: record.contentType,
    metadata: record.metadata,
    scopes: [...record.scopes],
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    expiresAt: record.expiresAt,
    resume: record.resume,
    size: record.size,
  };
}

/** The decoded entry of a present record: value decoded by content type, as `getEntry` returns it. */
export function entryOf<T>(record: CacheRecord): KvEntry<T> {
  const value = decodeValue(record.bytes, record.contentType);
  // Binary values decode to the bytes themselves: hand out a copy, never the cached array.
  return { ...metaOf(record), value: (value === record.bytes ? record.bytes.slice() : value) as T };
}

/** True when the record has an `expiresAt` at or before `now` (expired entries are never returned). */
export function isExpired(record: CacheRecord, now: number): boolean {
  return record.expiresAt !== null && Date.parse(record.expiresAt) <= now;
}
