/**
 * The cached form of an entry and its conversions: from an entry response (headers + body bytes), from a
 * decoded value (watch events, bulk reads, write-through), to a decoded {@link KvEntry}, and back to the
 * response the protocol would send (for a `304 Not Modified`, which keeps the cached bytes). Header names
 * and their encodings are `@kv/core`'s `HEADERS` (PRODUCT.md "Wire protocol").
 *
 * @module
 */
import {
  decodeValue,
  type EntryMeta,
  formatEtag,
  formatScopesHeader,
  HEADERS,
  isJsonContentType,
  type JsonObject,
  type KvEntry,
  parseEtag,
  parseScopesHeader,
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

function parseMetadata(value: string | null): JsonObject | null {
  if (value === null || value === '') return null;
  try {
    const parsed = JSON.parse(decodeURIComponent(value)) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as JsonObject)
      : null;
  } catch {
    return null;
  }
}

/**
 * Builds a record from a `200` entry response (`GET /v1/stores/{store}/entries/{key}`): the fields come
 * from `ETag`/`Kv-Revision`, `Kv-Id`, `Content-Type`, `Kv-Metadata`, `Kv-Scopes`, `Kv-Expires-At`,
 * `Kv-Created-At`, `Kv-Updated-At` and `Kv-Resume`; the value from `bytes`.
 *
 * @returns the record, or `undefined` when the response carries no revision (then it cannot be cached)
 */
export function recordFromResponse(
  store: string,
  key: string,
  headers: Headers,
  bytes: Uint8Array,
): NewCacheRecord | undefined {
  const fromHeader = headers.get(HEADERS.revision);
  const etag = parseEtag(headers.get('etag'));
  const revision = fromHeader !== null && /^\d+$/.test(fromHeader) ? Number(fromHeader) : etag;
  if (typeof revision !== 'number') return undefined;
  let scopes: string[];
  try {
    scopes = parseScopesHeader(headers.get(HEADERS.scopes));
  } catch {
    return undefined;
  }
  const updatedAt = headers.get(HEADERS.updatedAt) ?? new Date(0).toISOString();
  return {
    store,
    key,
    present: true,
    bytes,
    exact: true,
    id: headers.get(HEADERS.id) ?? '',
    revision,
    etag: formatEtag(revision),
    contentType: headers.get('content-type') ?? 'application/octet-stream',
    metadata: parseMetadata(headers.get(HEADERS.metadata)),
    scopes,
    createdAt: headers.get(HEADERS.createdAt) ?? updatedAt,
    updatedAt,
    expiresAt: headers.get(HEADERS.expiresAt) || null,
    resume: headers.get(HEADERS.resume) === 'true',
    size: bytes.byteLength,
    pending: false,
  };
}

/**
 * Refreshes `record`'s fields in place from the entry headers of a `304 Not Modified` for the same
 * revision (the engine sends every entry header but `Content-Type` on a 304). Headers without `Kv-Id`
 * are not entry headers: nothing changes. Absent optional headers mean null (`Kv-Metadata`,
 * `Kv-Expires-At`) or empty (`Kv-Scopes`), as on a `200`.
 */
export function refreshFields(record: CacheRecord, headers: Headers): void {
  const id = headers.get(HEADERS.id);
  if (id === null) return;
  record.id = id;
  record.metadata = parseMetadata(headers.get(HEADERS.metadata));
  try {
    record.scopes = parseScopesHeader(headers.get(HEADERS.scopes));
  } catch {
    // Keep the cached scopes rather than guess.
  }
  record.expiresAt = headers.get(HEADERS.expiresAt) || null;
  record.createdAt = headers.get(HEADERS.createdAt) ?? record.createdAt;
  record.updatedAt = headers.get(HEADERS.updatedAt) ?? record.updatedAt;
  const resume = headers.get(HEADERS.resume);
  if (resume !== null) record.resume = resume === 'true';
}

/**
 * The headers of the `200` response that {@link recordFromResponse} would read back into `record`: used
 * to answer a request from the cache (a fresh hit, or a `304` that keeps the cached bytes).
 */
export function responseHeadersFor(record: CacheRecord): Headers {
  const headers = new Headers({
    'content-type': record.contentType,
    'content-length': String(record.bytes.byteLength),
    etag: record.etag,
    [HEADERS.revision]: String(record.revision),
    [HEADERS.id]: record.id,
    [HEADERS.key]: record.key,
    [HEADERS.createdAt]: record.createdAt,
    [HEADERS.updatedAt]: record.updatedAt,
    [HEADERS.resume]: String(record.resume),
  });
  if (record.metadata !== null)
    headers.set(HEADERS.metadata, encodeURIComponent(JSON.stringify(record.metadata)));
  if (record.scopes.length > 0) headers.set(HEADERS.scopes, formatScopesHeader(record.scopes));
  if (record.expiresAt !== null) headers.set(HEADERS.expiresAt, record.expiresAt);
  return headers;
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
