/**
 * HTTP plumbing of the engine: request ids, JSON and error results, path-segment decoding, and the entry <-> header / JSON codecs of docs/protocol.md. Web-standard APIs only (no Node
 * built-ins): the engine also runs inside msw in a browser.
 *
 * @module
 */
import {
  bytesToBase64,
  clampEpochMs,
  type EntryHeaderFields,
  entryToHeaders,
  HEADERS,
  JSON_CONTENT_TYPE,
  RateLimitedError,
  toWireError,
  ValidationError,
  type WireEntry,
} from '@kv/core/protocol';
import type { EngineResult } from './pipeline.js';
import { retryAfterSeconds } from './rate-limit.js';
import { sha256HexSync } from './sha256.js';
import type { ChangeRecord, StoredEntry, StoreRecord } from './storage.js';

/** Inputs up to this many bytes are hashed synchronously by {@link sha256Hex} (JS SHA-256 ~25 µs at 4 KiB). */
const SYNC_HASH_MAX_BYTES = 4 * 1024;

/** A request id we accept from a client: 1-128 of `A-Z a-z 0-9 . _ : -`. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of a request: the incoming `Kv-Request-Id` when it is well formed, else a new UUID.
 *
 * @param incoming - the `Kv-Request-Id` request header, if any
 */
export function pickRequestId(incoming: string | null | undefined): string {
  return incoming != null && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/**
 * The JSON error result for `error` (any thrown value), via core's `toWireError`: a `KvError` keeps its
 * code, status and details; anything else is a 500 `internal` whose text is not exposed. The code is
 * repeated in the `Kv-Error-Code` header, and a `RateLimitedError`'s wait in `Retry-After`.
 *
 * @param error - what was thrown
 * @param extraHeaders - headers to add (e.g. `Allow` on 405)
 */
export function errorResult(error: unknown, extraHeaders?: Record<string, string>): EngineResult {
  const { status, body } = toWireError(error);
  const headers: Record<string, string> = {
    'content-type': JSON_CONTENT_TYPE,
    [HEADERS.errorCode]: body.error.code,
  };
  // A 429 says when to come back (RFC 6585 section 4): whole seconds, rounded up.
  if (error instanceof RateLimitedError && error.retryAfterMs !== undefined) {
    headers['retry-after'] = retryAfterSeconds(error.retryAfterMs);
  }
  if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) headers[k.toLowerCase()] = v;
  return { status, headers, body: JSON.stringify(body) };
}

/**
 * A JSON result with `status`.
 *
 * @param body - serialized with `JSON.stringify`
 * @param headers - extra headers, lower-case names
 */
export function jsonResult(body: unknown, status = 200, headers?: Record<string, string>): EngineResult {
  const h: Record<string, string> =
    headers === undefined
      ? { 'content-type': JSON_CONTENT_TYPE }
      : { ...headers, 'content-type': JSON_CONTENT_TYPE };
  return { status, headers: h, body: JSON.stringify(body) };
}

/** True when `contentType` is JSON (`application/json`, `application/*+json`, with parameters). */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence);
}

/**
 * Decodes one percent-encoded path segment strictly (`decodeURIComponent`).
 *
 * @param segment - the raw segment
 * @param field - the name reported in errors (`key`, `store`, `id`)
 * @throws {ValidationError} 400 with `details: { field, reason: 'invalid_encoding' }` on a malformed escape
 *   or an escape that is not UTF-8
 */
export function decodeSegment(segment: string, field: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError(`Invalid percent-encoding in ${field}`, {
      details: { field, reason: 'invalid_encoding' },
    });
  }
}

/**
 * The bearer token of `Authorization: Bearer <token>`, or undefined.
 *
 * @param auth - the `Authorization` request header, if any
 */
export function bearerToken(auth: string | undefined): string | undefined {
  if (!auth) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return m ? m[1] : undefined;
}

/**
 * ISO 8601 of an epoch-ms time, as every engine reader writes times (JSON entries, entry headers, watch
 * events, store info). Never throws: a time outside 1970-01-01 to 9999-12-31T23:59:59.999Z (an
 * out-of-range expiry already in a storage file) is clamped into it with core's `clampEpochMs`
 * (docs/security.md "Limits against hostile clients"), where `new Date(ms).toISOString()` would throw
 * a `RangeError` past 8.64e15 ms and answer 500.
 */
