/**
 * HTTP plumbing of the engine: request ids, error responses, bounded body reading, path-segment
 * decoding, and the entry <-> header / JSON codecs of docs/protocol.md. Web-standard APIs only (no Node
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
  PayloadTooLargeError,
  toWireError,
  ValidationError,
  type WireEntry,
} from '@kv/core/protocol';
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
 * The JSON error response for `error` (any thrown value), via core's `toWireError`: a `KvError` keeps its
 * code, status and details; anything else is a 500 `internal` whose text is not exposed. The code is
 * repeated in the `Kv-Error-Code` header.
 *
 * @param error - what was thrown
 * @param extraHeaders - headers to add (e.g. `Allow` on 405)
 */
export function errorResponse(error: unknown, extraHeaders?: Record<string, string>): Response {
  const { status, body } = toWireError(error);
  const headers = new Headers({ 'content-type': JSON_CONTENT_TYPE, [HEADERS.errorCode]: body.error.code });
  if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
  const text = JSON.stringify(body);
  return remember(new Response(text, { status, headers }), status, Object.fromEntries(headers), text);
}

/** What a response built by this module carries, kept beside it (see {@link responseSnapshot}). */
export interface ResponseSnapshot {
  /** HTTP status. */
  status: number;
  /** Headers, lower-case names. */
  headers: Record<string, string>;
  /** The body as built (a JSON text here). */
  body: string;
}

const snapshots = new WeakMap<Response, ResponseSnapshot>();

function remember(res: Response, status: number, headers: Record<string, string>, body: string): Response {
  snapshots.set(res, { status, headers, body });
  return res;
}

/**
 * Status, headers and body of a response built by {@link jsonResponse} or {@link errorResponse}, read
 * without touching the response (no clone, no body stream): the idempotency guard stores them. Undefined
 * for any other response, or one changed by {@link withHeaders} since.
 */
export function responseSnapshot(res: Response): ResponseSnapshot | undefined {
  return snapshots.get(res);
}

/**
 * Adds headers to a response (replacing same-named ones), copying the response when its headers are
 * immutable (e.g. a `Response` from elsewhere).
 *
 * @returns `res` itself, or the copy
 */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  snapshots.delete(res);
  try {
    for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    for (const [k, v] of Object.entries(headers)) copy.headers.set(k, v);
    return copy;
  }
}

/** A JSON response with `status`. */
export function jsonResponse(body: unknown, status = 200, headers?: Record<string, string>): Response {
  // A plain record (lower-case names), not `Headers`: the Node adapter writes it as is, without building
  // and sorting a `Headers` list per response.
  const h: Record<string, string> =
    headers === undefined
      ? { 'content-type': JSON_CONTENT_TYPE }
      : { ...headers, 'content-type': JSON_CONTENT_TYPE };
  const text = JSON.stringify(body);
  return remember(new Response(text, { status, headers: h }), status, h, text);
}

/**
 * A property an adapter may set on a `Request` whose body it can read more cheaply than through
 * `Request.body`: the Node server reads the `IncomingMessage` directly instead of having a web stream
 * and a full undici `Request` built for it. Its value is a {@link BodyReader}; {@link readBodyLimited}
 * uses it when present. (`Symbol.for`, so adapters need not import the engine's copy.)
 */
export const READ_BODY: unique symbol = Symbol.for('kv.readBody');

/**
 * Reads a whole request body, stopping as soon as more than `limitBytes` arrived.
 *
 * @param limitBytes - largest accepted body, in bytes
 * @returns the bytes, or `null` when the body is larger than `limitBytes` (the rest is not buffered)
 * @throws whatever the transport fails with (e.g. the client aborting mid-body)
 */
export type BodyReader = (limitBytes: number) => Promise<Uint8Array | null>;

/**
 * Reads a request body into memory, refusing bodies over `limitBytes` before doing so: by
 * `Content-Length` up front, and otherwise (absent or lying header, streamed body) with a counting reader
 * that cancels the stream as soon as the count passes the limit, so an oversized body is never buffered
 * whole. An adapter's {@link READ_BODY} reader, when the request has one, replaces the stream.
 *
 * @param req - the request
 * @param limitBytes - largest accepted body, in bytes
 * @returns the body bytes (empty when the request has no body)
 * @throws {PayloadTooLargeError} 413 `payload_too_large`, `details: { limitBytes }`
 * @throws {ValidationError} 400 when `Content-Length` is not a decimal number
 */
export async function readBodyLimited(req: Request, limitBytes: number): Promise<Uint8Array> {
  const tooLarge = (): PayloadTooLargeError =>
    new PayloadTooLargeError(`Request body is larger than ${limitBytes} bytes`, {
      details: { field: 'body', limitBytes },
    });
  const declared = req.headers.get('content-length');
  if (declared !== null) {
    if (!/^\d{1,16}$/.test(declared.trim())) {
      throw new ValidationError('Content-Length must be a decimal number', {
        details: { field: 'Content-Length' },
      });
    }
    if (Number(declared) > limitBytes) throw tooLarge();
  }
  const read = (req as { [READ_BODY]?: BodyReader })[READ_BODY];
  if (typeof read === 'function') {
    const bytes = await read(limitBytes);
    if (bytes === null || bytes.byteLength > limitBytes) throw tooLarge();
    return bytes;
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
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
 * The raw (still percent-encoded) segments of a request URL's path, e.g.
 * `['v1', 'stores', 'orders', 'entries', 'a%2Fb']`. The router matched the route; the handlers decode the
 * segments themselves so an invalid escape is a 400 instead of being passed through undecoded.
 */
export function rawPathSegments(url: string): string[] {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  let end = url.length;
  const q = url.indexOf('?', start);
  if (q !== -1) end = q;
  const h = url.indexOf('#', start);
  if (h !== -1 && h < end) end = h;
  return url.slice(start + 1, end).split('/');
}

/** The bearer token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(req: Request): string | undefined {
  const auth = req.headers.get('authorization');
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