export function iso(ms: number): string {
  return new Date(clampEpochMs(ms)).toISOString();
}

/** ISO 8601 or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}

/**
 * Converts a stored entry to its wire JSON (`WireEntry` in core).
 *
 * @param entry - the entry
 * @param includeValue - add `value`, base64 of the bytes
 */
export function toWireEntry(entry: StoredEntry, includeValue: boolean): WireEntry {
  const out: WireEntry = {
    key: entry.key,
    id: entry.id,
    revision: entry.revision,
    contentType: entry.contentType,
    metadata: entry.metadata,
    scopes: entry.scopes,
    createdAt: iso(entry.createdAt),
    updatedAt: iso(entry.updatedAt),
    expiresAt: isoOrNull(entry.expiresAt),
    resume: entry.resume,
    size: entry.size,
  };
  if (includeValue) out.value = bytesToBase64(entry.value);
  return out;
}

/** Converts a history record to its wire JSON (`WireHistoryItem`); tombstones carry no `value`. */
export function toWireHistoryItem(
  record: ChangeRecord,
  includeValue: boolean,
): WireEntry & { operation: ChangeRecord['operation'] } {
  return { ...toWireEntry(record, includeValue && record.operation === 'put'), operation: record.operation };
}

/** Wire JSON of a store (`StoreInfo`). The signing secret is never exposed. */
export function toStoreInfo(store: StoreRecord): {
  name: string;
  history: number;
  defaultTtlMs: number | null;
  maxValueBytes: number;
  revision: number;
  keyCount: number;
  totalBytes: number;
  createdAt: string;
  updatedAt: string;
} {
  return {
    name: store.name,
    history: store.history,
    defaultTtlMs: store.defaultTtlMs,
    maxValueBytes: store.maxValueBytes,
    revision: store.revision,
    keyCount: store.keyCount,
    totalBytes: store.totalBytes,
    createdAt: iso(store.createdAt),
    updatedAt: iso(store.updatedAt),
  };
}

/**
 * The response headers describing a stored entry: core's `entryToHeaders` (docs/protocol.md "Entry
 * headers") with the epoch-ms times in ISO 8601.
 *
 * @param entry - the stored entry
 * @param withKey - also send `Kv-Key` (reads by id, where the request does not name the key)
 * @returns a plain record of lower-case header names, without `Content-Length`
 */
export function entryHeaders(entry: StoredEntry, withKey = false): Record<string, string> {
  const fields: EntryHeaderFields = {
    id: entry.id,
    revision: entry.revision,
    contentType: entry.contentType,
    metadata: entry.metadata,
    scopes: entry.scopes,
    createdAt: iso(entry.createdAt),
    updatedAt: iso(entry.updatedAt),
    expiresAt: entry.expiresAt === null ? null : iso(entry.expiresAt),
    resume: entry.resume,
  };
  if (withKey) fields.key = entry.key;
  return entryToHeaders(fields);
}

/**
 * Whether an `If-None-Match` request header matches `revision` (RFC 9110 section 13.1.2, weak
 * comparison): `*`, or a comma-separated list of entity tags one of which is `"<revision>"`.
 */
export function ifNoneMatchHits(header: string | null | undefined, revision: number): boolean {
  if (header == null) return false;
  const v = header.trim();
  if (v === '*') return true;
  for (const part of v.split(',')) {
    const m = /^(?:W\/)?"(\d{1,15})"$/.exec(part.trim());
    if (m && Number(m[1]) === revision) return true;
  }
  return false;
}

/** Hex of SHA-256 over `data` (Web Crypto). */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  // Small inputs: the synchronous JS digest (a few µs) beats Web Crypto's thread-pool round trip (~50 µs
  // on Node 20); large ones go to Web Crypto, off the event loop.
  if (
    typeof data === 'string' ? data.length <= SYNC_HASH_MAX_BYTES / 3 : data.byteLength <= SYNC_HASH_MAX_BYTES
  )
    return sha256HexSync(data);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let out = '';
  for (const b of digest) out += b.toString(16).padStart(2, '0');
  return out;
}
